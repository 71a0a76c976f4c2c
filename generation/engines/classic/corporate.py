"""corporate_headshot: retouched, evenly lit, still plainly a photograph."""

from __future__ import annotations

import cv2
import numpy as np

from generation.imaging.filters import (
    apply_curves,
    blend,
    guided_filter,
    luminance,
    to_float,
    to_uint8,
    tone_axis,
)
from generation.imaging.lighting import lit_side, studio_gain
from generation.imaging.masks import FaceMasks
from generation.imaging.state import Portrait

TEXTURE_KEPT = 0.3  # share of fine skin detail that survives smoothing


def render(portrait: Portrait, intensity: float) -> np.ndarray:
    image = smooth_skin(portrait, portrait.image, intensity)
    gain = even_light(portrait, image, intensity) * key_and_fill(portrait, intensity)
    return studio_tone(to_uint8(to_float(image) * gain[..., None]), intensity)


def key_and_fill(portrait: Portrait, intensity: float) -> np.ndarray:
    """Gain that models the face as under a soft key and a fill: the key from the side
    the photo is lit from (image-left when it is even), the fill from the other."""
    side = lit_side(portrait)
    side = side if abs(side) > 0.2 else -0.6
    return studio_gain(portrait, 0.3 * intensity, 0.1 * intensity, side)


def smooth_skin(portrait: Portrait, image: np.ndarray, intensity: float) -> np.ndarray:
    """Frequency separation on the face: soften blotches, keep pore-level texture."""
    rows, cols = portrait.face_slice()
    face = to_float(image[rows, cols])
    radius = max(portrait.size // 90, 2)
    smooth = guided_filter(luminance(face), face, radius, 0.002)
    retouched = smooth + (face - smooth) * TEXTURE_KEPT
    out = image.copy()
    out[rows, cols] = to_uint8(
        blend(face, retouched, FaceMasks(portrait).skin[rows, cols] * intensity)
    )
    return out


def even_light(portrait: Portrait, image: np.ndarray, intensity: float) -> np.ndarray:
    """Gain of a large soft key: even out light across the person, lifting the shadow side.

    The gain map is built at an eighth of the size; light varies slowly.
    """
    assert portrait.matte is not None
    size = portrait.size
    small = max(size // 8, 8)
    lum = luminance(to_float(cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA)))
    broad = cv2.GaussianBlur(lum, (0, 0), small / 30)
    rows, cols = portrait.face_slice(0.0)
    target = float(
        np.median(broad[rows.start // 8 : rows.stop // 8, cols.start // 8 : cols.stop // 8])
    )
    gain = np.clip((target / np.maximum(broad, 1e-3)) ** 0.35, 0.9, 1.25)
    gain = cv2.resize(gain, (size, size), interpolation=cv2.INTER_LINEAR)
    return 1.0 + (gain - 1.0) * portrait.matte * intensity


def studio_tone(image: np.ndarray, intensity: float) -> np.ndarray:
    """A fill light's lifted shadows, a gentle contrast curve and a touch of warmth."""
    x = tone_axis()
    lifted = 1.0 - (1.0 - x) ** (1.0 + 0.3 * intensity)
    contrast = blend(lifted, lifted * lifted * (3.0 - 2.0 * lifted), 0.25 * intensity)
    warmth = np.array([1.0 + 0.02 * intensity, 1.0, 1.0 - 0.02 * intensity], np.float32)
    return apply_curves(image, np.clip(contrast[:, None] * warmth, 0.0, 1.0))
