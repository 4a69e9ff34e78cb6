"""Preprocessing layers (Keras 3 semantics): Rescaling, Normalization (with ``adapt``),
Resizing, and the image augmentations RandomFlip, RandomCrop and RandomRotation.

The random layers draw one transformation per image (RandomCrop: one crop per batch, as
Keras 3), vectorised over the batch, from a local generator when ``seed`` is given (its state
advances every call) or else from the engine generator of ``core.random``, so
``core.utils.set_random_seed(n)`` makes them repeatable. As in Keras 3, they transform only
in training: ``model.predict``/``evaluate`` and ``training=False`` leave images unchanged
(cast to float32); a standalone call without ``training`` counts as training, as Keras's
``call(data, training=True)`` default does.
"""
from __future__ import annotations

import numbers
import random as _pyrandom

import numpy as np

from .. import ops
from ..random import generator as zrandom
from ..autodiff import Tensor
from ..ops import image as image_ops
from ..serialization_lib import deserialize_keras_object, serialize_keras_object
from .base import Layer, current_training, is_symbolic

_KERAS_EPSILON = 1e-7  # keras.backend.epsilon()


def _serialize_value(v):
    """Keras's serialize_keras_object for scale/offset/mean values (arrays -> "__numpy__" dicts)."""
    return serialize_keras_object(v.numpy() if isinstance(v, Tensor) else v)


def _deserialize_value(v):
    if isinstance(v, dict) and v.get("class_name") == "__numpy__":
        return deserialize_keras_object(v)
    return v


def _data_format(name, data_format):
    fmt = data_format or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"{name}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return fmt


# --------------------------------------------------------------------------- Rescaling
class Rescaling(Layer):
    """``inputs * scale + offset`` in float32 (e.g. ``Rescaling(1 / 255)``); ``scale``/``offset``
    may be per-channel arrays broadcasting against the input."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _deserialize_value(scale)
        self.offset = _deserialize_value(offset)
        self.supports_masking = True

    def _check_input(self, inputs):  # no weights: any shape
        pass

    def call(self, inputs):
        dt = np.dtype(self.compute_dtype)
        x = inputs if inputs.dtype == dt else ops.cast(inputs, dt)
        xp = x.xp
        scale = xp.asarray(np.asarray(self.scale, dtype=dt))
        offset = xp.asarray(np.asarray(self.offset, dtype=dt))
        return x * Tensor(scale) + Tensor(offset)

    def _output_dtype(self, inputs):
        return self.compute_dtype

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": _serialize_value(self.scale),
                "offset": _serialize_value(self.offset)}


# --------------------------------------------------------------------------- Normalization
def _extract_batch(batch):
    """The features of a dataset element: ``x`` of ``(x, y)`` / ``(x, y, w)``."""
    if isinstance(batch, (tuple, list)) and batch and not isinstance(batch[0], (int, float)):
        batch = batch[0]
    if isinstance(batch, Tensor):
        return batch.numpy()
    return np.asarray(batch)


class _Moments:
    """Streaming per-feature mean and (biased) variance in float64 (Chan et al.'s merge)."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, None, None

    def add(self, chunk, axes):
        c = np.asarray(chunk, dtype=np.float64)
        n = int(np.prod([c.shape[a] for a in axes])) if axes else 1
        if n == 0:
            return
        mean = c.mean(axis=axes) if axes else c
        d = c - (np.expand_dims(mean, axes) if axes else mean)
        m2 = (d * d).sum(axis=axes) if axes else np.zeros_like(c)
        if self.mean is None:
            self.n, self.mean, self.m2 = n, mean, m2
            return
        tot = self.n + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / tot)
        self.m2 = self.m2 + m2 + delta * delta * (self.n * n / tot)
        self.n = tot

    def result(self):
        return self.mean, self.m2 / self.n


