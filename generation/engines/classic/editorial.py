"""editorial: cinematic grade and a dramatic key light on a photographic base."""

from __future__ import annotations

import numpy as np

from generation.imaging.filters import (
    apply_curves,
    blend,
    low_res_map,
    luminance,
    to_float,
    to_uint8,
    tone_axis,
)
from generation.imaging.lighting import lit_side, studio_gain
from generation.imaging.masks import FaceMasks
from generation.imaging.state import Portrait

SATURATION = 0.8  # colour outside the skin, for the muted film look


def render(portrait: Portrait, intensity: float) -> np.ndarray:
    image = key_light(portrait, portrait.image, intensity)
    image = apply_curves(image, film_curves(intensity))
    return mute_colour(portrait, image, intensity)


def key_light(portrait: Portrait, image: np.ndarray, intensity: float) -> np.ndarray:
    """A hard key high to one side (the side the photo is lit from, else the image's
    left): it models the face over the mesh's relief, falls off across the figure
    and down the body, and leaves the far cheek in shade."""
    assert portrait.matte is not None
    side = lit_side(portrait)
    side = float(np.sign(side)) if abs(side) > 0.2 else -1.0
    cx, cy = portrait.face_box.centre
    width = portrait.face_box.width
    size = portrait.size

    def build(small: int) -> np.ndarray:
        axis = (np.arange(small, dtype=np.float32) + 0.5) * (size / small)
        across = np.tanh((axis[None, :] - cx) * side / (0.6 * width))  # +1 lit side
        down = np.clip((axis[:, None] - cy) / (1.8 * width), 0.0, 1.0)
        return (0.22 * across - 0.35 * down).astype(np.float32)

    face = studio_gain(portrait, 0.55 * intensity, 0.04 * intensity, side, height=0.35)
    light = (1.0 + low_res_map(size, build) * intensity) * face
    light = 1.0 + (light - 1.0) * portrait.matte
    return to_uint8(to_float(image) * light[..., None])


def film_curves(intensity: float) -> np.ndarray:
    """Per-channel curves: S contrast, teal shadows, warm highlights, lifted blacks."""
    x = tone_axis()
    s_curve = blend(x, x * x * (3.0 - 2.0 * x), 0.7)
    shadows, highlights = (1.0 - x) ** 2, x**2
    tint = np.stack(
        [
            -0.045 * shadows + 0.06 * highlights,
            0.025 * shadows + 0.02 * highlights,
            0.065 * shadows - 0.05 * highlights,
        ],
        axis=1,
    )
    graded = 0.03 + (s_curve[:, None] + tint) * 0.95
    return blend(np.repeat(x[:, None], 3, axis=1), graded, intensity)


def mute_colour(portrait: Portrait, image: np.ndarray, intensity: float) -> np.ndarray:
    """Pull saturation down everywhere but the skin."""
    rgb = to_float(image)
    grey = luminance(rgb)[..., None]
    amount = 1.0 - (1.0 - SATURATION) * intensity * (1.0 - FaceMasks(portrait).skin)
    return to_uint8(grey + (rgb - grey) * amount[..., None])
