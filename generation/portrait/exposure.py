"""Exposure: dark and washed-out photos corrected before styling, or flagged.

Two tone curves, each a 256-entry table applied to every channel (a few ms
even on a 12 MP photo):

- ``correct_frame`` (before face detection and the content check, which
  then see what the styling will see) reads the whole frame: an
  underexposed photo, whose brightest pixels are dim, has its white point
  raised (a levels stretch of the code values, which keeps the photo's own
  tone curve and its blacks black); a washed-out one, whose darkest pixels
  are grey, has its black point pulled down.
- ``lift_face`` (once the face is known) reads the face: when the face is
  dark inside a well-exposed frame (backlit), a brightening curve chosen in
  L* (CIELAB lightness, a perceptual scale) lifts the face's highlights
  while black stays black and white stays white (``g x / (1 + (g - 1) x)``,
  steepest in the shadows, no haze, no clipping).
  It looks at the face's highlights, not its mean, so dark skin in a good
  photo is left as it is.

Where the photo holds too little to correct (the whole picture in a quarter
of the tonal range, or a face past the strongest allowed lift), the photo is
still corrected as far as it goes and a ``low_light`` warning is raised; a
face whose skin is clipped to white cannot be recovered: ``overexposed``.
"""

from __future__ import annotations

import cv2
import numpy as np

from generation.imaging.state import Box

# Whole frame, in sRGB code values (0-255) of the brightest channel.
DARK_WHITE_POINT = 150  # a white point below this is underexposed
TARGET_WHITE_POINT = 235  # where the gain brings it
LOW_LIGHT_WHITE_POINT = 64  # below this, under 64 levels held the picture: too little to fix
WASHED_BLACK_POINT = 48  # a black point above this (darkest channel) is washed out
TARGET_BLACK_POINT = 8
# The face, in L* (0-100) of its central part.
FACE_HIGHLIGHT_FLOOR = 40.0  # the face's 95th percentile below this is too dark
FACE_HIGHLIGHT_TARGET = 52.0
STRONGEST_LIFT = 4.0  # the face lift's largest gain (its slope at black)
CLIPPED_FACE = 0.15  # a face with more of its pixels clipped to white is overexposed

_SAMPLE = 256  # statistics are read on a grid of at most this many points per side
_CODES = np.arange(256, dtype=np.float64) / 255.0


def correct_frame(image: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """The photo with its exposure corrected from whole-frame statistics, and warnings."""
    sample = _sample(image)
    white = _percentile(sample.max(axis=2), 99.5)
    black = _percentile(sample.min(axis=2), 0.5)
    if white < DARK_WHITE_POINT:
        table = _CODES * (TARGET_WHITE_POINT / max(white, 1.0))
        warnings = ("low_light",) if white < LOW_LIGHT_WHITE_POINT else ()
        return _apply(image, table), warnings
    if black > WASHED_BLACK_POINT:
        span = max(white - black, 1.0)
        codes = _CODES * 255.0
        table = (TARGET_BLACK_POINT + (codes - black) * (255.0 - TARGET_BLACK_POINT) / span) / 255.0
        return _apply(image, table), ()
    return image, ()


def lift_face(image: np.ndarray, face: Box) -> tuple[np.ndarray, tuple[str, ...]]:
    """The photo with a dark face lifted, and warnings about the face."""
    pixels = _face_pixels(image, face)
    if pixels.size == 0:
        return image, ()
    if (pixels.min(axis=-1) >= 250).mean() > CLIPPED_FACE:
        return image, ("overexposed",)
    highlight = float(np.percentile(_lightness(pixels), 95))
    if highlight >= FACE_HIGHLIGHT_FLOOR:
        return image, ()
    # The gain that puts the highlight on the target in L*; the same curve on
    # code values, whose scale is close to L*'s.
    x, target = max(highlight, 1.0) / 100.0, FACE_HIGHLIGHT_TARGET / 100.0
    gain = min(target * (1.0 - x) / (x * (1.0 - target)), STRONGEST_LIFT)
    warnings = ("low_light",) if 100.0 * _lift(x, gain) < FACE_HIGHLIGHT_FLOOR else ()
    return _apply(image, _lift(_CODES, gain)), warnings


def _lift(x: np.ndarray | float, gain: float) -> np.ndarray | float:
    """A brightening curve from 0 to 1 with slope ``gain`` at black."""
    return gain * x / (1.0 + (gain - 1.0) * x)


def _face_pixels(image: np.ndarray, face: Box) -> np.ndarray:
    """The central 60% of the face box: skin, eyes and mouth, no hair or background."""
    height, width = image.shape[:2]
    x0 = min(max(int(face.x + 0.2 * face.width), 0), width)
    y0 = min(max(int(face.y + 0.2 * face.height), 0), height)
    x1 = min(max(int(face.x + 0.8 * face.width), 0), width)
    y1 = min(max(int(face.y + 0.8 * face.height), 0), height)
    return image[y0:y1, x0:x1]


def _lightness(pixels: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2LAB)
    return lab[..., 0].astype(np.float32) * (100.0 / 255.0)


def _sample(image: np.ndarray) -> np.ndarray:
    """A small copy of the photo whose pixels are the photo's own (nearest, not averaged,
    so the extremes survive)."""
    height, width = image.shape[:2]
    scale = _SAMPLE / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST)


def _percentile(values: np.ndarray, q: float) -> float:
    """The ``q``th percentile of uint8 values, from their histogram."""
    counts = np.cumsum(np.bincount(values.ravel(), minlength=256))
    return float(np.searchsorted(counts, q / 100.0 * counts[-1]))


def _apply(image: np.ndarray, table: np.ndarray) -> np.ndarray:
    lut = np.clip(np.round(table * 255.0), 0, 255).astype(np.uint8)
    return cv2.LUT(image, lut)
