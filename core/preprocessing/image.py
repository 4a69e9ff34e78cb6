"""``keras.preprocessing.image``: image files to arrays and back, and ``smart_resize``."""
import numpy as np

from .. import autodiff
from ..ops import image as image_ops
from ..utils.image_utils import array_to_img, img_to_array, load_img, save_img


def smart_resize(x, size, interpolation="bilinear", data_format="channels_last"):
    """Resize an image (H, W, C) or a batch (N, H, W, C) to ``size`` without distorting its
    aspect ratio: the largest centred box of the target aspect ratio is cropped, then resized
    (``keras.preprocessing.image.smart_resize``). Returns float32 NumPy values."""
    if len(size) != 2:
        raise ValueError(f"smart_resize: expected `size` to be a tuple of 2 integers, got {size!r}")
    arr = np.asarray(getattr(x, "data", x))
    if arr.ndim not in (3, 4):
        raise ValueError(f"smart_resize: expected an image array of rank 3 (single image) or 4 (batch), got shape "
                         f"{arr.shape}")
    with autodiff.no_grad():
        out = image_ops.resize(arr, size, interpolation=interpolation, crop_to_aspect_ratio=True,
                               data_format=data_format)
    return out.data


__all__ = ["load_img", "img_to_array", "array_to_img", "save_img", "smart_resize"]
