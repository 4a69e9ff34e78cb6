"""Image files to arrays and back (``load_img``, ``img_to_array``, ``array_to_img``, ``save_img``),
and the decoding used by ``image_dataset_from_directory`` (PIL; untrusted files fail with an
error naming the file)."""
from __future__ import annotations

import io
import os
import pathlib
import warnings

import numpy as np
from PIL import Image

from .. import backend

_RESAMPLING = getattr(Image, "Resampling", Image)
PIL_INTERPOLATION_METHODS = {
    "nearest": _RESAMPLING.NEAREST,
    "bilinear": _RESAMPLING.BILINEAR,
    "bicubic": _RESAMPLING.BICUBIC,
    "hamming": _RESAMPLING.HAMMING,
    "box": _RESAMPLING.BOX,
    "lanczos": _RESAMPLING.LANCZOS,
}
COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}


def standardize_data_format(data_format):
    """``None`` -> ``"channels_last"`` (the engine's layout); otherwise checked."""
    if data_format is None:
        return "channels_last"
    fmt = str(data_format).lower()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f'data_format must be "channels_last" or "channels_first", got {data_format!r}')
    return fmt


def _convert_mode(img, color_mode):
    if color_mode == "grayscale":
        return img if img.mode in ("L", "I;16", "I") else img.convert("L")
    if color_mode == "rgba":
        return img if img.mode == "RGBA" else img.convert("RGBA")
    if color_mode == "rgb":
        return img if img.mode == "RGB" else img.convert("RGB")
    raise ValueError(f'color_mode must be "grayscale", "rgb" or "rgba", got {color_mode!r}')


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """A PIL image from a file path (str, bytes, ``pathlib.Path``) or ``io.BytesIO``, converted to
    ``color_mode`` and resized to ``target_size=(height, width)`` with PIL's ``interpolation``
    (``keep_aspect_ratio`` crops the centred box of the target aspect ratio first)."""
    if isinstance(path, io.BytesIO):
        img = Image.open(path)
    elif isinstance(path, (pathlib.Path, bytes, str)):
        if isinstance(path, pathlib.Path):
            path = str(path.resolve())
        with open(path, "rb") as f:
            img = Image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"load_img: path should be path-like or io.BytesIO, not {type(path).__name__}")
    img = _convert_mode(img, color_mode)
    if target_size is not None:
        size = (int(target_size[1]), int(target_size[0]))
        if img.size != size:
            if interpolation not in PIL_INTERPOLATION_METHODS:
                raise ValueError(f"load_img: invalid interpolation {interpolation!r}; supported methods are "
                                 f"{', '.join(PIL_INTERPOLATION_METHODS)}")
            resample = PIL_INTERPOLATION_METHODS[interpolation]
            if keep_aspect_ratio:
                width, height = img.size
                crop_h = min(height, (width * size[1]) // size[0])
                crop_w = min(width, (height * size[0]) // size[1])
                h0, w0 = (height - crop_h) // 2, (width - crop_w) // 2
                img = img.resize(size, resample, box=(w0, h0, w0 + crop_w, h0 + crop_h))
            else:
                img = img.resize(size, resample)
    return img


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image (or array) as a 3-D ``dtype`` array (``floatx`` by default), channels last
    unless ``data_format="channels_first"``."""
    data_format = standardize_data_format(data_format)
    x = np.asarray(img, dtype=dtype or backend.floatx())
    if x.ndim == 3:
        return x.transpose(2, 0, 1) if data_format == "channels_first" else x
    if x.ndim == 2:
        return x[None] if data_format == "channels_first" else x[:, :, None]
    raise ValueError(f"img_to_array: unsupported image shape {x.shape} (expected (H, W) or (H, W, C))")


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A 3-D array as a PIL image (1, 3 or 4 channels); ``scale`` maps its range to [0, 255]."""
    data_format = standardize_data_format(data_format)
    x = np.array(backend.to_numpy(getattr(x, "data", x)), dtype=dtype or backend.floatx())
    if x.ndim != 3:
        raise ValueError(f"array_to_img: expected an image array of rank 3 (a single image), got shape {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    channels = x.shape[2]
    if channels == 4:
        return Image.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return Image.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        if np.max(x) > 255:
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"array_to_img: unsupported number of channels {channels} (expected 1, 3 or 4)")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Save a 3-D array as an image file (format from ``file_format`` or the file extension)."""
    data_format = standardize_data_format(data_format)
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.", stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format or None, **kwargs)


def _rgb_to_gray(rgb):
    """libpng's RGB-to-gray conversion (what ``tf.io.decode_png(channels=1)`` returns for colour PNGs):
    ``(9797 R + 19234 G + 3737 B) >> 15``."""
    rgb = rgb.astype(np.uint32)
    return ((rgb[..., 0] * 9797 + rgb[..., 1] * 19234 + rgb[..., 2] * 3737) >> 15).astype(np.uint8)


def decode_image_file(path, num_channels):
    """The first frame of an image file as a uint8 (H, W, num_channels) array, decoded as
    ``tf.io.decode_image(channels=num_channels)`` does (grayscale replicated to RGB, alpha
    dropped or added as opaque, colour to gray with libpng's weights, JPEGs to gray by the JPEG
    decoder). Raises ValueError naming the file when it cannot be decoded."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                img.seek(0)
                if num_channels == 1:
                    if img.format == "JPEG":
                        img.draft("L", img.size)
                    if img.mode in ("L", "1", "LA", "I;16", "I") or img.format == "JPEG":
                        arr = np.asarray(img.convert("L"), dtype=np.uint8)
                    else:
                        arr = _rgb_to_gray(np.asarray(img.convert("RGB"), dtype=np.uint8))
                else:
                    mode = "RGB" if num_channels == 3 else "RGBA"
                    arr = np.asarray(img if img.mode == mode else img.convert(mode), dtype=np.uint8)
    except Exception as e:  # PIL raises many kinds on malformed files: each becomes one clear error
        raise ValueError(f"could not decode the image file {os.fspath(path)!r}: {type(e).__name__}: {e}. "
                         "Remove or replace the file") from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr
