"""``timeseries_dataset_from_array``: sliding windows over an array as a ``Dataset`` of batches."""
from __future__ import annotations

import numpy as np

from . import dataset_utils


def _window_starts(n_data, n_targets, sequence_length, sequence_stride, sampling_rate, start_index, end_index):
    num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
    if n_targets is not None:
        num_seqs = min(num_seqs, n_targets)
    return np.arange(0, max(num_seqs, 0), sequence_stride, dtype=np.int64)


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1, batch_size=128,
                                  shuffle=False, seed=None, start_index=None, end_index=None, format="tf"):
    """Windows of ``data[start_index:end_index]`` as a ``Dataset`` (Keras 3 semantics).

    Window ``i`` starts at ``i * sequence_stride`` (relative to ``start_index``) and takes
    ``sequence_length`` timesteps ``sampling_rate`` apart; its target (when ``targets`` is
    given) is ``targets[start_index + start]``. ``shuffle`` shuffles the windows (once with
    ``np.random.RandomState(seed)``, as Keras, then anew each epoch); batches are
    ``windows`` or ``(windows, targets)`` of ``batch_size`` (None: single windows).
    """
    data = np.asarray(getattr(data, "data", data))
    if data.ndim == 0:
        raise ValueError("timeseries_dataset_from_array: `data` must be an array with a time axis, got a scalar")
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: start_index={start_index}")
        if start_index >= n:
            raise ValueError("`start_index` must be lower than the length of the data. Received: "
                             f"start_index={start_index}, for data of length {n}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError("`end_index` must be higher than `start_index`. Received: "
                             f"start_index={start_index}, and end_index={end_index} ")
        if end_index >= n:
            raise ValueError("`end_index` must be lower than the length of the data. Received: "
                             f"end_index={end_index}, for data of length {n}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    if sampling_rate <= 0:
        raise ValueError(f"`sampling_rate` must be higher than 0. Received: sampling_rate={sampling_rate}")
    if sampling_rate >= n:
        raise ValueError("`sampling_rate` must be lower than the length of the data. Received: "
                         f"sampling_rate={sampling_rate}, for data of length {n}")
    if sequence_stride <= 0:
        raise ValueError(f"`sequence_stride` must be higher than 0. Received: sequence_stride={sequence_stride}")
    if sequence_stride >= n:
        raise ValueError("`sequence_stride` must be lower than the length of the data. Received: "
                         f"sequence_stride={sequence_stride}, for data of length {n}")
    if not isinstance(sequence_length, (int, np.integer)) or sequence_length <= 0:
        raise ValueError(f"`sequence_length` must be a positive integer, received {sequence_length!r}")
    if format != "tf":
        raise ValueError(f'`format` "{format}" is not supported: the result is a core.data.Dataset '
                         '(pass format="tf", the default)')
    start_index = int(start_index or 0)
    end_index = n if end_index is None else int(end_index)
    if targets is not None:
        targets = np.asarray(getattr(targets, "data", targets))
    starts = _window_starts(n, None if targets is None else len(targets), int(sequence_length),
                            int(sequence_stride), int(sampling_rate), start_index, end_index)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(starts)
    offsets = np.arange(int(sequence_length), dtype=np.int64) * int(sampling_rate)

    def fetch(idx):
        first = starts[idx]
        windows = data[start_index + first[:, None] + offsets]
        return windows if targets is None else (windows, targets[start_index + first])

    return dataset_utils.dataset_from_rows(len(starts), fetch, batch_size, shuffle, seed)
