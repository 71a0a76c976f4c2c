"""DetailEnhance: the finishing pass per style (sharpening, tone, depth of field, grain)."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import cv2
import numpy as np

from generation.imaging.masks import FaceMasks
from generation.imaging.state import Portrait

MIN_SKIN_CHROMA = 22.0  # Lab chroma below which skin reads as grey or ill


def _unsharp(image: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    blurred = cv2.GaussianBlur(image, (0, 0), sigma)
    return cv2.addWeighted(image, 1.0 + amount, blurred, -amount, 0.0)


def _on_person(portrait: Portrait, finished: np.ndarray) -> np.ndarray:
    assert portrait.matte is not None
    return cv2.blendLinear(finished, portrait.image, portrait.matte, 1.0 - portrait.matte)


@cache
def _vignette(size: int, strength: float) -> np.ndarray:
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    radius = np.sqrt(axis[None, :] ** 2 + axis[:, None] ** 2) / 0.7071
    vignette = 1.0 - strength * np.clip(radius, 0, 1) ** 2.2
    vignette = np.dstack([vignette] * 3)  # per channel, as cv2.multiply takes it
    vignette.setflags(write=False)
    return vignette


@cache
def _grain(size: int) -> np.ndarray:
    """Fine monochrome film grain, as int16 levels (one fixed pattern, as on film stock)."""
    grain = np.random.default_rng(35).normal(0.0, 3.0, (size, size)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), max(size / 1600, 0.5))
    grain = np.repeat(np.round(grain).astype(np.int16)[..., None], 3, axis=2)
    grain.setflags(write=False)
    return grain


def _skin_tone(portrait: Portrait, skin: np.ndarray) -> np.ndarray:
    """Give washed-out skin back its colour: lift the person's chroma (Lab) until
    the skin's reaches a healthy minimum, never by more than a third."""
    assert portrait.matte is not None
    on_skin = skin > 0.8
    if not on_skin.any():
        return portrait.image
    pixels = portrait.image[on_skin][None]  # the skin alone says whether any work is due
    tone = cv2.cvtColor(pixels, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    chroma = float(np.hypot(*(tone[:, 1:].mean(axis=0) - 128.0)))
    gain = float(np.clip(MIN_SKIN_CHROMA / max(chroma, 1e-3), 1.0, 1.33))
    if gain == 1.0:
        return portrait.image
    lab = cv2.cvtColor(portrait.image, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 1:] = 128.0 + (lab[..., 1:] - 128.0) * (1.0 + (gain - 1.0) * portrait.matte[..., None])
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def enhance_corporate(portrait: Portrait) -> Portrait:
    """Healthy skin tone; crisp eyes, hair and clothes; the retouched skin is left soft."""
    assert portrait.matte is not None
    skin = FaceMasks(portrait).skin
    image = _skin_tone(portrait, skin)
    sharp = _unsharp(image, portrait.size / 500, 0.45)
    where = portrait.matte * (1.0 - skin)
    return replace(portrait, image=cv2.blendLinear(sharp, image, where, 1.0 - where))


def enhance_anime(portrait: Portrait) -> Portrait:
    """Cel art wants clean edges: a light sharpen over everything."""
    return replace(portrait, image=_unsharp(portrait.image, portrait.size / 700, 0.3))


def enhance_editorial(portrait: Portrait) -> Portrait:
    """Sharpen the subject, vignette the frame, add a fine film grain."""
    image = _on_person(portrait, _unsharp(portrait.image, portrait.size / 400, 0.6))
    image = cv2.multiply(image, _vignette(portrait.size, 0.45), dtype=cv2.CV_16S)
    image = cv2.add(image, _grain(portrait.size), dtype=cv2.CV_16S)
    return replace(portrait, image=np.clip(image, 0, 255).astype(np.uint8))
