"""LoadPhoto: bytes in, an upright 8-bit RGB array out, or a PortraitError."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import PortraitError

# Decoders we trust with hostile input. Everything else is "not an image".
SAFE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side: int = 200


DEFAULT_LIMITS = Limits()


def load_photo(data: bytes, limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """Decode ``data`` into an upright HxWx3 uint8 RGB array.

    Size limits are checked against the header before any pixel is decoded,
    so a decompression bomb costs nothing.
    """
    if len(data) > limits.max_bytes:
        raise PortraitError(
            "file_too_large", f"the file is {len(data)} bytes; the limit is {limits.max_bytes}"
        )
    if not data:
        raise PortraitError("not_an_image", "the file is empty")
    try:
        with warnings.catch_warnings():
            # Our own, lower pixel limit is checked just below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=SAFE_FORMATS)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise PortraitError("not_an_image", "the file is not a supported image") from exc
    except Image.DecompressionBombError as exc:
        raise PortraitError("image_too_large", str(exc)) from exc

    width, height = image.size
    if width * height > limits.max_pixels:
        raise PortraitError(
            "image_too_large",
            f"{width}x{height} is more than {limits.max_pixels} pixels",
        )
    if min(width, height) < limits.min_side:
        raise PortraitError(
            "image_too_small",
            f"{width}x{height} is smaller than {limits.min_side}x{limits.min_side}",
        )
    try:
        image.seek(0)  # animated images: the first frame
        image.load()
        image = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError as exc:
        raise PortraitError("image_too_large", str(exc)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PortraitError("truncated_image", "the image data is incomplete or corrupt") from exc
    return _to_rgb(image)


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Normalise any Pillow mode to 8-bit RGB; transparency goes onto white."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        wide = np.asarray(image, dtype=np.float64)
        top = 65535.0 if wide.max() > 255 else 255.0
        image = Image.fromarray(np.clip(wide / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(canvas, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB")))
