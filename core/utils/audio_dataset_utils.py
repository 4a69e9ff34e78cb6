"""``audio_dataset_from_directory``: a folder of class sub-folders of WAV files as a ``Dataset`` of
``(audio, labels)`` batches, audio float32 ``(batch, samples, channels)`` in [-1, 1] as
``tf.audio.decode_wav`` gives it."""
from __future__ import annotations

import io
import os
import wave

import numpy as np

from . import dataset_utils

ALLOWED_FORMATS = (".wav",)


def decode_wav_file(path, desired_samples=-1):
    """A PCM WAV file as float32 ``(samples, channels)``: integer samples divided by ``2^(bits-1)``
    (8-bit samples are unsigned, centred first); ``desired_samples >= 0`` truncates or pads with
    zeros. The file is read whole first, so a header cannot make it allocate more than its size.
    Raises ValueError naming the file when it is not a PCM WAV file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        with wave.open(io.BytesIO(data)) as w:
            channels, width = w.getnchannels(), w.getsampwidth()
            raw = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as e:
        raise ValueError(f"could not decode the WAV file {os.fspath(path)!r}: {type(e).__name__}: {e}") from None
    if channels < 1 or width not in (1, 2, 3, 4):
        raise ValueError(f"could not decode the WAV file {os.fspath(path)!r}: {channels} channels of {width}-byte "
                         "samples (PCM with 8, 16, 24 or 32-bit samples is supported)")
    n = len(raw) // (width * channels)
    raw = raw[:n * width * channels]
    if width == 1:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16))
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        samples = ints.astype(np.float32) / np.float32(1 << 23)
    else:
        ints = np.frombuffer(raw, "<i2" if width == 2 else "<i4")
        samples = (ints.astype(np.float64) / float(1 << (8 * width - 1))).astype(np.float32)
    audio = samples.reshape(n, channels)
    if desired_samples is not None and desired_samples >= 0:
        if n >= desired_samples:
            audio = audio[:desired_samples]
        else:
            audio = np.concatenate([audio, np.zeros((desired_samples - n, channels), np.float32)])
    return audio


def _pad_batch(clips):
    """Clips of different lengths zero-padded to the longest (``padded_batch``)."""
    longest = max(len(c) for c in clips)
    out = np.zeros((len(clips), longest, clips[0].shape[1]), np.float32)
    for i, c in enumerate(clips):
        out[i, :len(c)] = c
    return out


def audio_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                 sampling_rate=None, output_sequence_length=None, ragged=False, shuffle=True,
                                 seed=None, validation_split=None, subset=None, follow_links=False, verbose=True):
    """A ``Dataset`` of WAV batches from ``directory`` (Keras 3 semantics; labels, splits and
    shuffling as ``image_dataset_from_directory``). ``output_sequence_length`` truncates or pads
    every clip to that many samples; otherwise each batch is padded to its longest clip. The
    result has ``.class_names`` and ``.file_paths``. ``sampling_rate`` (resampling) and
    ``ragged`` are not supported yet."""
    labels, label_mode = dataset_utils.check_label_arguments(labels, label_mode, class_names, "audio")
    if ragged and output_sequence_length is not None:
        raise ValueError("Cannot set both `ragged` and `output_sequence_length`")
    if ragged:
        raise NotImplementedError("audio_dataset_from_directory: ragged=True is not supported yet (no ragged "
                                  "tensors); pass output_sequence_length or let each batch be padded")
    if sampling_rate is not None:
        if not isinstance(sampling_rate, int) or sampling_rate <= 0:
            raise ValueError(f"`sampling_rate` should be a positive integer. Received: sampling_rate={sampling_rate}")
        raise NotImplementedError("audio_dataset_from_directory: sampling_rate (resampling) is not supported yet; "
                                  "resample the files beforehand")
    if output_sequence_length is not None and (not isinstance(output_sequence_length, (int, np.integer))
                                               or output_sequence_length <= 0):
        raise ValueError("`output_sequence_length` must be a positive integer or None, received "
                         f"{output_sequence_length!r}")
    dataset_utils.check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)
    file_paths, labels, class_names = dataset_utils.index_directory(
        directory, labels, formats=ALLOWED_FORMATS, class_names=class_names, shuffle=shuffle, seed=seed,
        follow_links=follow_links, verbose=verbose)
    dataset_utils.check_binary_classes(label_mode, class_names)
    num_classes = len(class_names) if class_names else 0

    def make(paths, labs, shuffled):
        paths = list(paths)
        encoded = None if label_mode is None else dataset_utils.encode_labels(labs, label_mode, num_classes)
        length = -1 if output_sequence_length is None else int(output_sequence_length)

        def fetch(idx):
            clips = [decode_wav_file(paths[i], length) for i in idx]
            if batch_size is None and length < 0:  # single clips keep their own lengths
                audio = np.empty(len(clips), dtype=object)
                audio[:] = clips
            else:
                audio = _pad_batch(clips)
            return audio if encoded is None else (audio, encoded[idx])

        ds = dataset_utils.dataset_from_rows(len(paths), fetch, batch_size, shuffled, seed)
        ds.file_paths = paths
        return ds

    return dataset_utils.datasets_for_subset(
        file_paths, labels, class_names, validation_split, subset, shuffle, verbose, make,
        lambda which: f"No {which + ' ' if which else ''}audio files found in directory {directory}. "
                      f"Allowed format(s): {ALLOWED_FORMATS}")
