"""ONNX converters for the recurrent layers: ``SimpleRNN`` -> ONNX ``RNN``, ``LSTM`` -> ``LSTM``,
``GRU`` -> ``GRU`` (``reset_after=True`` as ``linear_before_reset=1``), ``Bidirectional`` -> one
op per direction and the merge.

ONNX recurrent ops are time-major: the input is transposed to (steps, batch, features) and the
outputs back. Gate orders: Keras LSTM kernels are i, f, c, o, ONNX's i, o, f, c (the columns are
permuted); GRU is z, r, h in both. The Keras bias goes to ONNX's input bias ``Wb`` (the
recurrent bias ``Rb`` is zero), except GRU ``reset_after=True`` whose bias rows are (input,
recurrent) as ONNX's (``Wb``, ``Rb``).

Masks (``Embedding(mask_zero=True)``, ``Masking``-like layers, or ``mask=``) become ONNX
``sequence_lens`` = the number of True steps per row: exact for RIGHT-padded masks (real steps
first, padding last), which is how the project's text pipelines pad. A mask with gaps or
left padding gives different results from Keras (Keras skips every masked step; ONNX runs the
first ``sequence_lens`` steps). Keras's masked outputs are reproduced: a forward
``return_sequences`` output repeats the last real step's output on padding (zeros with
``zero_output_for_mask``, which ``Bidirectional`` sets), a backward one starts with zeros.
"""
from __future__ import annotations

import inspect

import numpy as np

from ..layers import recurrent as R
from ..layers.base import KerasTensor, map_structure
from .onnx_graph import OnnxExportError, register_onnx_converter

# ONNX TensorProto element types (the onnx package is imported only when the file is written)
_FLOAT, _INT32, _INT64, _BOOL = 1, 6, 7, 9

