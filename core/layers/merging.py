"""Merge layers (Keras 3 semantics): Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate, Dot, and their functional forms ``add([a, b])``, ``concatenate([a, b], axis)``...

Each is called on a list of tensors. Element-wise merges broadcast as Keras does (a dimension
of 1 stretches; an input of lower rank gets axes inserted after the batch axis). Masks: the
output mask is the logical OR of the input masks (None as soon as one input has none), as in
Keras 3; Maximum / Minimum / Multiply also keep masked-out values out of the result; Concatenate
treats a missing mask as all-True; Dot returns no mask.
"""
from __future__ import annotations

from .. import ops
from ..autodiff import Tensor
from ..backend import get_xp
from .base import Layer, OutputSpec


def _fmt(shape):
    if shape is None:
        return "None"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _fmt_list(shapes):
    return "[" + ", ".join(_fmt(s) for s in shapes) + "]"


def _mask_array(m):
    """A mask (Tensor or array) as a boolean array, or None."""
    if m is None:
        return None
    data = m.data if isinstance(m, Tensor) else m
    xp = get_xp(data)
    data = xp.asarray(data)
    return data if data.dtype == bool else data.astype(bool)


def _expand_mask(m, x):
    """A (batch, ...) mask broadcast to the shape of ``x`` (a trailing axis added when needed)."""
    xp = get_xp(m)
    if m.ndim < x.ndim:
        m = m.reshape(m.shape + (1,) * (x.ndim - m.ndim))
    return xp.broadcast_to(m, x.shape)


def _is_shape_list(input_shape):
    return isinstance(input_shape, (list, tuple)) and len(input_shape) > 0 and \
        all(s is None or isinstance(s, (list, tuple)) for s in input_shape)


class Merge(Layer):
    """Base of the merge layers: validation, broadcasting of ranks, shapes and masks."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    # ------------------------------------------------------------------ shapes
    @staticmethod
    def _elemwise_shape(shape1, shape2):
        """Keras's ``_compute_elemwise_op_output_shape`` (shapes without the batch axis)."""
        if shape1 is None or shape2 is None:
            return None
        if len(shape1) < len(shape2):
            return Merge._elemwise_shape(shape2, shape1)
        if not shape2:
            return tuple(shape1)
        out = list(shape1[:-len(shape2)])
        for i, j in zip(shape1[-len(shape2):], shape2):
            if i is None or j is None:
                out.append(None)
            elif i == 1:
                out.append(j)
            elif j == 1 or i == j:
                out.append(i)
            else:
                raise ValueError(f"Inputs have incompatible shapes. Received shapes {_fmt(shape1)} and "
                                 f"{_fmt(shape2)}")
        return tuple(out)

    def _check_list(self, input_shape, what="input_shape"):
        if not _is_shape_list(input_shape):
            raise ValueError(f"A merge layer ({type(self).__name__} '{self.name}') should be called on a list of "
                             f"inputs. Received: {what}={input_shape} (not a list of shapes)")

    def build(self, input_shape):
        self._check_list(input_shape)
        batch_sizes = {s[0] for s in input_shape if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(f"Cannot merge tensors with different batch sizes. Received tensors with shapes "
                             f"{_fmt_list(input_shape)}")
        out = None if input_shape[0] is None else tuple(input_shape[0][1:])
        for s in input_shape[1:]:
            out = self._elemwise_shape(out, None if s is None else tuple(s[1:]))

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        out = None if input_shape[0] is None else tuple(input_shape[0][1:])
        for s in input_shape[1:]:
            out = self._elemwise_shape(out, None if s is None else tuple(s[1:]))
        batch_sizes = {s[0] for s in input_shape if s is not None} - {None}
        return ((next(iter(batch_sizes)) if len(batch_sizes) == 1 else None),) + tuple(out)

    def compute_output_spec(self, *args, **kwargs):
        inputs = args[0]
        if not isinstance(inputs, (list, tuple)):
            self._check_list(getattr(inputs, "shape", inputs), "inputs")
        shape = self.compute_output_shape([tuple(t.shape) for t in inputs])
        has_mask = self._symbolic_has_mask([bool(getattr(t, "_has_mask", False)) for t in inputs])
        dtypes = [t.dtype for t in inputs]
        dtype = self.compute_dtype if any(getattr(d, "kind", "f") == "f" for d in dtypes) else dtypes[0]
        return OutputSpec(tuple(shape), str(dtype), has_mask)

    def _symbolic_has_mask(self, flags):
        return all(flags)

    # ------------------------------------------------------------------ calling
    def call(self, inputs, mask=None):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"A merge layer ({type(self).__name__} '{self.name}') should be called on a list "
                             f"of inputs. Received: inputs of shape {tuple(getattr(inputs, 'shape', ()))} "
                             f"(not a list of tensors)")
        inputs = list(inputs)
        if mask is None or not isinstance(mask, (list, tuple)):
            mask = [getattr(x, "_keras_mask", None) for x in inputs]
        masks = [_mask_array(m) for m in mask]
        ndims = [x.ndim for x in inputs]
        if len(set(ndims)) > 1:  # Keras: insert axes after the batch axis of the lower-rank inputs
            top = max(ndims)
            inputs = [ops.reshape(x, (x.shape[0],) + (1,) * (top - x.ndim) + tuple(x.shape[1:]))
                      if x.ndim < top else x for x in inputs]
        return self._merge_function(inputs, masks)

    def _merge_function(self, inputs, masks):
        raise NotImplementedError

    def _apply_merge_op_and_or_mask(self, op_fn, inputs, masks):
        """Keras's masked element-wise merge: masked-out values of one input are replaced by
        the running result (and vice versa) before ``op_fn``."""
        output = output_mask = None
        for x, m in zip(inputs, masks):
            if m is not None:
                m = _expand_mask(m, x)
            if output is None:
                output, output_mask = x, m
                continue
            if m is not None:
                x = ops.where(m, x, output)
            if output_mask is not None:
                output = ops.where(output_mask, output, x)
            output_mask = (get_xp(m).logical_or(output_mask, m)
                           if (m is not None and output_mask is not None) else None)
            output = op_fn(output, x)
        return output

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)):
            raise ValueError(f"`mask` should be a list. Received: mask={mask}")
        if not isinstance(inputs, (list, tuple)):
            raise ValueError("`inputs` should be a list of tensors")
        if len(mask) != len(inputs):
            raise ValueError(f"The lists `inputs` and `mask` should have the same length. Received: "
                             f"{len(inputs)} inputs and {len(mask)} masks")
        masks = [_mask_array(m) for m in mask]
        if any(m is None for m in masks):
            return None
        out = masks[0]
        xp = get_xp(out)
        for m in masks[1:]:
            out = xp.logical_or(out, m)
        return Tensor(out)


