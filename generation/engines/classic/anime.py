"""anime: cel-shaded skin, flat colour, ink lines and bright eyes, still recognisably the person."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from generation.imaging.filters import blend, luminance, to_float, to_uint8
from generation.imaging.masks import FaceMasks, irises
from generation.imaging.state import Portrait

COLOURS = 12
FORM_KEPT = 0.35  # share of the photo's soft shading left under the cel tones
INK = np.array([0.17, 0.1, 0.12], np.float32)

# Ordered face-mesh paths (image-left eye first).
UPPER_LIDS = (
    (33, 246, 161, 160, 159, 158, 157, 173, 133),
    (263, 466, 388, 387, 386, 385, 384, 398, 362),
)
LOWER_LIDS = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133),
    (263, 249, 390, 373, 374, 380, 381, 382, 362),
)
BROWS = (
    ((70, 63, 105, 66, 107), (46, 53, 52, 65, 55)),
    ((300, 293, 334, 296, 336), (276, 283, 282, 295, 285)),
)
NOSE_LINE = (98, 97, 2, 326, 327)
JAW = (172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397)


def render(portrait: Portrait, intensity: float) -> np.ndarray:
    """Paint at half size (flat regions need no more), then ink at full size."""
    masks = FaceMasks(portrait)
    smooth = _smooth_half(portrait.image)
    paint = flat_colour(smooth, _half(portrait.matte, smooth.shape))
    skin = skin_region(portrait, masks, smooth)
    paint = blend(paint, cel_shade(smooth, skin), skin)
    # Eyes, brows and mouth keep their smoothed colour: quantising them muddies teeth and eyes.
    paint = blend(paint, to_float(smooth), _half(masks.features, smooth.shape) * 0.8)
    paint = blend(paint, INK, contour_lines(portrait, masks, smooth))
    size = portrait.size
    art = cv2.resize(to_uint8(paint), (size, size), interpolation=cv2.INTER_LINEAR)
    # Features are drawn at full size, on the face only.
    rows, cols = portrait.face_slice(0.1)
    offset = np.array([cols.start, rows.start], np.float32)
    face = to_float(art[rows, cols])
    face = ink_features(portrait, face, offset)
    face = bright_eyes(portrait, masks.eyes[rows, cols], face, offset)
    art[rows, cols] = to_uint8(face)
    return cv2.addWeighted(portrait.image, 1.0 - intensity, art, intensity, 0.0)


def _smooth_half(image: np.ndarray) -> np.ndarray:
    """Edge-preserving smoothing at half size: texture goes, shapes stay."""
    size = image.shape[0]
    half = cv2.resize(image, (size // 2, size // 2), interpolation=cv2.INTER_AREA)
    for _ in range(2):
        half = cv2.bilateralFilter(half, 7, 40, 5)
    return half


def flat_colour(smooth: np.ndarray, person: np.ndarray) -> np.ndarray:
    """A small palette (k-means in Lab), more saturated, as cel paint.

    The palette is learnt on the person only (``person``: the matte at the
    same size); the photo's background is replaced anyway.
    """
    lab = cv2.cvtColor(smooth, cv2.COLOR_RGB2LAB)
    samples = lab[person > 0.5][::9].astype(np.float32)
    cv2.setRNGSeed(7)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 12, 1.0)
    _, _, centres = cv2.kmeans(samples, COLOURS, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    nearest = _nearest_centre_table(centres)
    cells = lab >> 3  # 32 levels per channel: a 32k-entry lookup instead of a distance per pixel
    labels = nearest[cells[..., 0], cells[..., 1], cells[..., 2]]
    centres[:, 1:] = 128 + (centres[:, 1:] - 128) * 1.25
    paint = np.clip(centres, 0, 255).astype(np.uint8)[labels]
    return to_float(cv2.medianBlur(cv2.cvtColor(paint, cv2.COLOR_LAB2RGB), 5))


@cache
def _cell_centres() -> np.ndarray:
    axis = np.arange(32, dtype=np.float32) * 8 + 4
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)


def _nearest_centre_table(centres: np.ndarray) -> np.ndarray:
    """For every 8x8x8 Lab cell, the index of the nearest palette centre."""
    # |g - c|^2 = |g|^2 - 2 g.c + |c|^2, and |g|^2 does not change the argmin.
    distances = (centres**2).sum(1)[None, :] - 2.0 * _cell_centres() @ centres.T
    return distances.argmin(1).astype(np.uint8).reshape(32, 32, 32)


def _half(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return cv2.resize(mask, shape[1::-1], interpolation=cv2.INTER_AREA)


def skin_region(portrait: Portrait, masks: FaceMasks, smooth: np.ndarray) -> np.ndarray:
    """Face skin plus all of the person in its colour (neck, ears, hands), at half size."""
    assert portrait.matte is not None
    face = _half(masks.skin, smooth.shape)
    lab = cv2.cvtColor(smooth, cv2.COLOR_RGB2LAB).astype(np.float32)
    tone = np.median(lab[face > 0.9], axis=0)
    distance = np.sqrt(
        0.2 * (lab[..., 0] - tone[0]) ** 2 + 1.5 * ((lab[..., 1:] - tone[1:]) ** 2).sum(-1)
    )
    similar = np.clip((16.0 - distance) / 6.0, 0.0, 1.0)
    similar = cv2.morphologyEx(similar, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    similar = cv2.GaussianBlur(similar, (0, 0), 1.0) * _half(portrait.matte, smooth.shape)
    keep_out = _half(masks.features, smooth.shape)
    return np.clip(np.maximum(face, similar) - keep_out, 0.0, 1.0)


def cel_shade(smooth: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Skin as flat tones (highlight, base, one warm shadow) with a little soft form kept."""
    rgb = to_float(smooth)
    on_skin = skin > 0.8
    base = np.clip(np.median(rgb[on_skin], axis=0) * 1.06 + 0.03, 0.0, 1.0)
    shadow = np.clip(base * np.array([0.86, 0.76, 0.78], np.float32), 0.0, 1.0)
    light = np.clip(base * 1.07 + 0.02, 0.0, 1.0)
    lum = cv2.GaussianBlur(luminance(rgb), (0, 0), smooth.shape[0] / 75)
    level = float(np.median(lum[on_skin]))
    dark = np.clip((level * 0.85 - lum) / 0.03 + 0.5, 0.0, 1.0)[..., None]
    bright = np.clip((lum - level * 1.12) / 0.03 + 0.5, 0.0, 1.0)[..., None]
    tones = base + (shadow - base) * dark + (light - base) * bright * (1.0 - dark)
    form = (luminance(rgb) / np.maximum(luminance(tones), 1e-3))[..., None]
    return np.clip(tones * (1.0 + FORM_KEPT * (form - 1.0)), 0.0, 1.0)