# Keras activation name -> (ONNX RNN activation, alpha, beta)
_RNN_ACTIVATIONS = {
    "tanh": ("Tanh", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "relu": ("Relu", None, None),
    "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),  # Keras 3: clip(x / 6 + 0.5, 0, 1)
    "linear": ("Affine", 1.0, 0.0),
}


# --------------------------------------------------------------------------- shared helpers
def need_opset(g, minimum, what):
    if g.opset < minimum:
        raise OnnxExportError(f"{what} needs ONNX opset >= {minimum}, the export asked for opset {g.opset}")


def call_arguments(layer, node, inputs):
    """The arguments of ``layer.call`` for this call as a dict, with the symbolic tensors
    replaced by their ONNX value names (None entries stay None). ``node`` None (a Sequential):
    just the first argument."""
    params = list(inspect.signature(layer.call).parameters)
    if node is None:
        return {params[0]: inputs[0]}
    names = {}
    for kt, n in zip(node.input_tensors, inputs):
        names.setdefault(id(kt), n)
    try:
        bound = inspect.signature(layer.call).bind(*node.args, **node.kwargs)
    except TypeError as e:
        raise OnnxExportError(f"layer '{layer.name}': cannot bind its call arguments ({e})") from None
    return {k: map_structure(lambda a: names[id(a)] if isinstance(a, KerasTensor) else a, v)
            for k, v in bound.arguments.items()}


def reduce(g, op_type, x, axes, keepdims):
    """``ReduceSum``/``ReduceMean``/``ReduceMax``... over ``axes`` (given as an input or an
    attribute, as the graph's opset wants)."""
    if hasattr(g, "reduce"):
        return g.reduce(op_type, x, axes, keepdims=keepdims)
    if op_type == "ReduceSum" or g.opset >= 18:
        return g.op(op_type, x, g.ints(axes, "axes"), keepdims=int(bool(keepdims)))
    return g.op(op_type, x, axes=[int(a) for a in axes], keepdims=int(bool(keepdims)))


def unsqueeze(g, x, axes):
    return g.op("Unsqueeze", x, g.ints(axes, "axes"))


def squeeze(g, x, axes):
    return g.op("Squeeze", x, g.ints(axes, "axes"))


def slice_axis(g, x, start, end, axis, step=1):
    return g.op("Slice", x, g.ints([start], "starts"), g.ints([end], "ends"), g.ints([axis], "axes"),
                g.ints([step], "steps"))


def reverse_axis(g, x, axis):
    """``x`` reversed along ``axis`` (a Slice with step -1)."""
    return slice_axis(g, x, -1, -(2 ** 63), axis, -1)


def as_bool(g, mask, dtype=None):
    """A mask value as bool (nonzero = True), from any numeric dtype."""
    if dtype is not None and np.dtype(dtype) == np.bool_:
        return mask
    return g.op("Cast", mask, to=_BOOL)


def value_dtype(g, node, inputs, name):
    """The dtype of value ``name`` (from the graph's records or this call's symbolic inputs),
    or None if unknown."""
    dt = getattr(g, "dtypes", {}).get(name)
    if dt is not None:
        return np.dtype(dt)
    if node is not None:
        for kt, n in zip(node.input_tensors, inputs):
            if n == name:
                return kt.dtype
    return None


def mask_of(g, name):
    """The Keras mask carried beside value ``name`` as a bool value, or None."""
    m = g.masks.get(name)
    if m is None:
        return None
    return as_bool(g, m, getattr(g, "dtypes", {}).get(m, np.bool_))


# --------------------------------------------------------------------------- weights
def _np(w):
    data = getattr(w, "data", w)
    if hasattr(data, "get"):
        data = data.get()
    return np.asarray(data)


def _gate_blocks(a, gates, order):
    """Permute the gate blocks of the last axis of ``a`` (``gates`` blocks) into ``order``."""
    u = a.shape[-1] // gates
    return np.concatenate([a[..., k * u:(k + 1) * u] for k in order], axis=-1)


def _cell_weights(cell, kind):
    """(W (1, G*u, F), R (1, G*u, u), B (1, 2*G*u) or None) in ONNX layout for a Keras cell."""
    order = {"LSTM": (0, 3, 1, 2), "GRU": (0, 1, 2), "RNN": (0,)}[kind]
    gates = len(order)
    k = _gate_blocks(_np(cell.kernel), gates, order).T
    r = _gate_blocks(_np(cell.recurrent_kernel), gates, order).T
    b = None
    if cell.use_bias:
        bias = _np(cell.bias)
        if bias.ndim == 2:  # GRU reset_after: rows (input bias, recurrent bias)
            wb, rb = _gate_blocks(bias[0], gates, order), _gate_blocks(bias[1], gates, order)
        else:
            wb = _gate_blocks(bias, gates, order)
            rb = np.zeros_like(wb)
        b = np.concatenate([wb, rb])[None].astype(np.float32)
    return k[None].astype(np.float32), r[None].astype(np.float32), b


def _onnx_activations(layer, kind):
    cell = layer.cell
    names = [cell._activation_name] if kind == "RNN" else \
        [cell._recurrent_activation_name, cell._activation_name] + ([cell._activation_name] if kind == "LSTM" else [])
    acts, alphas, betas = [], [], []
    for n in names:
        if n not in _RNN_ACTIVATIONS:
            raise OnnxExportError(f"{type(layer).__name__} '{layer.name}': activation {n!r} has no ONNX "
                                  f"{kind} mapping (supported: {sorted(_RNN_ACTIVATIONS)})")
        a, al, be = _RNN_ACTIVATIONS[n]
        acts.append(a)
        if al is not None:
            alphas.append(al)
            betas.append(be)
    default = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}[kind]
    if acts == default:
        return {}
    out = {"activations": acts}
    if alphas:
        out["activation_alpha"] = [float(a) for a in alphas]
        out["activation_beta"] = [float(b) for b in betas]
    return out