class Normalization(Layer):
    """Feature-wise standardization ``(x - mean) / max(sqrt(variance), 1e-7)`` (``invert=True``:
    ``mean + x * max(sqrt(variance), 1e-7)``), as Keras. ``axis`` names the axes that keep their
    own statistics (default -1: per feature); ``mean``/``variance`` can be given, or learned by
    ``adapt(data)`` from a NumPy array, a Tensor, a ``core.data.Dataset`` or an iterable of batches.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)):
            axis = (int(axis),)
        else:
            axis = tuple(int(a) for a in axis)
        self.axis = axis
        mean, variance = _deserialize_value(mean), _deserialize_value(variance)
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self.supports_masking = True
        self._build_input_shape = None
        self.mean = self.variance = None
        if (mean is not None) != (variance is not None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be set. "
                             f"Received: mean={mean} and variance={variance}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError("When setting values directly, `mean` and `variance` must have the same shape. "
                                 f"Received: mean shape {np.shape(mean)} and variance shape {np.shape(variance)}")
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(f"The rank of `mean` must be less than or equal to the number of axes "
                                 f"({len(self.axis)}). Received: mean shape {np.shape(mean)} for axis {self.axis}")

    def build(self, input_shape):
        if input_shape is None:
            return
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        self._build_input_shape = input_shape
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                             f"ndim={ndim}, while axis={self.axis}")
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError(f"All `axis` values to be kept must have a known shape. Received axis={self.axis}, "
                                 f"inputs.shape={input_shape}, with unknown axis at index {d}")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(input_shape[d] if d in self._keep_axis else 1 for d in range(ndim))
        self._mean_and_var_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(self._mean_and_var_shape, "zeros", name="mean", trainable=False)
            self.adapt_variance = self.add_weight(self._mean_and_var_shape, "ones", name="variance",
                                                  trainable=False)
            # Keras keeps an int64 scalar "count" (never updated) for old saved models; a Parameter
            # must be created floating, so its data is swapped for an int64 zero.
            self.count = self.add_weight((), "zeros", name="count", trainable=False)
            self.count.data = self.count.xp.zeros((), dtype=np.int64)
        else:
            mean = np.asarray(self.input_mean, dtype=np.float64)
            var = np.asarray(self.input_variance, dtype=np.float64)
            if mean.ndim:
                expanded = [1] * ndim
                for i in range(1, mean.ndim + 1):
                    expanded[self._keep_axis[-i]] = mean.shape[-i]
                mean, var = mean.reshape(expanded), var.reshape(expanded)
            self.mean = np.broadcast_to(mean, self._broadcast_shape).astype(self.compute_dtype)
            self.variance = np.broadcast_to(var, self._broadcast_shape).astype(self.compute_dtype)
        self.built = True

    def _stats(self, xp):
        if self.input_mean is not None:
            return xp.asarray(self.mean), xp.asarray(self.variance)
        shape = self._broadcast_shape
        return self.adapt_mean.data.reshape(shape), self.adapt_variance.data.reshape(shape)

    def _check_input(self, inputs):
        shape = self._build_input_shape
        if shape is None or not isinstance(inputs, Tensor):
            return
        try:
            ok = np.broadcast_shapes(tuple(inputs.shape), self._broadcast_shape) == tuple(inputs.shape)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"Input to layer '{self.name}' is incompatible: its statistics have shape "
                             f"{self._broadcast_shape} (built for {shape}), got input shape {tuple(inputs.shape)}")

    def call(self, inputs):
        dt = np.dtype(self.compute_dtype)
        x = inputs if inputs.dtype == dt else ops.cast(inputs, dt)
        mean, var = self._stats(x.xp)
        mean, var = mean.astype(dt, copy=False), var.astype(dt, copy=False)
        denom = x.xp.maximum(x.xp.sqrt(var), dt.type(_KERAS_EPSILON))
        if self.invert:
            return Tensor(mean) + x * Tensor(denom)
        return (x - Tensor(mean)) / Tensor(denom)

    def adapt(self, data, batch_size=None, steps=None):
        """Compute the mean and variance of ``data`` over every axis but ``axis``: a NumPy array or
        Tensor (read in chunks, never copied whole), a ``core.data.Dataset`` (elements ``x`` or
        ``(x, y)``; unbatched rank-1 elements are grouped by 128, as Keras) or an iterable of batches."""
        from ..data import Dataset

        if isinstance(data, Tensor):
            data = data.numpy()
        if isinstance(data, np.ndarray):
            input_shape = data.shape
            batches = None
        elif isinstance(data, Dataset) or hasattr(data, "__iter__"):
            it = iter(data)
            first = next(it, None)
            if first is None:
                raise ValueError("adapt() received an empty dataset/iterable (no batches); expected at least one "
                                 "batch, e.g. layer.adapt([x]) or layer.adapt(dataset)")
            first = _extract_batch(first)
            if first.dtype == object:
                raise TypeError(f"adapt() expects batches of arrays; got an element of type {type(first).__name__}")
            if isinstance(data, Dataset) and first.ndim == 1 and not getattr(data, "_is_batched", False):
                batches = self._rebatch(first, it, 128)
                input_shape = (None,) + first.shape
            else:
                batches = self._chain(first, it)
                input_shape = first.shape
        else:
            raise TypeError(f"Unsupported data type: {type(data).__name__}. `adapt` supports NumPy arrays, Tensors, "
                            "core.data.Dataset and iterables of batches (e.g. a list or generator).")
        if not self.built:
            self.build(input_shape)
        else:
            self._check_adapt_shape(input_shape)
        if self.input_mean is not None:
            raise ValueError("Normalization was given `mean` and `variance`; it cannot also be adapted")
        moments = _Moments()
        if batches is None:
            self._adapt_array(moments, data)
        else:
            for batch in batches:
                self._check_adapt_shape(batch.shape)
                self._adapt_array(moments, batch)
        if moments.mean is None:
            raise ValueError("adapt() received no data (every batch was empty)")
        mean, var = moments.result()
        self.adapt_mean.assign(np.asarray(mean, dtype=self.adapt_mean.dtype).reshape(self._mean_and_var_shape))
        self.adapt_variance.assign(np.asarray(var, dtype=self.adapt_variance.dtype).reshape(self._mean_and_var_shape))

    def _check_adapt_shape(self, shape):
        for d in self._keep_axis:
            if len(shape) != len(self._build_input_shape) or shape[d] != self._build_input_shape[d]:
                raise ValueError(f"The layer was built with input_shape={self._build_input_shape}, but adapt() is "
                                 f"being called with data with an incompatible shape, data.shape={tuple(shape)}")

    @staticmethod
    def _chain(first, it):
        yield first
        for b in it:
            yield _extract_batch(b)

    @staticmethod
    def _rebatch(first, it, size):
        buf = [first]
        for b in it:
            buf.append(_extract_batch(b))
            if len(buf) == size:
                yield np.stack(buf)
                buf = []
        if buf:
            yield np.stack(buf)

    def _adapt_array(self, moments, arr, chunk_elems=1 << 20):
        axes = self._reduce_axis
        if not axes:
            moments.add(arr, axes)
            return
        a0 = axes[0]
        n0 = arr.shape[a0]
        per = max(1, arr.size // max(n0, 1))
        step = max(1, chunk_elems // per)
        for i in range(0, n0, step):  # chunks of ~1M values along the first reduced axis
            idx = (slice(None),) * a0 + (slice(i, i + step),)
            moments.add(arr[idx], axes)

    def _output_dtype(self, inputs):
        return self.compute_dtype

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        def tolist(v):
            v = _deserialize_value(v)
            return np.array(v).tolist()

        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": tolist(self.input_mean), "variance": tolist(self.input_variance)}


# --------------------------------------------------------------------------- image layers
class _ImageLayer(Layer):
    """Shared by the image layers: data_format, the (H, W) axes and rank-3/4 inputs."""

    def __init__(self, data_format=None, bounding_box_format=None, **kwargs):
        super().__init__(**kwargs)
        if bounding_box_format is not None:
            raise NotImplementedError(f"{type(self).__name__}: bounding boxes are not supported "
                                      f"(bounding_box_format={bounding_box_format!r})")
        self.bounding_box_format = None
        self.data_format = _data_format(type(self).__name__, data_format)
        self.height_axis, self.width_axis = (-2, -1) if self.data_format == "channels_first" else (-3, -2)

    def _check_input(self, inputs):  # no weights: any image size
        pass

    def _images(self, inputs):
        if isinstance(inputs, dict):
            raise NotImplementedError(f"{type(self).__name__}: dict inputs (images/labels/bounding_boxes) are not "
                                      "supported; pass the image batch")
        if inputs.ndim not in (3, 4):
            raise ValueError("Expected image tensor to have rank 3 (single image) or 4 (batch of images). "
                             f"Received: data.shape={tuple(inputs.shape)}")
        return inputs

    def _as_float(self, x):
        dt = np.dtype(self.compute_dtype)
        return x if x.dtype == dt else ops.cast(x, dt)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class _RandomImageLayer(_ImageLayer):
    """An augmentation: transforms in training only; a standalone call defaults to training."""

    def _init_seed(self, seed):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"{type(self).__name__}: seed must be None or a non-negative int, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._generator = np.random.default_rng(self.seed) if seed is not None else None

    def __call__(self, *args, **kwargs):
        if "training" not in kwargs and current_training() is None and not is_symbolic((args, kwargs)):
            kwargs["training"] = True  # Keras: BaseImagePreprocessingLayer.call(data, training=True)
        return super().__call__(*args, **kwargs)

    def _uniform(self, shape, low=0.0, high=1.0):
        return zrandom.uniform(shape, "float32", np, low=low, high=high, generator=self._generator)

    def _output_dtype(self, inputs):
        return self.compute_dtype

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class Resizing(_ImageLayer):
    """Resize images to (height, width) as Keras/TensorFlow (``half_pixel_centers``, no
    antialiasing): bilinear, nearest, bicubic or area; ``crop_to_aspect_ratio`` crops the
    largest centred box of the target aspect ratio first, ``pad_to_aspect_ratio`` pads with
    ``fill_value`` instead. Integer images come back rounded in their own dtype."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
                 fill_mode="constant", fill_value=0.0, antialias=False, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height, self.width = int(height), int(width)
        if self.height <= 0 or self.width <= 0:
            raise ValueError(f"Resizing: height and width must be positive, got ({height}, {width})")
        if interpolation not in image_ops.RESIZE_INTERPOLATIONS:
            raise ValueError(f"Resizing: interpolation must be one of {image_ops.RESIZE_INTERPOLATIONS}, "
                             f"got {interpolation!r}")
        if antialias:
            raise NotImplementedError("Resizing: antialias=True is not implemented (Keras's default is False)")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Resizing: only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can be `True`.")
        if fill_mode != "constant":
            raise ValueError(f"Resizing: only fill_mode='constant' is supported, got {fill_mode!r}")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.antialias = bool(antialias)

    def call(self, inputs):
        x = self._images(inputs)
        y = image_ops.resize(x, (self.height, self.width), interpolation=self.interpolation,
                             crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                             pad_to_aspect_ratio=self.pad_to_aspect_ratio, fill_value=self.fill_value,
                             data_format=self.data_format)
        if x.dtype.kind in "iub":
            xp = y.xp
            info = np.iinfo(x.dtype) if x.dtype.kind != "b" else None
            r = xp.round(y.data)
            if info is not None:
                r = xp.clip(r, info.min, info.max)
            return Tensor(r.astype(x.dtype))
        if y.dtype != x.dtype:
            y = ops.cast(y, x.dtype)
        return y

    def _output_dtype(self, inputs):
        return inputs.dtype if np.dtype(inputs.dtype).kind in "iub" else self.compute_dtype

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(f"Resizing expects rank-3 or rank-4 image shapes, got {tuple(input_shape)}")
        shape[self.height_axis] = self.height
        shape[self.width_axis] = self.width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias}


HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL = "horizontal", "vertical", "horizontal_and_vertical"


class RandomFlip(_RandomImageLayer):
    """Flip each image with probability 1/2 in training: ``mode`` "horizontal" (left-right),
    "vertical" (up-down) or "horizontal_and_vertical" (as Keras: one draw per image flips it
    both ways, i.e. a 180-degree rotation, or leaves it)."""

    def __init__(self, mode=HORIZONTAL_AND_VERTICAL, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if mode not in (HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL):
            raise ValueError(f"RandomFlip: mode must be one of '{HORIZONTAL}', '{VERTICAL}', "
                             f"'{HORIZONTAL_AND_VERTICAL}', got {mode!r}")
        self.mode = mode
        self._init_seed(seed)

    def call(self, inputs, training=True):
        x = self._as_float(self._images(inputs))
        if not training:
            return x
        n = x.shape[0] if x.ndim == 4 else 1
        flips = self._uniform((n,)) <= 0.5  # one draw per image
        cond = x.xp.asarray(flips.reshape((n, 1, 1, 1) if x.ndim == 4 else (1, 1, 1)))
        ndim = x.ndim

        def flip(t, axis):
            idx = [slice(None)] * ndim
            idx[axis] = slice(None, None, -1)
            return ops.getitem(t, tuple(idx))

        y = x
        if self.mode in (HORIZONTAL, HORIZONTAL_AND_VERTICAL):
            y = ops.where(cond, flip(y, ndim + self.width_axis), y)
        if self.mode in (VERTICAL, HORIZONTAL_AND_VERTICAL):
            y = ops.where(cond, flip(y, ndim + self.height_axis), y)
        return y

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "mode": self.mode}


