"""More image preprocessing layers (Keras 3 semantics): ``CenterCrop`` and the augmentations
``RandomTranslation``, ``RandomZoom``, ``RandomContrast``, ``RandomBrightness``.

As Keras's image preprocessing layers, each random layer draws one transformation per image with
``get_random_transformation(images, training=True, seed=None)`` and applies it with
``transform_images(images, transformation, training=True)``; calling the layer does both, in
training only (a standalone call counts as training; ``model.predict`` leaves images unchanged).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autodiff import Tensor
from ..ops import image as image_ops
from .preprocessing import _factor_pair, _ImageLayer, _RandomImageLayer

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("nearest", "bilinear")


def _check_fill_and_interpolation(fill_mode, interpolation):
    if fill_mode not in _FILL_MODES:
        raise NotImplementedError(f"Unknown `fill_mode` {fill_mode}. Expected of one {_FILL_MODES}.")
    if interpolation not in _INTERPOLATIONS:
        raise NotImplementedError(f"Unknown `interpolation` {interpolation}. Expected of one {_INTERPOLATIONS}.")


class CenterCrop(_ImageLayer):
    """Crop the central (height, width) window of each image; an image smaller than the target is
    instead cropped to the target aspect ratio and resized (Keras's ``smart_resize``). Output float32."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height, self.width = int(height), int(width)

    def call(self, inputs):
        x = self._as_float(self._images(inputs))
        h, w = x.shape[self.height_axis], x.shape[self.width_axis]
        dh, dw = h - self.height, w - self.width
        if dh >= 0 and dw >= 0:
            idx = [slice(None)] * x.ndim
            idx[self.height_axis] = slice(dh // 2, dh // 2 + self.height)
            idx[self.width_axis] = slice(dw // 2, dw // 2 + self.width)
            return ops.getitem(x, tuple(idx))
        return image_ops.resize(x, (self.height, self.width), interpolation="bilinear", crop_to_aspect_ratio=True,
                                data_format=self.data_format)

    def _output_dtype(self, inputs):
        return self.compute_dtype

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if len(shape) not in (3, 4):
            raise ValueError("`input_shape` must be a non-nested tuple or list of rank-1 with size 3 (unbatched) or "
                             f"4 (batched). Received: {tuple(input_shape)}")
        shape[self.height_axis], shape[self.width_axis] = self.height, self.width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class _Augmentation(_RandomImageLayer):
    def call(self, inputs, training=True):
        x = self._as_float(self._images(inputs))
        if not training:
            return x
        return self.transform_images(x, self.get_random_transformation(x, training=True), training=True)

    def _batch(self, images):
        return images.shape[0] if images.ndim == 4 else 1

    def _affine(self, images, matrices):
        x = images if isinstance(images, Tensor) else Tensor(np.asarray(images, np.float32))
        x = self._as_float(x)
        return image_ops.affine_transform(x, matrices if x.ndim == 4 else matrices[0],
                                          interpolation=self.interpolation, fill_mode=self.fill_mode,
                                          fill_value=self.fill_value, data_format=self.data_format)


class RandomTranslation(_Augmentation):
    """Shift each image by a random fraction of its height (``height_factor``) and width
    (``width_factor``): a number f for [-f, f] or a pair; the uncovered area is filled by ``fill_mode``."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = _factor_pair("RandomTranslation", height_factor)
        self.width_lower, self.width_upper = _factor_pair("RandomTranslation", width_factor)
        _check_fill_and_interpolation(fill_mode, interpolation)
        self.fill_mode, self.fill_value, self.interpolation = fill_mode, fill_value, interpolation
        self._init_seed(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        n = self._batch(data)
        h, w = data.shape[self.height_axis], data.shape[self.width_axis]
        dy = self._uniform((n, 1), self.height_lower, self.height_upper) * np.float32(h)
        dx = self._uniform((n, 1), self.width_lower, self.width_upper) * np.float32(w)
        return {"translations": np.concatenate([dx, dy], axis=1).astype(np.float32)}

    def transform_images(self, images, transformation, training=True):
        if not training or transformation is None:
            return images
        t = np.asarray(transformation["translations"], np.float32)
        n = t.shape[0]
        one, zero = np.ones((n, 1), np.float32), np.zeros((n, 1), np.float32)
        mats = np.concatenate([one, zero, -t[:, :1], zero, one, -t[:, 1:], zero, zero], axis=1)
        return self._affine(images, mats)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor,
                "fill_mode": self.fill_mode, "interpolation": self.interpolation, "seed": self.seed,
                "fill_value": self.fill_value}


class RandomZoom(_Augmentation):
    """Zoom each image by a random factor about its centre: ``height_factor`` f draws the height
    scale in [1 - f, 1 + f] (negative = zoom in); ``width_factor`` None keeps the aspect ratio."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = self._zoom_factor(height_factor)
        if width_factor is not None:
            self.width_lower, self.width_upper = self._zoom_factor(width_factor)
        _check_fill_and_interpolation(fill_mode, interpolation)
        self.fill_mode, self.fill_value, self.interpolation = fill_mode, fill_value, interpolation
        self._init_seed(seed)

    @staticmethod
    def _zoom_factor(factor):
        lower, upper = _factor_pair("RandomZoom", factor)
        if lower <= -1.0:
            raise ValueError(f"RandomZoom: the `factor` argument should be a number (or a list of two numbers) in the "
                             f"range (-1.0, 1.0]. Received: factor={factor}")
        return lower, upper

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        n = self._batch(data)
        hz = self._uniform((n, 1), 1.0 + self.height_lower, 1.0 + self.height_upper)
        wz = hz if self.width_factor is None else self._uniform((n, 1), 1.0 + self.width_lower,
                                                                1.0 + self.width_upper)
        return {"height_zoom": hz, "width_zoom": wz}

    def transform_images(self, images, transformation, training=True):
        if not training or transformation is None:
            return images
        zx = np.asarray(transformation["width_zoom"], np.float32).reshape(-1, 1)
        zy = np.asarray(transformation["height_zoom"], np.float32).reshape(-1, 1)
        h, w = images.shape[self.height_axis], images.shape[self.width_axis]
        x_off = (np.float32(w) - np.float32(1)) / np.float32(2) * (np.float32(1) - zx)
        y_off = (np.float32(h) - np.float32(1)) / np.float32(2) * (np.float32(1) - zy)
        zero = np.zeros_like(zx)
        mats = np.concatenate([zx, zero, x_off, zero, zy, y_off, zero, zero], axis=1).astype(np.float32)
        return self._affine(images, mats)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor,
                "fill_mode": self.fill_mode, "interpolation": self.interpolation, "seed": self.seed,
                "fill_value": self.fill_value}


def _value_range(name, value_range):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"{name}: the `value_range` argument should be a list of two numbers. "
                         f"Received: value_range={value_range!r}")
    return sorted(value_range)


class RandomContrast(_Augmentation):
    """Scale each image's deviation from its per-channel mean by a random factor drawn in
    [1 - factor[0], 1 + factor[1]] (Keras 3.15: a number f gives factor (0, f)), then clip to
    ``value_range``."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(**kwargs)
        self.factor = _factor_pair("RandomContrast", factor, bounds=(0.0, 1.0))
        self.value_range = value_range
        self._init_seed(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        n = self._batch(data)
        if not training:
            return {"contrast_factor": np.zeros((n, 1, 1, 1), np.float32)}
        return {"contrast_factor": self._uniform((n, 1, 1, 1), 1.0 - self.factor[0], 1.0 + self.factor[1])}

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        f = np.asarray(transformation["contrast_factor"], np.float32)
        f = Tensor(images.xp.asarray(f.reshape((-1, 1, 1, 1) if images.ndim == 4 else (1, 1, 1))))
        mean = ops.mean(images, axis=(self.height_axis, self.width_axis), keepdims=True)
        out = (images - mean) * f + mean
        return ops.clip(out, float(self.value_range[0]), float(self.value_range[1]))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range, "seed": self.seed}


class RandomBrightness(_Augmentation):
    """Add a random delta (a fraction in ``factor`` of the ``value_range`` width) to each image,
    then clip to ``value_range``."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(**kwargs)
        self.factor = _factor_pair("RandomBrightness", factor)
        self.value_range = _value_range("RandomBrightness", value_range)
        self._init_seed(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        n = self._batch(data)
        if not training:
            return {"rgb_delta": np.zeros((n, 1, 1, 1), np.float32)}
        delta = self._uniform((n, 1, 1, 1), self.factor[0], self.factor[1])
        return {"rgb_delta": delta * np.float32(self.value_range[1] - self.value_range[0])}

    def transform_images(self, images, transformation, training=True):
        if not training:
            return images
        d = np.asarray(transformation["rgb_delta"], np.float32)
        d = Tensor(images.xp.asarray(d.reshape((-1, 1, 1, 1) if images.ndim == 4 else (1, 1, 1))).astype(images.dtype))
        return ops.clip(images + d, float(self.value_range[0]), float(self.value_range[1]))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range, "seed": self.seed}
