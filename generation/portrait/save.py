"""SaveAvatar: the square PNG with its metadata, and a 100x100 thumbnail."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping

import fpng
import numpy as np
from PIL import Image

THUMBNAIL_SIZE = 100
_SIGNATURE_AND_IHDR = 8 + 4 + 4 + 13 + 4  # the PNG signature, then the IHDR chunk


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(image: Image.Image, metadata: Mapping[str, str]) -> bytes:
    """fpng (an encoder built for speed): a seventh of libpng's time at zlib level 1
    (2 ms instead of 15 at 800 px) for an 11% larger file, the same pixels. The
    metadata goes in as tEXt chunks right after the header."""
    encoded = fpng.from_ndarray(np.ascontiguousarray(image))
    text = b"".join(
        _chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1", "replace"))
        for key, value in metadata.items()
    )
    return encoded[:_SIGNATURE_AND_IHDR] + text + encoded[_SIGNATURE_AND_IHDR:]


def save_avatar(image: np.ndarray, size: int, metadata: Mapping[str, str]) -> tuple[bytes, bytes]:
    """PNG bytes of the avatar at ``size`` x ``size`` and of its thumbnail."""
    avatar = Image.fromarray(image)
    if avatar.size != (size, size):
        avatar = avatar.resize((size, size), Image.Resampling.LANCZOS)
    # Box-averaged down to no less than 3x its side first (Pillow's reducing_gap), then
    # Lanczos: 2 ms instead of 5.5 from 800 px, within 2 levels of Lanczos all the way.
    thumbnail = avatar.resize(
        (THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS, reducing_gap=3.0
    )
    return _png(avatar, metadata), _png(thumbnail, metadata)