class Add(Merge):
    """Element-wise sum of the inputs: ``Add()([a, b, c])``."""

    def _merge_function(self, inputs, masks):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return out


class Subtract(Merge):
    """``a - b`` for exactly two inputs."""

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs. Received: "
                             f"input_shape={_fmt_list(input_shape)}")

    def _merge_function(self, inputs, masks):
        if len(inputs) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs. Received "
                             f"{len(inputs)} inputs")
        return ops.sub(inputs[0], inputs[1])


class Multiply(Merge):
    """Element-wise product. With masks on every input, masked-out values count as 1 and
    positions masked in all inputs are 0 (Keras 3)."""

    def _merge_function(self, inputs, masks):
        has_output_mask = all(m is not None for m in masks)
        output = output_mask = None
        for x, m in zip(inputs, masks):
            if m is not None:
                m = _expand_mask(m, x)
                x = ops.where(m, x, 1)
                if has_output_mask:
                    output_mask = m if output_mask is None else get_xp(m).logical_or(output_mask, m)
            output = x if output is None else ops.mul(output, x)
        if has_output_mask:
            output = ops.where(output_mask, output, 0)
        return output


class Average(Merge):
    """Element-wise mean of the inputs."""

    def _merge_function(self, inputs, masks):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return out / len(inputs)


class Maximum(Merge):
    """Element-wise maximum (masked-out values do not win, as Keras 3)."""

    def _merge_function(self, inputs, masks):
        return self._apply_merge_op_and_or_mask(ops.maximum, inputs, masks)


class Minimum(Merge):
    """Element-wise minimum (masked-out values do not win, as Keras 3)."""

    def _merge_function(self, inputs, masks):
        return self._apply_merge_op_and_or_mask(ops.minimum, inputs, masks)