def contour_lines(portrait: Portrait, masks: FaceMasks, smooth: np.ndarray) -> np.ndarray:
    """Ink along strong edges and the figure's outline, faint on skin (half size)."""
    assert portrait.matte is not None
    grey = luminance(to_float(smooth))
    dog = cv2.GaussianBlur(grey, (0, 0), 1.0) - cv2.GaussianBlur(grey, (0, 0), 1.8)
    ink = np.clip((-dog - 0.008) * 40.0, 0.0, 1.0) * (1.0 - 0.85 * _half(masks.skin, smooth.shape))
    matte = _half(portrait.matte, smooth.shape)
    edge = cv2.morphologyEx(matte, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    outline = np.clip(cv2.GaussianBlur(edge, (0, 0), 0.7) * 1.6, 0.0, 1.0)
    return np.maximum(ink, outline) * 0.9


def ink_features(portrait: Portrait, face: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Draw the anime essentials: bold lash lines, brows, a hint of nose and jaw.

    ``face`` is a crop of the image whose top-left corner sits at ``offset``.
    """
    width = portrait.face_box.width
    strokes = np.zeros(face.shape[:2], np.float32)

    def path(indices: tuple[int, ...]) -> np.ndarray:
        points = portrait.landmarks[list(indices)] - offset
        return np.round(points * 4).astype(np.int32)  # 2 bits of subpixel precision

    def line(indices: tuple[int, ...], weight: float) -> None:
        thickness = max(int(round(width * weight)), 1)
        cv2.polylines(strokes, [path(indices)], False, 1.0, thickness, cv2.LINE_AA, shift=2)

    for lid in UPPER_LIDS:
        line(lid, 1 / 38)
    for lid in LOWER_LIDS:
        line(lid, 1 / 160)
    for upper, lower in BROWS:
        cv2.fillPoly(strokes, [path(upper + lower[::-1])], 0.85, cv2.LINE_AA, shift=2)
    line(NOSE_LINE, 1 / 170)
    line(JAW, 1 / 170)
    strokes = cv2.GaussianBlur(strokes, (0, 0), max(portrait.size / 1600, 0.5))
    return blend(face, INK, strokes)


def bright_eyes(
    portrait: Portrait, eyes: np.ndarray, face: np.ndarray, offset: np.ndarray
) -> np.ndarray:
    """Lift the eyes and add a catchlight to each iris (on a face crop, as above)."""
    face = blend(face, 1.0 - (1.0 - face) ** 1.4, eyes * 0.7)
    lights = np.zeros(eyes.shape, np.float32)
    for centre, radius in irises(portrait):
        spot = centre - offset + np.array([-0.35, -0.4]) * radius
        cv2.circle(
            lights, tuple(int(v) for v in spot), max(int(radius * 0.3), 1), 1.0, -1, cv2.LINE_AA
        )
    lights = cv2.GaussianBlur(lights, (0, 0), max(portrait.size / 1200, 0.6)) * eyes
    return blend(face, np.ones(3, np.float32), lights * 0.95)