# --------------------------------------------------------------------------- one recurrent layer
def _kind(layer):
    cell = getattr(layer, "cell", None)
    if isinstance(cell, R.LSTMCell):
        return "LSTM"
    if isinstance(cell, R.GRUCell):
        return "GRU"
    if isinstance(cell, R.SimpleRNNCell):
        return "RNN"
    raise OnnxExportError(f"layer '{layer.name}' ({type(layer).__name__}) is not a SimpleRNN, LSTM or GRU")


def _flat_states(states):
    if states is None:
        return None
    return list(states) if isinstance(states, (list, tuple)) else [states]


def emit_rnn(g, layer, x, states=None, mask=None, input_order=False):
    """ONNX nodes for one call of a SimpleRNN/LSTM/GRU ``layer`` on value ``x`` (batch, steps,
    features) with optional initial ``states`` (value names) and bool ``mask`` (batch, steps).
    Returns ``[output, *final_states]`` as the layer returns them (the states only with
    ``return_state``). ``input_order``: a go_backwards sequence output in input time order
    (Bidirectional flips it back anyway)."""
    need_opset(g, 13, f"recurrent layer '{layer.name}'")
    kind = _kind(layer)
    cell = layer.cell
    if np.dtype(cell.compute_dtype) != np.float32:
        raise OnnxExportError(f"{type(layer).__name__} '{layer.name}': only float32 recurrent layers are exported "
                              f"(ONNX Runtime's {kind} runs float32), this one computes in {cell.compute_dtype}")
    u = cell.units
    name = layer.name
    W, Rw, B = _cell_weights(cell, kind)
    states = _flat_states(states)
    if states is not None and len(states) != cell._n_states:
        raise OnnxExportError(f"{type(layer).__name__} '{name}': expected {cell._n_states} initial state(s), "
                              f"got {len(states)}")
    xt = g.op("Transpose", x, perm=[1, 0, 2], name=f"{name}_time_major")
    lens = None
    if mask is not None:
        lens = reduce(g, "ReduceSum", g.op("Cast", mask, to=_INT32), [1], keepdims=False)
    ins = [xt, g.const(W, f"{name}/W"), g.const(Rw, f"{name}/R"),
           "" if B is None else g.const(B, f"{name}/B"), "" if lens is None else lens]
    if states is not None:
        ins += [unsqueeze(g, s, [0]) for s in states]
    while ins and ins[-1] == "":
        ins.pop()
    attrs = dict(hidden_size=int(u), direction="reverse" if layer.go_backwards else "forward")
    attrs.update(_onnx_activations(layer, kind))
    if kind == "GRU" and cell.reset_after:
        attrs["linear_before_reset"] = 1
    n_out = 3 if kind == "LSTM" else 2
    # the full sequence Y only when it is returned ("" leaves an optional output out)
    out_names = [g.fresh(f"{name}_Y") if layer.return_sequences else ""] + \
        [g.fresh(f"{name}_Y_{s}") for s in ("h", "c")[:n_out - 1]]
    outs = g.node(kind, ins, out_names, name=name, **attrs)
    finals = [squeeze(g, o, [0]) for o in outs[1:]]  # (batch, units) each
    if lens is not None and states is not None:
        # a fully masked row keeps its initial state in Keras (ONNX Runtime gives zeros)
        any_real = unsqueeze(g, g.op("Greater", lens, g.const(np.array(0, np.int32), "zero_i32")), [1])
        finals = [g.op("Where", any_real, f, s) for f, s in zip(finals, states)]
    else:
        any_real = None
    mask3 = None if mask is None else unsqueeze(g, mask, [2])
    if layer.return_sequences:
        y = g.op("Transpose", squeeze(g, outs[0], [1]), perm=[1, 0, 2], name=f"{name}_batch_major")
        if mask is not None:
            # padding steps: the carried output (forward) or zeros (backward, zero_output_for_mask)
            if layer.go_backwards or layer.zero_output_for_mask:
                fill = g.const(np.zeros((), np.float32), "zero_f")
            else:
                fill = unsqueeze(g, finals[0], [1])
                if any_real is not None:  # a fully masked row outputs zeros
                    fill = g.op("Mul", fill, unsqueeze(g, g.op("Cast", any_real, to=_FLOAT), [1]))
            y = g.op("Where", mask3, y, fill)
        if layer.go_backwards and not input_order:
            y = reverse_axis(g, y, 1)
        output = y
    else:
        output = finals[0]
        if mask is not None:
            if layer.zero_output_for_mask:  # zeros when the last processed step is masked
                last = slice_axis(g, mask, 0, 1, 1) if layer.go_backwards else slice_axis(g, mask, -1, 2 ** 62, 1)
                output = g.op("Mul", output, g.op("Cast", last, to=_FLOAT))
            elif any_real is not None:
                output = g.op("Mul", output, g.op("Cast", any_real, to=_FLOAT))
    if layer.return_state:
        return [output] + finals
    return [output]


