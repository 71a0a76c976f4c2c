"""SaveAvatar: the square PNG with its metadata, and a 100x100 thumbnail."""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

THUMBNAIL_SIZE = 100


def _png(image: Image.Image, metadata: Mapping[str, str]) -> bytes:
    info = PngInfo()
    for key, value in metadata.items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=info, compress_level=1)
    return buffer.getvalue()


def save_avatar(image: np.ndarray, size: int, metadata: Mapping[str, str]) -> tuple[bytes, bytes]:
    """PNG bytes of the avatar at ``size`` x ``size`` and of its thumbnail."""
    avatar = Image.fromarray(image)
    if avatar.size != (size, size):
        avatar = avatar.resize((size, size), Image.Resampling.LANCZOS)
    thumbnail = avatar.resize((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    return _png(avatar, metadata), _png(thumbnail, metadata)
