"""Image decoding for requests with a bounded cost: a pixel budget per image and per request, checked
from the file's header before anything is decoded, and large images scaled down while decoding
(JPEG's DCT scaling via Pillow ``draft``, a box ``reduce`` in uint8 for other formats) so the float
preprocessing only ever sees an image a few times the size the model needs."""
from __future__ import annotations

import io

import numpy as np

from .errors import BadRequest, PayloadTooLarge

DEFAULT_MAX_IMAGE_PIXELS = 25_000_000      # pixels decoded for one image (after JPEG draft scaling)
DEFAULT_MAX_REQUEST_PIXELS = 100_000_000   # pixels decoded for all images of one request
KEEP_FACTOR = 4   # images are reduced no further than KEEP_FACTOR x the size the model needs


def _open(data, where):
    from PIL import Image, UnidentifiedImageError

    try:   # (Pillow may warn about a very large image here; the budgets below decide)
        return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise PayloadTooLarge(f"{where}: {e}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise BadRequest(f"{where}: image data: not a readable image ({e.__class__.__name__}: {e}) "
                         "(expected a PNG, JPEG, BMP, GIF, TIFF or WebP file)") from None


def open_images(blobs, need, max_image_pixels, max_request_pixels):
    """Open every image's header (nothing decoded) and check the budgets; returns the open images.

    ``need`` is the (height, width) the preprocessing resizes to at least, or None; JPEGs are set to
    decode at the smallest DCT scale that keeps ``KEEP_FACTOR x need``."""
    images, total = [], 0
    try:
        for i, data in enumerate(blobs):
            where = f"images[{i}]"
            img = _open(data, where)
            images.append(img)
            w, h = img.size
            if need and img.format == "JPEG":
                img.draft("RGB", (KEEP_FACTOR * need[1], KEEP_FACTOR * need[0]))
            dw, dh = img.size
            if dw * dh > max_image_pixels:
                raise PayloadTooLarge(
                    f"{where}: a {w}x{h} image decodes to {dw * dh} pixels, over the server's budget of "
                    f"{max_image_pixels} per image (max_image_pixels): send it scaled down")
            total += dw * dh
            if total > max_request_pixels:
                raise PayloadTooLarge(
                    f"images[0..{i}] decode to {total} pixels, over the server's budget of {max_request_pixels} "
                    "per request (max_request_pixels): send fewer or smaller images per request")
    except BaseException:
        for img in images:
            img.close()
        raise
    return images


def decode(img, need, where):
    """An RGB uint8 array of the opened image, box-reduced in uint8 while it is over KEEP_FACTOR x
    ``need`` (at least a factor of 2)."""
    from PIL import Image

    try:
        with img:
            img.load()
            rgb = img.convert("RGB") if img.mode != "RGB" else img
            if need:
                w, h = rgb.size
                factor = min(w // (KEEP_FACTOR * need[1]), h // (KEEP_FACTOR * need[0]))
                if factor >= 2:
                    rgb = rgb.reduce(int(factor))
            return np.asarray(rgb)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise BadRequest(f"{where}: image data: not a readable image ({e.__class__.__name__}: {e}) "
                         "(expected a PNG, JPEG, BMP, GIF, TIFF or WebP file)") from None
