"""Batch-mixing and erasing augmentations (Keras 3 semantics): ``RandomErasing``, ``MixUp``, ``CutMix``.

Each takes an image batch, or a dict ``{"images": ..., "labels": ...}`` (MixUp and CutMix mix
the labels with the same weights; RandomErasing leaves them). As the other augmentations:
``get_random_transformation`` draws, ``transform_images`` / ``transform_labels`` apply, and only
in training.
"""
from __future__ import annotations

import numpy as np

from ..random import generator as zrandom
from ..autodiff import Tensor
from .category_encoding import _host
from .preprocessing import _factor_pair, _RandomImageLayer


class _DictAugmentation(_RandomImageLayer):
    def _rng(self):
        return self._generator if self._generator is not None else zrandom.get_generator()

    def _images(self, inputs):
        if isinstance(inputs, dict):
            return super()._images(inputs["images"])
        return super()._images(inputs)

    def _convert_input(self, x):
        if isinstance(x, dict):
            return {k: super(_DictAugmentation, self)._convert_input(v) for k, v in x.items()}
        return super()._convert_input(x)

    def call(self, inputs, training=True):
        data = dict(inputs) if isinstance(inputs, dict) else {"images": inputs}
        x = self._as_float(self._images(data["images"]))
        if not training:
            data["images"] = x
            return data if isinstance(inputs, dict) else x
        t = self.get_random_transformation(x, training=True)
        data["images"] = self.transform_images(x, t, training=True)
        if "labels" in data:
            data["labels"] = self.transform_labels(data["labels"], t, training=True)
        return data if isinstance(inputs, dict) else data["images"]

    def transform_labels(self, labels, transformation, training=True):
        return labels

    def _grid(self, images):
        h, w = images.shape[self.height_axis], images.shape[self.width_axis]
        gy, gx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
        if self.data_format == "channels_last":
            return gx[None, :, :, None], gy[None, :, :, None]
        return gx[None, None], gy[None, None]

    def _box_masks(self, images, x0, x1, y0, y1):
        gx, gy = self._grid(images)
        r = (slice(None), None, None, None)
        return (gx >= x0[r]) & (gx < x1[r]) & (gy >= y0[r]) & (gy < y1[r])

    def _crop_bounds(self, n, length, ratio):
        crop = (ratio * np.float32(length)).astype(np.float32)
        start = self._uniform((n,)) * (np.float32(length) - crop)
        return start, start + crop


class RandomErasing(_DictAugmentation):
    """Erase a random box of each image (with probability drawn in ``factor``; box area a fraction
    in ``scale`` per side squared) and fill it with ``fill_value`` (None: Gaussian noise times
    ``value_range[1]``), clipped to ``value_range``."""

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255), seed=None,
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.factor = _factor_pair("RandomErasing", factor, bounds=(0.0, 1.0))
        self.scale = _factor_pair("RandomErasing", scale, bounds=(0.0, 1.0))
        if fill_value is not None and not (isinstance(fill_value, (int, float)) or
                                           (isinstance(fill_value, (tuple, list)) and len(fill_value) == 3)):
            raise ValueError("The `fill_value` argument should be a number (or a list of three numbers) ")
        self.fill_value, self.value_range = fill_value, value_range
        self._init_seed(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = data["images"] if isinstance(data, dict) else data
        n = images.shape[0] if images.ndim == 4 else 1
        mix = np.sqrt(self._uniform((n, 2), self.scale[0], self.scale[1]))
        x0, x1 = self._crop_bounds(n, images.shape[self.width_axis], mix[:, 0])
        y0, y1 = self._crop_bounds(n, images.shape[self.height_axis], mix[:, 1])
        masks = self._box_masks(images, x0, x1, y0, y1)
        prob = self._uniform((n,), self.factor[0], self.factor[1])
        apply = self._uniform((n,)) < prob
        shape = tuple(images.shape) if images.ndim == 4 else (1,) + tuple(images.shape)
        if self.fill_value is None:
            fill = zrandom.normal(shape, "float32", np, generator=self._generator) * np.float32(self.value_range[1])
        else:
            fill = np.broadcast_to(np.asarray(self.fill_value, np.float32), shape)
        fill = np.clip(fill, self.value_range[0], self.value_range[1]).astype(np.float32)
        return {"apply_erasing": apply, "batch_masks": masks, "fill_value": fill}

    def transform_images(self, images, transformation=None, training=True):
        x = self._as_float(images if isinstance(images, Tensor) else Tensor(np.asarray(images, np.float32)))
        if not training or transformation is None:
            return x
        xp = x.xp
        unbatched = x.ndim == 3
        masks = np.asarray(transformation["batch_masks"])
        fill = np.asarray(transformation["fill_value"], np.float32)
        apply = np.asarray(transformation["apply_erasing"]).reshape(-1, 1, 1, 1)
        data = x.data[None] if unbatched else x.data
        keep = ~(xp.asarray(masks) & xp.asarray(apply))
        out = xp.where(keep, data, xp.asarray(fill).reshape(data.shape) if fill.size == data.size else xp.asarray(fill))
        return Tensor(out[0] if unbatched else out)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "scale": self.scale, "fill_value": self.fill_value,
                "value_range": self.value_range, "seed": self.seed}