def _mask_argument(g, args, x, node, inputs):
    m = args.get("mask")
    if isinstance(m, (list, tuple)):
        m = m[0] if m else None
    if m is not None:
        return as_bool(g, m, value_dtype(g, node, inputs, m))
    return mask_of(g, x)


@register_onnx_converter(R.SimpleRNN, R.LSTM, R.GRU)
def _rnn(g, layer, node, inputs):
    args = call_arguments(layer, node, inputs)
    x = args["sequences"]
    mask = _mask_argument(g, args, x, node, inputs)
    outs = emit_rnn(g, layer, x, args.get("initial_state"), mask)
    if mask is not None and layer.return_sequences:
        g.masks[outs[0]] = mask
    return outs


@register_onnx_converter(R.Bidirectional)
def _bidirectional(g, layer, node, inputs):
    args = call_arguments(layer, node, inputs)
    x = args["sequences"]
    mask = _mask_argument(g, args, x, node, inputs)
    fwd, bwd = layer.forward_layer, layer.backward_layer
    fstate = bstate = None
    states = _flat_states(args.get("initial_state"))
    if states is not None:
        nf, nb = layer._n_states(fwd), layer._n_states(bwd)
        if len(states) != nf + nb:
            raise OnnxExportError(f"Bidirectional '{layer.name}': initial_state must hold {nf} forward then {nb} "
                                  f"backward state(s), got {len(states)}")
        fstate, bstate = states[:nf], states[nf:]
    for sub in (fwd, bwd):
        if not isinstance(sub, (R.SimpleRNN, R.LSTM, R.GRU)):
            raise OnnxExportError(f"Bidirectional '{layer.name}': the wrapped {type(sub).__name__} has no ONNX "
                                  "mapping (SimpleRNN, LSTM and GRU have)")
    y = emit_rnn(g, fwd, x, fstate, mask, input_order=True)
    y_rev = emit_rnn(g, bwd, x, bstate, mask, input_order=True)
    fs, bs = y[1:], y_rev[1:]
    y, y_rev = y[0], y_rev[0]
    # with return_sequences both are in input time order here (Bidirectional flips the backward one)
    if fwd.go_backwards and fwd.return_sequences:  # a forward layer given go_backwards=True: keep its order
        y = reverse_axis(g, y, 1)
    if not bwd.go_backwards and bwd.return_sequences:
        y_rev = reverse_axis(g, y_rev, 1)
    mode = layer.merge_mode
    if mode == "concat":
        outs = [g.op("Concat", y, y_rev, axis=-1, name=layer.name)]
    elif mode == "sum":
        outs = [g.op("Add", y, y_rev, name=layer.name)]
    elif mode == "ave":
        outs = [g.op("Mul", g.op("Add", y, y_rev), g.const(np.array(0.5, np.float32), "half"), name=layer.name)]
    elif mode == "mul":
        outs = [g.op("Mul", y, y_rev, name=layer.name)]
    else:
        outs = [y, y_rev]
    if mask is not None and layer.return_sequences:
        for o in outs:
            g.masks[o] = mask
    if layer.return_state:
        outs = outs + list(fs) + list(bs)
    return outs

