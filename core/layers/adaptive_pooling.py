"""Adaptive pooling (Keras 3): ``AdaptiveAveragePooling1D/2D/3D`` and ``AdaptiveMaxPooling1D/2D/3D``
pool any input size to a fixed ``output_size``. Output cell i of an axis of length L covers
[floor(i * L / out), ceil((i + 1) * L / out)), as PyTorch's adaptive pooling and Keras's
"two-pool gather". Separable per axis: averages as a matrix product with the (out, L) window
weights, maxima as a gather of each window (padded by repeating its last cell) and a max."""
from __future__ import annotations

import numpy as np

from .. import ops
from .base import Layer
from .convolutional import check_ndim

_LAYOUTS = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)",
            3: "(batch, depth, height, width, channels)"}


def adaptive_windows(length, out):
    """(starts, ends) of the ``out`` windows over an axis of ``length`` (float32 arithmetic, as Keras)."""
    i = np.arange(out, dtype=np.float32)
    starts = np.floor(i * np.float32(length) / np.float32(out)).astype(np.int64)
    ends = np.ceil((i + 1) * np.float32(length) / np.float32(out)).astype(np.int64)
    return np.minimum(starts, length - 1), np.minimum(ends, length)


class _AdaptivePooling(Layer):
    rank = 2
    mode = "average"

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        n, cls = self.rank, type(self).__name__
        if isinstance(output_size, int) and not isinstance(output_size, bool):
            size = (output_size,) * n
        elif isinstance(output_size, (tuple, list)) and len(output_size) == n:
            size = tuple(int(v) for v in output_size)
        else:
            raise TypeError(f"{cls}: `output_size` must be an integer or a tuple of {n} integers. Received: "
                            f"{output_size!r} of type {type(output_size)}")
        if any(v <= 0 for v in size):
            raise ValueError(f"{cls}: `output_size` must be positive, got {size}")
        self.output_size = size
        fmt = data_format or "channels_last"
        if fmt not in ("channels_first", "channels_last"):
            raise ValueError(f"Invalid data_format: {fmt}. Expected 'channels_first' or 'channels_last'.")
        self.data_format = fmt
        self.built = True

    def _axes(self):
        return tuple(range(2, 2 + self.rank)) if self.data_format == "channels_first" else tuple(range(1, 1 + self.rank))

    def call(self, inputs):
        check_ndim(self, inputs.shape, self.rank + 2, _LAYOUTS[self.rank])
        y = inputs
        for axis, out in zip(self._axes(), self.output_size):
            length = y.shape[axis]
            starts, ends = adaptive_windows(length, out)
            if self.mode == "average":
                w = np.zeros((length, out), dtype=y.dtype)
                for j in range(out):  # the (L, out) window weights, one column per output cell
                    w[starts[j]:ends[j], j] = 1.0 / (ends[j] - starts[j])
                moved = ops.swapaxes(y, axis, -1)
                y = ops.swapaxes(ops.matmul(moved, y.xp.asarray(w)), axis, -1)
            else:
                width = int((ends - starts).max())
                idx = np.minimum(starts[:, None] + np.arange(width)[None, :], (ends - 1)[:, None])
                gathered = ops.getitem(y, (slice(None),) * axis + (idx,))
                y = ops.max(gathered, axis=axis + 1)
        return y

    def compute_output_shape(self, input_shape):
        check_ndim(self, input_shape, self.rank + 2, _LAYOUTS[self.rank])
        if self.data_format == "channels_last":
            return (input_shape[0],) + self.output_size + (input_shape[-1],)
        return (input_shape[0], input_shape[1]) + self.output_size

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size, "data_format": self.data_format}


class AdaptiveAveragePooling1D(_AdaptivePooling):
    """Average-pool the steps axis to ``output_size`` cells."""
    rank, mode = 1, "average"


class AdaptiveAveragePooling2D(_AdaptivePooling):
    """Average-pool height and width to ``output_size`` = (height, width)."""
    rank, mode = 2, "average"


class AdaptiveAveragePooling3D(_AdaptivePooling):
    """Average-pool depth, height and width to ``output_size``."""
    rank, mode = 3, "average"


class AdaptiveMaxPooling1D(_AdaptivePooling):
    """Max-pool the steps axis to ``output_size`` cells."""
    rank, mode = 1, "max"


class AdaptiveMaxPooling2D(_AdaptivePooling):
    """Max-pool height and width to ``output_size`` = (height, width)."""
    rank, mode = 2, "max"


class AdaptiveMaxPooling3D(_AdaptivePooling):
    """Max-pool depth, height and width to ``output_size``."""
    rank, mode = 3, "max"