class Concatenate(Merge):
    """Concatenate along ``axis`` (default -1); all other dimensions must match."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _symbolic_has_mask(self, flags):
        return any(flags)

    def build(self, input_shape):
        if not _is_shape_list(input_shape):
            raise ValueError(f"A `Concatenate` layer should be called on a list of at least 1 input. "
                             f"Received: input_shape={input_shape}")
        shapes = [s for s in input_shape if s is not None]
        if not shapes:
            return
        err = (f"A `Concatenate` layer requires inputs with matching shapes except for the concatenation "
               f"axis. Received: input_shape={_fmt_list(input_shape)}")
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1:
            raise ValueError(err)
        rank = ranks.pop()
        if not -rank <= self.axis < rank:
            raise ValueError(f"Concatenate '{self.name}': axis {self.axis} is out of range for inputs of rank "
                             f"{rank}; input_shape={_fmt_list(input_shape)}")
        axis = self.axis % rank
        for i in range(rank):
            if i == axis:
                continue
            dims = {s[i] for s in shapes if s[i] is not None}
            if len(dims) > 1:
                raise ValueError(err)

    def _merge_function(self, inputs, masks):
        return ops.concatenate(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        if not _is_shape_list(input_shape):
            raise ValueError(f"A `Concatenate` layer should be called on a list of inputs. Received: "
                             f"input_shape={input_shape}")
        out = list(input_shape[0])
        for s in input_shape[1:]:
            if out[self.axis] is None or s[self.axis] is None:
                out[self.axis] = None
                break
            out[self.axis] += s[self.axis]
        return tuple(out)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or not isinstance(inputs, (list, tuple)) or \
                len(mask) != len(inputs):
            raise ValueError(f"Concatenate.compute_mask: `inputs` and `mask` must be lists of the same length; "
                             f"got mask={mask!r}")
        masks = [_mask_array(m) for m in mask]
        if all(m is None for m in masks):
            return None
        xp = get_xp(next(m for m in masks if m is not None))
        full = []
        for x, m in zip(inputs, masks):
            if m is None:
                full.append(xp.ones(tuple(x.shape), dtype=bool))
            elif m.ndim < x.ndim:
                full.append(_expand_mask(m, x))
            else:
                full.append(m)
        return Tensor(xp.concatenate(full, axis=self.axis).any(axis=-1))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _l2_normalize(x, axis, eps=1e-7):
    """Keras's ``normalize``: x * min(rsqrt(sum(x^2)), 1 / eps), written as x / sqrt(max(sum(x^2), eps^2))
    (same values, finite gradient at 0)."""
    ss = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x / ops.sqrt(ops.maximum(ss, eps * eps))


def batch_dot(x, y, axes):
    """Keras's ``batch_dot``: per sample, contract axis ``axes[0]`` of x with ``axes[1]`` of y."""
    xnd, ynd = x.ndim, y.ndim
    if xnd < 2 or ynd < 2:
        raise ValueError(f"Cannot do batch_dot on inputs with rank < 2. Received inputs with shapes "
                         f"{tuple(x.shape)} and {tuple(y.shape)}.")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"Cannot do batch_dot on inputs with different batch sizes. Received inputs with "
                         f"shapes {tuple(x.shape)} and {tuple(y.shape)}.")
    a0, a1 = axes[0] % xnd, axes[1] % ynd
    if a0 == 0 or a1 == 0:
        raise ValueError("Cannot perform batch_dot over axis 0 (the batch axis).")
    if x.shape[a0] != y.shape[a1]:
        raise ValueError(f"Cannot do batch_dot on inputs with shapes {tuple(x.shape)} and {tuple(y.shape)} with "
                         f"axes={[a0, a1]}. x.shape[{a0}] != y.shape[{a1}] ({x.shape[a0]} != {y.shape[a1]}).")
    orig_x, orig_y = xnd, ynd
    if xnd == 2:
        x = ops.expand_dims(x, 1)
        a0, xnd = a0 + 1, 3
    if ynd == 2:
        y = ops.expand_dims(y, 2)
        ynd = 3
    if a0 != xnd - 1:
        x = ops.transpose(x, [i for i in range(xnd) if i != a0] + [a0])
    if a1 != 1:
        y = ops.transpose(y, [0, a1] + [i for i in range(1, ynd) if i != a1])
    x_mid, y_trail = tuple(x.shape[1:-1]), tuple(y.shape[2:])
    B, K = x.shape[0], x.shape[-1]
    out = ops.matmul(ops.reshape(x, (B, -1, K)), ops.reshape(y, (B, K, -1)))
    out = ops.reshape(out, (B,) + x_mid + y_trail)
    if orig_x == 2:
        out = ops.squeeze(out, 1)
    elif orig_y == 2:
        out = ops.squeeze(out, -1)
    return out


