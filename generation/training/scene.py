"""Rendering a portrait style on a square with no face mesh: pets, and couples (two faces).

The classic engine's styles lean on the face mesh of one face; these looks reach the same
three styles from the whole image: a studio tone, a film grade, a flat-colour cartoon.
"""

from __future__ import annotations

import cv2
import numpy as np

from generation.engines.classic.corporate import studio_tone
from generation.engines.classic.editorial import film_curves
from generation.imaging.filters import apply_curves, blend, luminance, to_float, to_uint8

INK = np.array([0.17, 0.1, 0.12], np.float32)


def corporate(image: np.ndarray, intensity: float) -> np.ndarray:
    return studio_tone(image, intensity)


def editorial(image: np.ndarray, intensity: float) -> np.ndarray:
    graded = to_float(apply_curves(image, film_curves(intensity)))
    grey = luminance(graded)[..., None]
    return to_uint8(grey + (graded - grey) * (1.0 - 0.2 * intensity))


def anime(image: np.ndarray, intensity: float, colours: int = 10) -> np.ndarray:
    """Flat colour (k-means palette), edge-preserving smoothing and ink lines."""
    height, width = image.shape[:2]
    half = cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    for _ in range(2):
        half = cv2.bilateralFilter(half, 7, 40, 5)
    samples = half.reshape(-1, 3)[::7].astype(np.float32)
    cv2.setRNGSeed(7)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    _, labels, centres = cv2.kmeans(samples, colours, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    pixels = half.reshape(-1, 3).astype(np.float32)
    nearest = ((centres**2).sum(1)[None, :] - 2.0 * pixels @ centres.T).argmin(
        1
    )  # |p - c|^2 less |p|^2, which does not change the argmin
    paint = np.clip(centres[nearest], 0, 255).astype(np.uint8).reshape(half.shape)
    paint = cv2.medianBlur(paint, 5)
    grey = luminance(to_float(half))
    dog = cv2.GaussianBlur(grey, (0, 0), 1.0) - cv2.GaussianBlur(grey, (0, 0), 1.8)
    ink = np.clip((-dog - 0.01) * 35.0, 0.0, 0.9)
    art = blend(to_float(paint), INK, ink)
    art = cv2.resize(to_uint8(art), (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.addWeighted(image, 1.0 - intensity, art, intensity, 0.0)


RENDERERS = {"corporate_headshot": corporate, "editorial": editorial, "anime": anime}