class RandomCrop(_RandomImageLayer):
    """Crop a random (height, width) window in training: one window for the whole batch, as
    Keras 3. An input not larger than the target in both dimensions is centre-cropped to the
    target aspect ratio and resized (bilinear). At inference the input is returned unchanged,
    as Keras 3 does (so the output shape then differs from ``compute_output_shape``)."""

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        super().__init__(data_format=data_format, name=name, **kwargs)
        self.height, self.width = int(height), int(width)
        if self.height <= 0 or self.width <= 0:
            raise ValueError(f"RandomCrop: height and width must be positive, got ({height}, {width})")
        self._init_seed(seed)
        if self.seed is None:  # as Keras: a drawn default seed for the config; the generator stays unseeded
            self.seed = _pyrandom.randint(1, int(1e9))
        self.supports_masking = False

    def call(self, inputs, training=True):
        x = self._images(inputs)
        if not training:
            return x
        x = self._as_float(x)
        ih, iw = x.shape[self.height_axis], x.shape[self.width_axis]
        if ih > self.height and iw > self.width:
            h0 = int(self._uniform((), 0.0, float(ih - self.height + 1)))
            w0 = int(self._uniform((), 0.0, float(iw - self.width + 1)))
            h0, w0 = min(h0, ih - self.height), min(w0, iw - self.width)
            ch, cw = self.height, self.width
        else:
            ch = max(min(ih, int(float(iw * self.height) / self.width)), 1)
            cw = max(min(iw, int(float(ih * self.width) / self.height)), 1)
            h0, w0 = int(float(ih - ch) / 2), int(float(iw - cw) / 2)
        idx = [slice(None)] * x.ndim
        idx[x.ndim + self.height_axis] = slice(h0, h0 + ch)
        idx[x.ndim + self.width_axis] = slice(w0, w0 + cw)
        y = ops.getitem(x, tuple(idx))
        if (ch, cw) != (self.height, self.width):
            y = image_ops.resize(y, (self.height, self.width), data_format=self.data_format)
        return y

    def _output_dtype(self, inputs):
        return self.compute_dtype

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        shape[self.height_axis] = self.height
        shape[self.width_axis] = self.width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "seed": self.seed}


