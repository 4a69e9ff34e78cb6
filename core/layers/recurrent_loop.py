"""The time-step loop of the recurrent layers (Keras's ``backend.rnn``) and the nested state
structures it carries; used by ``RNN`` (any cell) and by LSTM/GRU/SimpleRNN when training with
``recurrent_dropout``."""
from __future__ import annotations

from .. import ops
from ..autodiff import Tensor


def _is_nested(s):
    return isinstance(s, (list, tuple))


def _flatten(s):
    if _is_nested(s):
        return [x for item in s for x in _flatten(item)]
    return [s]


def _pack_like(structure, flat):
    """``flat`` (a list) arranged as ``structure`` (nested lists)."""
    it = iter(flat)

    def pack(s):
        if _is_nested(s):
            return [pack(x) for x in s]
        return next(it)

    return pack(structure)


def run_steps(step, x, states, mask=None, go_backwards=False, zero_output_for_mask=False, return_sequences=False):
    """Keras's ``backend.rnn`` as a loop over time steps: ``step(x_t, states) -> (output, new_states)``
    with ``states`` in the structure given; ``mask`` a (batch, time) bool array. Returns
    ``(last_output, outputs or None, final_states)``; outputs are in processing order."""
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    structure = states
    flat = _flatten(states)
    outputs, prev = [], None
    for t in steps:
        out, new = step(ops.getitem(x, (slice(None), t)), _pack_like(structure, flat))
        new_flat = _flatten(new if _is_nested(new) else [new])
        if len(new_flat) != len(flat):
            raise ValueError(f"the RNN cell returned {len(new_flat)} state(s) where it was given {len(flat)}")
        if mask is not None:
            keep = mask[:, t][:, None]
            if prev is None or zero_output_for_mask:
                prev = Tensor(out.xp.zeros(out.shape, dtype=out.dtype))
            out = ops.where(keep, out, prev)
            new_flat = [ops.where(keep, n, o) for n, o in zip(new_flat, flat)]
        prev = out
        flat = new_flat
        if return_sequences:
            outputs.append(out)
    seq = ops.stack(outputs, axis=1) if return_sequences else None
    return prev, seq, _pack_like(structure, flat)
