"""``MultiHeadAttention`` (Keras 3) and the ``EinsumDense`` projections it is built from.

Weights exactly as Keras: ``query``/``key``/``value`` kernels (dim, heads, key_dim) with biases
(heads, key_dim), ``attention_output`` kernel (heads, value_dim, dim) with bias (dim,), under
``multi_head_attention/<projection>/{kernel,bias}`` (plus ``gate`` with ``use_gate=True``).
The attention itself is the fused ``core.ops.scaled_dot_product_attention``.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import re

import numpy as np

from .. import activations, constraints, initializers, ops, regularizers
from ..autodiff import Tensor
from ..ops.linalg import dense as dense_op
from .base import Layer, OutputSpec, build_sublayer, clone_initializer, name_scope, own_scope


# --------------------------------------------------------------------------- EinsumDense
def _parse_dense_equation(equation):
    """Split ``'<batch><contracted>,<contracted><new>-><batch><new>'`` into (batch, contracted, new)
    letter strings (``batch`` may start with ``...``), or raise ValueError."""
    m = re.fullmatch(r"\s*((?:\.\.\.)?[a-zA-Z]*)\s*,\s*([a-zA-Z]+)\s*->\s*((?:\.\.\.)?[a-zA-Z]*)\s*", str(equation))
    if m is None:
        raise ValueError(f"EinsumDense: cannot parse equation {equation!r}; expected 'input,kernel->output'")
    inp, ker, out = m.groups()
    contracted = "".join(c for c in inp.replace("...", "") if c in ker and c not in out)
    k = len(contracted)
    batch = inp[:len(inp) - k] if k else None
    new = ker[k:]
    letters = inp.replace(".", "") + new
    if (k == 0 or not inp.endswith(contracted) or not ker.startswith(contracted) or out != batch + new
            or any(c in batch for c in ker) or len(set(letters)) != len(letters)):
        raise ValueError(f"EinsumDense: only equations of the dense form '<batch><contracted>,<contracted><new>->"
                         f"<batch><new>' (e.g. 'abc,cde->abde', as MultiHeadAttention uses) are supported, "
                         f"got {equation!r}")
    return batch, contracted, new


class EinsumDense(Layer):
    """A dense projection written as an einsum equation (Keras ``EinsumDense``), for equations
    that contract trailing input axes with leading kernel axes: ``'abc,cde->abde'`` maps
    (B, T, d) to (B, T, heads, key_dim) with a kernel (d, heads, key_dim). ``output_shape`` is
    the output shape without the batch axis (None entries are taken from the input);
    ``bias_axes`` names the output letters the bias spans (Keras's broadcasting bias shape)."""

    def __init__(self, equation, output_shape, activation=None, bias_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None, **kwargs):
        kwargs.pop("gptq_unpacked_column_size", None)
        kwargs.pop("quantization_config", None)
        super().__init__(**kwargs)
        if lora_rank:
            raise ValueError(f"EinsumDense '{self.name}': LoRA (lora_rank) is not supported")
        self.equation = equation
        self._batch, self._contracted, self._new = _parse_dense_equation(equation)
        if isinstance(output_shape, (int, np.integer)):
            output_shape = (int(output_shape),)
        self.partial_output_shape = tuple(None if d is None else int(d) for d in output_shape)
        n_out = len(self.partial_output_shape)
        if n_out < len(self._new) or any(d is None for d in self.partial_output_shape[n_out - len(self._new):]):
            raise ValueError(f"EinsumDense '{self.name}': output_shape {tuple(output_shape)} must give the sizes of "
                             f"the new output axes {self._new!r} of {equation!r}")
        if bias_axes is not None:
            out_letters = (self._batch + self._new).replace("...", "")
            bad = [c for c in bias_axes if c not in out_letters]
            if bad:
                raise ValueError(f"EinsumDense '{self.name}': bias_axes {bias_axes!r} must be output letters of "
                                 f"{equation!r}")
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.kernel = self.bias = None
        self.full_output_shape = None

    @property
    def _new_dims(self):
        return self.partial_output_shape[len(self.partial_output_shape) - len(self._new):]

    def _full_output_shape(self, input_shape):
        k = len(self._contracted)
        fixed = len(self._batch.replace("...", ""))
        if len(input_shape) < k + fixed or ("..." not in self._batch and len(input_shape) != k + fixed):
            raise ValueError(f"EinsumDense '{self.name}': input shape {tuple(input_shape)} does not fit the equation "
                             f"{self.equation!r}")
        return tuple(input_shape[:len(input_shape) - k]) + tuple(self._new_dims)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        full = self._full_output_shape(input_shape)
        k = len(self._contracted)
        cdims = input_shape[len(input_shape) - k:]
        if any(d is None for d in cdims):
            raise ValueError(f"EinsumDense '{self.name}': the contracted input axes must be known, got input shape "
                             f"{input_shape}")
        self.full_output_shape = full
        self.kernel = self.add_weight(tuple(cdims) + tuple(self._new_dims), self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.bias_axes:
            out_spec = self._batch + self._new
            if "..." in out_spec:  # letters after the ellipsis align with the trailing output axes
                letters = out_spec.replace("...", "")
                offset = len(full) - len(letters)
            else:
                letters, offset = out_spec, 0
            first = min(letters.index(c) for c in self.bias_axes)
            shape = []
            for i in range(first, len(letters)):
                c = letters[i]
                d = full[offset + i] if c in self.bias_axes else 1
                if d is None:
                    raise ValueError(f"EinsumDense '{self.name}': the output axis {c!r} spanned by the bias must "
                                     f"have a known size, got output shape {full}")
                shape.append(d)
            self.bias = self.add_weight(tuple(shape), self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs, training=None):
        k = len(self._contracted)
        shape = tuple(inputs.shape)
        lead = shape[:len(shape) - k]
        c = int(np.prod(shape[len(shape) - k:]))
        new = tuple(self.kernel.shape[k:])
        x = ops.reshape(inputs, lead + (c,))
        n = int(np.prod(new))
        kernel = ops.reshape(self.kernel, (c, n))
        if self.bias is None or tuple(self.bias.shape) == new:
            # a bias spanning exactly the new axes: one fused matmul + bias + activation node
            bias = None if self.bias is None else ops.reshape(self.bias, (n,))
            y = ops.reshape(dense_op(x, kernel, bias, self.activation), lead + new)
        else:
            y = ops.reshape(ops.matmul(x, kernel), lead + new) + self.bias
            y = self.activation(y)
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(y))
        return y

    def compute_output_shape(self, input_shape):
        return self._full_output_shape(tuple(input_shape))

    def get_config(self):
        return {**super().get_config(), "output_shape": list(self.partial_output_shape), "equation": self.equation,
                "activation": activations.serialize(self.activation), "bias_axes": self.bias_axes,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


def _proj_equation(free_dims, bound_dims, output_dims):
    """Keras's ``_build_proj_equation``: (equation, bias_axes, output rank)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = 0
    inp = ker = out = ""
    for _ in range(free_dims):
        inp += letters[i]
        out += letters[i]
        i += 1
    for _ in range(bound_dims):
        inp += letters[i]
        ker += letters[i]
        i += 1
    bias = ""
    for _ in range(output_dims):
        ker += letters[i]
        out += letters[i]
        bias += letters[i]
        i += 1
    return f"{inp},{ker}->{out}", bias, len(out)


# --------------------------------------------------------------------------- MultiHeadAttention
def _bool_array(name, m, like, owner):
    xp = like.xp
    a = xp.asarray(m.data if isinstance(m, Tensor) else m)
    if a.dtype != bool:
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{owner}: {name} must be boolean (True = attend), got dtype {a.dtype}")
        a = a > 0.5 if a.dtype.kind == "f" else a != 0
    return a


class MultiHeadAttention(Layer):
    """Multi-head attention (Keras 3 ``MultiHeadAttention``).

    ``call(query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
    attention_mask=None, return_attention_scores=False, training=None, use_causal_mask=False)``.
    Inputs are (B, T, dim) (or (B, T1, ..., dim): attention over all axes between batch and
    features, the Keras default; other ``attention_axes`` are refused). Masks are True = attend:
    the Keras masks of query/value/key (e.g. from ``Embedding(mask_zero=True)``) are used when
    the ``*_mask`` arguments are not given; query (B,T,1), value/key (B,1,S), the causal
    (top-left aligned lower triangle) and ``sliding_window`` masks and ``attention_mask``
    (broadcastable to (B,T,S)) are and-ed, as Keras ``_compute_attention_mask``.

    As in Keras 3.15, a query row whose keys are ALL masked attends uniformly to every key when
    the layer takes the fused path (no dropout, no ``return_attention_scores``, rank-3 inputs),
    and gets zero weights (a zero attention result) otherwise. Scores are returned before dropout.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        for arg, v, none_ok in (("num_heads", num_heads, False), ("key_dim", key_dim, False),
                                ("value_dim", value_dim, True)):
            bad_int = v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0)
            if (v is None and not none_ok) or bad_int:
                raise ValueError(f"MultiHeadAttention: {arg} must be a positive integer"
                                 f"{' or None' if none_ok else ''}, got {v!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must be a float in [0, 1), got {dropout!r}")
        sw = sliding_window
        if sw is not None and (isinstance(sw, bool) or not isinstance(sw, (int, np.integer)) or sw <= 0):
            raise ValueError(f"MultiHeadAttention: sliding_window must be None or a positive integer, "
                             f"got {sliding_window!r}")
        super().__init__(**kwargs)
        self.supports_masking = True
        self._num_heads = int(num_heads)
        self._key_dim = int(key_dim)
        self._value_dim = int(value_dim) if value_dim else int(key_dim)
        self._dropout = float(dropout)
        self._use_bias = bool(use_bias)
        self._use_gate = bool(use_gate)
        if output_shape:
            if isinstance(output_shape, (int, np.integer)):
                output_shape = (int(output_shape),)
            try:
                output_shape = tuple(int(d) for d in output_shape)
            except (TypeError, ValueError):
                raise ValueError(f"MultiHeadAttention: output_shape must be an int or a tuple of ints, "
                                 f"got {output_shape!r}") from None
        else:
            output_shape = None
        self._output_shape = output_shape
        if isinstance(attention_axes, (int, np.integer)):
            attention_axes = (int(attention_axes),)
        elif attention_axes is not None:
            if not isinstance(attention_axes, (list, tuple)):
                raise ValueError(f"MultiHeadAttention: attention_axes must be an int, list or tuple, "
                                 f"got {attention_axes!r}")
            attention_axes = tuple(int(a) for a in attention_axes)
        self._attention_axes = attention_axes
        self._sliding_window = None if sliding_window is None else int(sliding_window)
        self._flash_attention = flash_attention  # accepted; the fused op is used either way
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self._activity_regularizer = regularizers.get(activity_regularizer)
        self._kernel_constraint = constraints.get(kernel_constraint)
        self._bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))
        self._query_dense = self._key_dense = self._value_dense = self._output_dense = self._gate_dense = None

    # ------------------------------------------------------------- properties (as Keras)
    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)
    query_dense = property(lambda self: self._query_dense)
    key_dense = property(lambda self: self._key_dense)
    value_dense = property(lambda self: self._value_dense)
    output_dense = property(lambda self: self._output_dense)

    # ------------------------------------------------------------- building
    def _sublayer_kwargs(self):
        return dict(kernel_initializer=clone_initializer(self._kernel_initializer),
                    bias_initializer=clone_initializer(self._bias_initializer),
                    kernel_regularizer=self._kernel_regularizer, bias_regularizer=self._bias_regularizer,
                    activity_regularizer=self._activity_regularizer, kernel_constraint=self._kernel_constraint,
                    bias_constraint=self._bias_constraint, dtype=self.dtype, trainable=self.trainable)

    def _projection(self, free_dims, bound_dims, dims, name, activation=None):
        eq, bias_axes, out_rank = _proj_equation(free_dims, bound_dims, len(dims))
        output_shape = [None] * (out_rank - 1 - len(dims)) + list(dims)
        return EinsumDense(eq, output_shape=output_shape, bias_axes=bias_axes if self._use_bias else None,
                           activation=activation, name=name, **self._sublayer_kwargs())

    def build(self, query_shape, value_shape=None, key_shape=None):
        """Create the projections for inputs of these shapes (``value_shape`` defaults to the query's)."""
        query_shape = tuple(query_shape)
        value_shape = query_shape if value_shape is None else tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        owner = f"MultiHeadAttention '{self.name}'"
        for nm, s in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(s) < 3:
                raise ValueError(f"{owner}: {nm} must have rank >= 3 (batch, ..., features), got shape {s}")
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(f"{owner}: all dimensions of value and key except the last must be equal, got "
                             f"value shape {value_shape} and key shape {key_shape}")
        if len(query_shape) != len(value_shape):
            raise ValueError(f"{owner}: query and value must have the same rank, got {query_shape} and {value_shape}")
        if self._query_dense is not None:
            return  # already built
        rank = len(query_shape)
        default_axes = tuple(range(1, rank - 1))
        if self._attention_axes is not None:
            axes = tuple(a if a >= 0 else rank + a for a in self._attention_axes)
            if axes != default_axes:
                raise ValueError(f"{owner}: only the default attention_axes (every axis between batch and features, "
                                 f"{default_axes} for rank-{rank} inputs) is supported, got {self._attention_axes}")
        self._attention_axes = default_axes
        hk, hv = (self._num_heads, self._key_dim), (self._num_heads, self._value_dim)
        with own_scope(self):
            self._query_dense = self._projection(rank - 1, 1, hk, "query")
            build_sublayer(self._query_dense, query_shape)
            self._key_dense = self._projection(rank - 1, 1, hk, "key")
            build_sublayer(self._key_dense, key_shape)
            if self._use_gate:
                self._gate_dense = self._projection(rank - 1, 1, hv, "gate", activation="sigmoid")
                build_sublayer(self._gate_dense, query_shape)
            self._value_dense = self._projection(rank - 1, 1, hv, "value")
            build_sublayer(self._value_dense, value_shape)
            out_dims = self._output_shape or (query_shape[-1],)
            if out_dims[-1] is None:
                raise ValueError(f"{owner}: the feature dimension of the query must be known, got {query_shape}")
            self._output_dense = self._projection(rank - 1, 2, out_dims, "attention_output")
            build_sublayer(self._output_dense, query_shape[:-1] + hv)
        self.built = True

    @staticmethod
    def _bind(args, kwargs):
        """(query, value, key, remaining positional args, kwargs) from a call's arguments."""
        args = list(args)
        vals = []
        for i, nm in enumerate(("query", "value", "key")):
            if i < len(args):
                if nm in kwargs:
                    raise TypeError(f"MultiHeadAttention: got multiple values for argument {nm!r}")
                vals.append(args[i])
            else:
                vals.append(kwargs.pop(nm, None))
        return vals[0], vals[1], vals[2], args[3:], kwargs

    def __call__(self, *args, **kwargs):
        query, value, key, rest, kwargs = self._bind(args, dict(kwargs))
        if query is None or value is None:
            raise TypeError("MultiHeadAttention needs a query and a value: mha(query, value) (value=query for "
                            "self-attention)")
        if not self.built:
            def shape_of(t):
                return None if t is None else tuple(t.shape) if hasattr(t, "shape") else np.shape(t)

            scope = name_scope(self.name) if self._pushes_scope else contextlib.nullcontext()
            with scope:
                self.build(shape_of(query), shape_of(value), shape_of(key))
            self.built = True
            self._build_shapes = shape_of(query)
        args = [query, value] + ([key] if (key is not None or rest) else []) + rest
        return super().__call__(*args, **kwargs)

    # ------------------------------------------------------------- masks
    def _attention_keep(self, q, v, query_mask, value_mask, key_mask, attention_mask, use_causal_mask):
        """The combined bool mask broadcastable to (B, Tq, S) over flattened attention axes, or None."""
        owner = f"MultiHeadAttention '{self.name}'"
        B = q.shape[0]
        tq, ts = tuple(q.shape[1:-1]), tuple(v.shape[1:-1])
        nq, ns = int(np.prod(tq)), int(np.prod(ts))
        xp = q.xp
        keep = None

        def both(m):
            nonlocal keep
            keep = m if keep is None else keep & m

        if query_mask is not None:
            m = _bool_array("query_mask", query_mask, q, owner)
            if m.shape != (B,) + tq:
                raise ValueError(f"{owner}: query_mask must have shape {(B,) + tq}, got {tuple(m.shape)}")
            both(m.reshape(B, nq, 1))
        for nm, mask in (("value_mask", value_mask), ("key_mask", key_mask)):
            if mask is not None:
                m = _bool_array(nm, mask, q, owner)
                if m.shape != (B,) + ts:
                    raise ValueError(f"{owner}: {nm} must have shape {(B,) + ts}, got {tuple(m.shape)}")
                both(m.reshape(B, 1, ns))
        if use_causal_mask or self._sliding_window is not None:
            if len(tq) != 1:
                raise ValueError(f"{owner}: use_causal_mask / sliding_window need rank-3 inputs (batch, time, "
                                 f"features), got query shape {tuple(q.shape)}")
            i = xp.arange(nq)[:, None]
            j = xp.arange(ns)[None, :]
            if use_causal_mask:
                both((i >= j)[None])
            if self._sliding_window is not None:
                both((xp.abs(i - j) < self._sliding_window)[None])
        if attention_mask is not None:
            m = _bool_array("attention_mask", attention_mask, q, owner)
            given = tuple(m.shape)
            full = (B,) + tq + ts
            if m.ndim > len(full):
                raise ValueError(f"{owner}: attention_mask of shape {tuple(m.shape)} does not broadcast to "
                                 f"(batch, query axes, key axes) = {full}")
            m = m.reshape((1,) * (len(full) - m.ndim) + m.shape)
            try:
                m = xp.broadcast_to(m, (m.shape[0] if m.shape[0] == 1 else B,) + tq + ts)
            except ValueError:
                raise ValueError(f"{owner}: attention_mask of shape {given} does not "
                                 f"broadcast to (batch, query axes, key axes) = {full}") from None
            both(m.reshape(m.shape[0], nq, ns))
        return keep

    # ------------------------------------------------------------- computation
    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        key_given = key is not None
        value = self._convert_input(value)
        key = self._convert_input(key) if key_given else value
        keras_query_mask = getattr(query, "_keras_mask", None)
        if query_mask is None:
            query_mask = keras_query_mask
        if value_mask is None:
            value_mask = getattr(value, "_keras_mask", None)
        if key_mask is None and key_given:
            key_mask = getattr(key, "_keras_mask", None)
        owner = f"MultiHeadAttention '{self.name}'"
        if query.ndim != value.ndim or key.ndim != value.ndim or query.ndim < 3:
            raise ValueError(f"{owner}: query, value and key must have the same rank >= 3, got shapes "
                             f"{tuple(query.shape)}, {tuple(value.shape)}, {tuple(key.shape)}")
        if tuple(key.shape[:-1]) != tuple(value.shape[:-1]) or query.shape[0] != value.shape[0]:
            raise ValueError(f"{owner}: key and value must agree on every axis but the last, and the batch size "
                             f"must match the query's, got query {tuple(query.shape)}, value {tuple(value.shape)}, "
                             f"key {tuple(key.shape)}")
        causal_only = (use_causal_mask and query_mask is None and value_mask is None and key_mask is None
                       and attention_mask is None and self._sliding_window is None)
        keep = None if causal_only else self._attention_keep(query, value, query_mask, value_mask, key_mask,
                                                            attention_mask, use_causal_mask)
        gate = self._gate_dense(query) if self._use_gate else None
        q = self._query_dense(query)  # (B, *Tq, H, Dk)
        k = self._key_dense(key)  # (B, *Ts, H, Dk)
        v = self._value_dense(value)  # (B, *Ts, H, Dv)
        B, tq, ts = query.shape[0], tuple(query.shape[1:-1]), tuple(value.shape[1:-1])
        nq, ns, H = int(np.prod(tq)), int(np.prod(ts)), self._num_heads
        if len(tq) > 1:
            q = ops.reshape(q, (B, nq, H, self._key_dim))
            k = ops.reshape(k, (B, ns, H, self._key_dim))
            v = ops.reshape(v, (B, ns, H, self._value_dim))
        q, k, v = (ops.transpose(t, (0, 2, 1, 3)) for t in (q, k, v))  # (B, H, L, D)
        # Keras 3.15 takes a fused path (fully masked rows attend uniformly) unless there is dropout,
        # scores are returned or the inputs are not rank 3 (masked softmax: such rows get zero weights)
        fused = not (self._dropout > 0.0 or return_attention_scores or len(tq) != 1)
        attn_mask = None if keep is None else keep[:, None]  # (B|1, 1, Tq|1, S|1)
        res = ops.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, causal=bool(causal_only),
                                               scale=self._inverse_sqrt_key_dim, dropout_rate=self._dropout,
                                               training=bool(training), return_weights=return_attention_scores)
        out, scores = (res if return_attention_scores else (res, None))
        if not fused and keep is not None:
            rows = keep.any(axis=-1, keepdims=True)  # (B|1, Tq|1, 1)
            if not bool(rows.all()):
                rows = Tensor(rows[:, None].astype(out.dtype))
                out = out * rows
                if scores is not None:
                    scores = scores * rows
        out = ops.transpose(out, (0, 2, 1, 3))  # (B, Tq, H, Dv)
        if len(tq) > 1:
            out = ops.reshape(out, (B,) + tq + (H, self._value_dim))
        if gate is not None:
            out = out * gate
        out = self._output_dense(out)
        if return_attention_scores:
            if len(tq) > 1:
                scores = ops.reshape(scores, (B, H) + tq + ts)
            if keras_query_mask is not None:
                out._keras_mask = keras_query_mask
            return out, scores
        return out

    def compute_mask(self, inputs, mask=None):
        return mask  # the query's Keras mask

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        if value_shape is not None:
            value_shape = tuple(value_shape)
            key_shape = value_shape if key_shape is None else tuple(key_shape)
            if value_shape[1:-1] != key_shape[1:-1]:
                raise ValueError(f"MultiHeadAttention '{self.name}': all dimensions of value and key except the "
                                 f"last must be equal, got value shape {value_shape} and key shape {key_shape}")
        if self._output_shape:
            return query_shape[:-1] + tuple(self._output_shape)
        return query_shape

    def compute_output_spec(self, query, value=None, key=None, query_mask=None, value_mask=None, key_mask=None,
                            attention_mask=None, return_attention_scores=False, training=None, use_causal_mask=False):
        value = query if value is None else value
        shape = self.compute_output_shape(query.shape, value.shape, None if key is None else key.shape)
        dt = self.compute_dtype
        out = OutputSpec(tuple(shape), dt, bool(getattr(query, "_has_mask", False)))
        if return_attention_scores:
            scores = (query.shape[0], self._num_heads) + tuple(query.shape[1:-1]) + tuple(value.shape[1:-1])
            return out, OutputSpec(scores, dt)
        return out

    def get_config(self):
        return {**super().get_config(), "num_heads": self._num_heads, "key_dim": self._key_dim,
                "value_dim": self._value_dim, "dropout": self._dropout, "use_bias": self._use_bias,
                "use_gate": self._use_gate,
                "output_shape": list(self._output_shape) if self._output_shape else None,
                "attention_axes": list(self._attention_axes) if self._attention_axes is not None else None,
                "sliding_window": self._sliding_window,
                "kernel_initializer": initializers.serialize(self._kernel_initializer),
                "bias_initializer": initializers.serialize(self._bias_initializer),
                "kernel_regularizer": regularizers.serialize(self._kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self._bias_regularizer),
                "activity_regularizer": regularizers.serialize(self._activity_regularizer),
                "kernel_constraint": constraints.serialize(self._kernel_constraint),
                "bias_constraint": constraints.serialize(self._bias_constraint), "seed": self.seed}


__all__ = ["EinsumDense", "MultiHeadAttention"]
