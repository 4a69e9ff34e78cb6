"""``Discretization``: bucket continuous values by boundaries (given, or learned by ``adapt``
with Keras's approximate quantile summaries), output as bucket ids or encoded."""
from __future__ import annotations

import numpy as np

from ..autodiff import Tensor
from .base import Layer
from .category_encoding import _host, encode_categorical, encoded_shape

_MODES = ("int", "one_hot", "multi_hot", "count")


def summarize(values, epsilon):
    """Keras's quantile summary of a batch: every ``step``-th sorted value, weighted ``step``."""
    values = np.sort(np.reshape(values, [-1]))
    step = max(values.size / (1.0 / epsilon), 1)
    boundaries = values[int(step - 1)::int(step)]
    return np.stack([boundaries, np.ones_like(boundaries) * step])


def compress_summary(summary, epsilon):
    """Re-bin a summary to about 1 / epsilon bins by interpolating cumulative weights."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum = summary[1].cumsum()
    cum_pct = cum / cum[-1]
    bins = np.interp(percents, cum_pct, summary[0])
    cum = np.interp(percents, cum_pct, cum)
    weights = cum - np.concatenate((np.array([0]), cum[:-1]))
    return np.stack((bins, weights)).astype("float32")


def merge_summaries(prev, nxt, epsilon):
    merged = np.concatenate((prev, nxt), axis=1)
    merged = np.take(merged, np.argsort(merged[0]), axis=1)
    return compress_summary(merged, epsilon)


class Discretization(Layer):
    """Map each value to the index of its bucket (``np.digitize`` with ``bin_boundaries``:
    bucket i holds ``boundaries[i - 1] <= x < boundaries[i]``), then encode per ``output_mode``
    ("int" ids as int32, or "one_hot"/"multi_hot"/"count"). ``num_bins`` + ``adapt(data)`` learns
    the boundaries as approximate quantiles (``epsilon`` their error)."""

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False,
                 dtype=None, name=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if sparse:
            raise ValueError("Discretization: sparse=True is not supported (no sparse tensors here)")
        if output_mode not in _MODES:
            raise ValueError(f"Unknown value for `output_mode`. Allowed values are {list(_MODES)}. Received: "
                             f"output_mode={output_mode!r}")
        if num_bins is not None and num_bins < 0:
            raise ValueError(f"`num_bins` must be greater than or equal to 0. Received: `num_bins={num_bins}`")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"Both `num_bins` and `bin_boundaries` should not be set. Received: `num_bins={num_bins}` "
                             f"and `bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("You need to set either `num_bins` or `bin_boundaries`.")
        self.bin_boundaries = None if bin_boundaries is None else list(bin_boundaries)
        self.num_bins, self.epsilon, self.output_mode, self.sparse = num_bins, epsilon, output_mode, False
        self.summary = None if self.bin_boundaries else np.array([[], []], dtype="float32")
        self.built = True

    def _check_input(self, inputs):
        pass

    def adapt(self, data, steps=None):
        """Learn ``num_bins`` quantile boundaries from an array or an iterable of batches."""
        if self.num_bins is None:
            raise ValueError("Cannot adapt a Discretization layer that has been initialized with `bin_boundaries`, "
                             "use `num_bins` instead.")
        self.reset_state()
        if isinstance(data, (np.ndarray, list, tuple, Tensor)):
            self.update_state(data)
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch[0] if isinstance(batch, tuple) else batch)
        self.finalize_state()

    def update_state(self, data):
        self.summary = merge_summaries(summarize(np.asarray(_host(data), dtype="float32"), self.epsilon),
                                       self.summary, self.epsilon)

    def finalize_state(self):
        if self.num_bins is not None:
            self.bin_boundaries = compress_summary(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def reset_state(self):
        if self.num_bins is not None:
            self.summary = np.array([[], []], dtype="float32")

    def _depth(self):
        return len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError("You need to either pass the `bin_boundaries` argument at construction time or call "
                             "`adapt(dataset)` before you can start using the `Discretization` layer.")
        x = _host(inputs)
        idx = np.digitize(x, np.asarray(self.bin_boundaries, dtype=x.dtype if x.dtype.kind == "f" else "float64"))
        dtype = "int32" if self.output_mode == "int" else self.compute_dtype
        return Tensor(encode_categorical(idx, self.output_mode, self._depth(), dtype))

    def _output_dtype(self, inputs):
        return "int32" if self.output_mode == "int" else self.compute_dtype

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        depth = self._depth()
        if self.output_mode == "one_hot":
            return encoded_shape(shape, "one_hot", depth)
        if len(shape) >= 2:
            return (shape[0],) + shape[2:] + (depth,)
        return (depth,)

    def get_config(self):
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse, "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            boundaries = config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = boundaries
            return layer
        return cls(**config)