class Dot(Merge):
    """Per-sample dot product of two inputs along ``axes`` (an int or a pair); with
    ``normalize=True`` both are L2-normalised along those axes first (cosine proximity)."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(f"Invalid type for argument `axes`: it should be a list or an int. "
                                f"Received: axes={axes!r}")
            if len(axes) != 2:
                raise ValueError(f"Invalid format for argument `axes`: it should contain two elements. "
                                 f"Received: axes={axes!r}")
            if not all(isinstance(a, int) for a in axes):
                raise ValueError(f"Invalid format for argument `axes`: list elements should be integers. "
                                 f"Received: axes={axes!r}")
            axes = list(axes)
        self.axes = axes
        self.normalize = bool(normalize)

    def _symbolic_has_mask(self, flags):
        return False

    def _resolve_axes(self, ranks):
        if isinstance(self.axes, int):
            return [self.axes % ranks[0], self.axes % ranks[1]] if self.axes < 0 else [self.axes] * 2
        return [a % r if a < 0 else a for a, r in zip(self.axes, ranks)]

    def build(self, input_shape):
        if not _is_shape_list(input_shape) or len(input_shape) != 2:
            raise ValueError(f"A `Dot` layer should be called on a list of 2 inputs. Received: "
                             f"input_shape={input_shape}")
        s1, s2 = input_shape
        if s1 is None or s2 is None:
            return
        a = self._resolve_axes((len(s1), len(s2)))
        for ax, s in zip(a, (s1, s2)):
            if not 0 < ax < len(s):
                raise ValueError(f"Dot '{self.name}': axes {self.axes} are out of range (or the batch axis 0) "
                                 f"for input shapes {_fmt(s1)}, {_fmt(s2)}")
        if s1[a[0]] is not None and s2[a[1]] is not None and s1[a[0]] != s2[a[1]]:
            raise ValueError(f"Incompatible input shapes: axis values {s1[a[0]]} (at axis {a[0]}) != "
                             f"{s2[a[1]]} (at axis {a[1]}). Full input shapes: {_fmt(s1)}, {_fmt(s2)}")

    def _merge_function(self, inputs, masks):
        if len(inputs) != 2:
            raise ValueError(f"A `Dot` layer should be called on exactly 2 inputs. Received {len(inputs)} inputs")
        x1, x2 = inputs
        axes = self._resolve_axes((x1.ndim, x2.ndim))
        if self.normalize:
            x1 = _l2_normalize(x1, axes[0])
            x2 = _l2_normalize(x2, axes[1])
        return batch_dot(x1, x2, axes)

    def call(self, inputs, mask=None):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"A `Dot` layer should be called on a list of 2 inputs. Received: "
                             f"{type(inputs).__name__} of {len(inputs) if isinstance(inputs, (list, tuple)) else 1}")
        return self._merge_function(list(inputs), [None, None])

    def compute_output_shape(self, input_shape):
        if not _is_shape_list(input_shape) or len(input_shape) != 2:
            raise ValueError(f"A `Dot` layer should be called on a list of 2 inputs. Received: "
                             f"input_shape={input_shape}")
        s1, s2 = list(input_shape[0]), list(input_shape[1])
        a = self._resolve_axes((len(s1), len(s2)))
        s1.pop(a[0])
        s2.pop(a[1])
        s2.pop(0)
        out = s1 + s2
        if len(out) == 1:
            out.append(1)
        return tuple(out)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def add(inputs, **kwargs):
    """Functional form of ``Add``: ``add([a, b])``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional form of ``Subtract``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional form of ``Multiply``."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional form of ``Average``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional form of ``Maximum``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional form of ``Minimum``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of ``Concatenate``: ``concatenate([a, b], axis=1)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """Functional form of ``Dot``."""
    return Dot(axes=axes, **kwargs)(inputs)
