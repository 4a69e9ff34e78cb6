"""Copy a PyTorch state dict into a model built here: NCHW kernels to NHWC/Keras layouts, Linear
to Dense transposes, BatchNorm running statistics, LSTM/GRU gate layouts.

    load_torch_state_dict(model, state_dict, {"conv": "features.0", "fc": "classifier"})

maps each named layer here to a PyTorch module prefix. Every key the mapping uses must exist with
the right shape; with ``strict=True`` (default) unused keys of the state dict are an error too.
"""
from __future__ import annotations

import numpy as np

from .errors import WeightFileError


class StateDictMappingError(WeightFileError):
    """A state dict that does not fit the model: missing or unused keys, shape mismatches."""


def conv_kernel(w):
    """PyTorch Conv1d/Conv2d weight (O, I/g, *k) -> Keras (*k, I/g, O)."""
    w = np.asarray(w)
    return np.ascontiguousarray(np.moveaxis(w, (0, 1), (-1, -2)))


def depthwise_kernel(w, in_channels):
    """PyTorch depthwise Conv2d weight (C*m, 1, kh, kw) -> Keras DepthwiseConv2D (kh, kw, C, m)."""
    w = np.asarray(w)
    cm, one, kh, kw = w.shape
    if one != 1 or cm % in_channels:
        raise StateDictMappingError(f"weight of shape {w.shape} is not a depthwise kernel for {in_channels} channels")
    return np.ascontiguousarray(w.reshape(in_channels, cm // in_channels, kh, kw).transpose(2, 3, 0, 1))


def conv_transpose_kernel(w):
    """PyTorch ConvTranspose2d weight (I, O, kh, kw) -> Keras Conv2DTranspose (kh, kw, O, I)."""
    return np.ascontiguousarray(np.asarray(w).transpose(2, 3, 1, 0))


def linear_kernel(w):
    """PyTorch Linear weight (out, in) -> Keras Dense kernel (in, out)."""
    return np.ascontiguousarray(np.asarray(w).T)


def _get_checked(sd, key, used, limit=None):
    if key not in sd:
        raise StateDictMappingError(f"state dict has no key {key!r}")
    used.add(key)
    arr = np.asarray(sd[key])
    if limit is not None and arr.size > limit:
        raise StateDictMappingError(f"state dict key {key!r} has shape {arr.shape} ({arr.size} elements), far "
                                    "more than the weights of the layer it maps to hold")
    return arr


def _layer_arrays(layer, sd, prefix, used):
    """The arrays for ``layer.weights`` (in order) from the PyTorch module at ``prefix``."""
    from ..layers import (GRU, LSTM, BatchNormalization, Conv1D, Conv2D, Conv2DTranspose, Dense,
                          DepthwiseConv2D, Embedding, LayerNormalization)

    p = prefix + "." if prefix else ""
    name = type(layer).__name__
    # a source tensor far larger than the layer's weights is refused before a transpose copies it
    # (smaller mismatches get the per-weight shape message after the transform)
    limit = 4 * max((int(np.prod(w.shape)) for w in layer.weights), default=0) + 65536

    def _get(sd, key, used):
        return _get_checked(sd, key, used, limit)
    if isinstance(layer, DepthwiseConv2D):
        w = _get(sd, p + "weight", used)
        out = [depthwise_kernel(w, layer.weights[0].shape[2])]
        if layer.use_bias:
            out.append(_get(sd, p + "bias", used))
        return out
    if isinstance(layer, Conv2DTranspose):
        out = [conv_transpose_kernel(_get(sd, p + "weight", used))]
        if layer.use_bias:
            out.append(_get(sd, p + "bias", used))
        return out
    if isinstance(layer, (Conv1D, Conv2D)):
        out = [conv_kernel(_get(sd, p + "weight", used))]
        if layer.use_bias:
            out.append(_get(sd, p + "bias", used))
        return out
    if isinstance(layer, Dense):
        out = [linear_kernel(_get(sd, p + "weight", used))]
        if layer.use_bias:
            out.append(_get(sd, p + "bias", used))
        return out
    if isinstance(layer, BatchNormalization):
        out = []
        if layer.scale:
            out.append(_get(sd, p + "weight", used))
        if layer.center:
            out.append(_get(sd, p + "bias", used))
        out += [_get(sd, p + "running_mean", used), _get(sd, p + "running_var", used)]
        if p + "num_batches_tracked" in sd:
            used.add(p + "num_batches_tracked")
        return out
    if isinstance(layer, LayerNormalization):
        out = []
        if layer.scale:
            out.append(_get(sd, p + "weight", used))
        if layer.center:
            out.append(_get(sd, p + "bias", used))
        return out
    if isinstance(layer, Embedding):
        return [_get(sd, p + "weight", used)]
    if isinstance(layer, LSTM):
        # PyTorch gates i, f, g, o == Keras i, f, c, o; two biases summed
        out = [_get(sd, p + "weight_ih_l0", used).T.copy(), _get(sd, p + "weight_hh_l0", used).T.copy()]
        if layer.cell.use_bias:
            out.append(_get(sd, p + "bias_ih_l0", used) + _get(sd, p + "bias_hh_l0", used))
        return out
    if isinstance(layer, GRU):
        if not layer.cell.reset_after:
            raise StateDictMappingError(f"layer '{layer.name}': PyTorch GRU matches Keras GRU(reset_after=True) only")

        def zrh(a):  # PyTorch r, z, n -> Keras z, r, h along the gate axis 0
            r, z, n = np.split(a, 3, axis=0)
            return np.concatenate([z, r, n], axis=0)

        out = [zrh(_get(sd, p + "weight_ih_l0", used)).T.copy(), zrh(_get(sd, p + "weight_hh_l0", used)).T.copy()]
        if layer.cell.use_bias:
            out.append(np.stack([zrh(_get(sd, p + "bias_ih_l0", used)), zrh(_get(sd, p + "bias_hh_l0", used))]))
        return out
    raise StateDictMappingError(f"no PyTorch mapping for layer '{layer.name}' of class {name}")


def load_torch_state_dict(model, state_dict, mapping, strict=True):
    """Copy ``state_dict`` (name -> array) into ``model``: ``mapping`` is {layer name here: PyTorch
    module prefix}. Shapes are checked for every weight before anything is assigned."""
    used, assignments = set(), []
    for layer_name, prefix in mapping.items():
        layer = model.get_layer(layer_name)
        arrays = _layer_arrays(layer, state_dict, prefix, used)
        if len(arrays) != len(layer.weights):
            raise StateDictMappingError(f"layer '{layer_name}' has {len(layer.weights)} weights, the mapping "
                                        f"produced {len(arrays)} from {prefix!r}")
        for w, a in zip(layer.weights, arrays):
            if tuple(a.shape) != tuple(w.shape):
                raise StateDictMappingError(f"layer '{layer_name}' weight '{w.name}' expects shape {tuple(w.shape)}, "
                                            f"PyTorch '{prefix}' gives {tuple(a.shape)}")
            assignments.append((w, a))
    if strict:
        unused = sorted(set(state_dict) - used)
        if unused:
            raise StateDictMappingError(f"state dict keys not used by the mapping: {unused[:10]}"
                                        f"{' ...' if len(unused) > 10 else ''} (pass strict=False to ignore them)")
        unmapped = [l.name for l in model.layers if l.weights and l.name not in mapping]
        if unmapped:
            raise StateDictMappingError(f"model layers with weights that the mapping leaves out: {unmapped}")
    for w, a in assignments:
        w.assign(a)
