"""DetailEnhance: the finishing pass per style (sharpening, tone, depth of field, grain)."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import cv2
import numpy as np

from .filters import blend, to_float, to_uint8
from .state import Portrait


def _unsharp(image: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    return image + (image - cv2.GaussianBlur(image, (0, 0), sigma)) * amount


@cache
def _vignette(size: int, strength: float) -> np.ndarray:
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    radius = np.sqrt(axis[None, :] ** 2 + axis[:, None] ** 2) / 0.7071
    vignette = 1.0 - strength * np.clip(radius, 0, 1) ** 2.2
    vignette.setflags(write=False)
    return vignette


def enhance_corporate(portrait: Portrait) -> Portrait:
    """Crisp but not crunchy: fine sharpening on the person only."""
    assert portrait.matte is not None
    image = to_float(portrait.image)
    sharp = _unsharp(image, portrait.size / 500, 0.45)
    return replace(portrait, image=to_uint8(blend(image, sharp, portrait.matte)))


def enhance_anime(portrait: Portrait) -> Portrait:
    """Cel art wants clean edges: a light sharpen over everything."""
    image = to_float(portrait.image)
    return replace(portrait, image=to_uint8(_unsharp(image, portrait.size / 700, 0.3)))


def enhance_editorial(portrait: Portrait) -> Portrait:
    """Sharpen the subject, vignette the frame, add a fine film grain."""
    assert portrait.matte is not None
    image = to_float(portrait.image)
    image = blend(image, _unsharp(image, portrait.size / 400, 0.6), portrait.matte)
    image = image * _vignette(portrait.size, 0.45)[..., None] + _grain(portrait.size)[..., None]
    return replace(portrait, image=to_uint8(image))


@cache
def _grain(size: int) -> np.ndarray:
    """Fine monochrome film grain (fixed seed: the same grain on every frame, as on film stock)."""
    grain = np.random.default_rng(35).normal(0.0, 0.012, (size, size)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), max(size / 1600, 0.5))
    grain.setflags(write=False)
    return grain