def _factor_pair(name, factor, bounds=(-1.0, 1.0)):
    msg = (f"{name}: the `factor` argument should be a number (or a list of two numbers) in the range "
           f"[{bounds[0]}, {bounds[1]}]. Received: factor={factor}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(isinstance(f, numbers.Real) for f in factor):
            raise ValueError(msg)
        if factor[0] > bounds[1] or factor[1] < bounds[0]:
            raise ValueError(msg)
        lower, upper = sorted(float(f) for f in factor)
    elif isinstance(factor, numbers.Real) and not isinstance(factor, bool):
        if factor < bounds[0] or factor > bounds[1]:
            raise ValueError(msg)
        f = abs(float(factor))
        lower, upper = max(-f, bounds[0]), f
    else:
        raise ValueError(msg)
    return lower, upper


class RandomRotation(_RandomImageLayer):
    """Rotate each image by its own random angle in ``factor * 360`` degrees (``factor`` a number
    f for [-f, f], or a pair) about its centre, in training; identity at inference. Sampling is
    TensorFlow's ImageProjectiveTransformV3 (``fill_mode`` reflect / wrap / constant / nearest,
    ``interpolation`` bilinear / nearest)."""

    _SUPPORTED_FILL_MODE = ("reflect", "wrap", "constant", "nearest")
    _SUPPORTED_INTERPOLATION = ("nearest", "bilinear")

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.factor = _factor_pair("RandomRotation", factor)
        if fill_mode not in self._SUPPORTED_FILL_MODE:
            raise NotImplementedError(f"Unknown `fill_mode` {fill_mode}. Expected of one {self._SUPPORTED_FILL_MODE}.")
        if interpolation not in self._SUPPORTED_INTERPOLATION:
            raise NotImplementedError(f"Unknown `interpolation` {interpolation}. Expected of one "
                                      f"{self._SUPPORTED_INTERPOLATION}.")
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value
        self._init_seed(seed)

    def call(self, inputs, training=True):
        x = self._as_float(self._images(inputs))
        if not training:
            return x
        n = x.shape[0] if x.ndim == 4 else 1
        lower, upper = self.factor
        angles = self._uniform((n,), lower * 360.0, upper * 360.0)  # one angle per image, degrees
        h, w = x.shape[self.height_axis], x.shape[self.width_axis]
        mats = image_ops.rotation_matrix(angles, h, w)
        return image_ops.affine_transform(x, mats if x.ndim == 4 else mats[0], interpolation=self.interpolation,
                                          fill_mode=self.fill_mode, fill_value=self.fill_value,
                                          data_format=self.data_format)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "interpolation": self.interpolation, "seed": self.seed}


__all__ = ["Rescaling", "Normalization", "Resizing", "RandomFlip", "RandomCrop", "RandomRotation"]