class MixUp(_DictAugmentation):
    """Blend each image (and its label) with another of the batch: weight ~ Beta(alpha, alpha)."""

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.alpha = alpha
        self._init_seed(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        images = data["images"] if isinstance(data, dict) else data
        n = images.shape[0] if images.ndim == 4 else 1
        rng = self._rng()
        with zrandom.lock():
            order = rng.permutation(n)
            weight = rng.beta(self.alpha, self.alpha, n).astype(np.float32)
        return {"mix_weight": weight, "permutation_order": order}

    def transform_images(self, images, transformation=None, training=True):
        x = self._as_float(images if isinstance(images, Tensor) else Tensor(np.asarray(images, np.float32)))
        if not training:
            return x
        w = np.asarray(transformation["mix_weight"], np.float32).reshape(-1, 1, 1, 1)
        order = np.asarray(transformation["permutation_order"])
        xp = x.xp
        w = xp.asarray(w)
        return Tensor(w * x.data + (np.float32(1) - w) * x.data[xp.asarray(order)])

    def transform_labels(self, labels, transformation, training=True):
        if not training:
            return labels
        y = np.asarray(_host(labels), np.float32)
        w = np.asarray(transformation["mix_weight"], np.float32).reshape(-1, 1)
        order = np.asarray(transformation["permutation_order"])
        return Tensor(w * y + (np.float32(1) - w) * y[order])

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "seed": self.seed}


class CutMix(_DictAugmentation):
    """Paste a random box from another image of the batch into each image; labels are mixed by
    the pasted area's complement (the box side ratio comes from Beta(a, a), a drawn in ``factor``)."""

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.factor = _factor_pair("CutMix", factor, bounds=(0.0, 1.0))
        self._init_seed(seed)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = data["images"] if isinstance(data, dict) else data
        if images.ndim == 3:
            return None
        n = images.shape[0]
        h, w = images.shape[self.height_axis], images.shape[self.width_axis]
        rng = self._rng()
        alpha = float(self._uniform((), self.factor[0], self.factor[1])) + 1e-6
        with zrandom.lock():
            weight = rng.beta(alpha, alpha, n).astype(np.float32)
        ratio = np.sqrt(np.float32(1) - weight)
        x0, x1 = self._crop_bounds(n, w, ratio)
        y0, y1 = self._crop_bounds(n, h, ratio)
        masks = self._box_masks(images, x0, x1, y0, y1)
        mix = (np.float32(1) - (x1 - x0) * (y1 - y0) / np.float32(w * h)).astype(np.float32)
        with zrandom.lock():
            order = rng.permutation(n)
        return {"permutation_order": order, "batch_masks": masks, "mix_weight": mix}

    def transform_images(self, images, transformation=None, training=True):
        x = self._as_float(images if isinstance(images, Tensor) else Tensor(np.asarray(images, np.float32)))
        if not training or transformation is None:
            return x
        xp = x.xp
        order = xp.asarray(np.asarray(transformation["permutation_order"]))
        return Tensor(xp.where(xp.asarray(np.asarray(transformation["batch_masks"])), x.data[order], x.data))

    def transform_labels(self, labels, transformation, training=True):
        if not training or transformation is None:
            return labels
        y = np.asarray(_host(labels), np.float32)
        w = np.asarray(transformation["mix_weight"], np.float32).reshape(-1, 1)
        order = np.asarray(transformation["permutation_order"])
        return Tensor(w * y + (np.float32(1) - w) * y[order])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}
