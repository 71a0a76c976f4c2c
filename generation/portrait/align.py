"""Align and frame: level the eye line and cut a square headshot around the face."""

from __future__ import annotations

import math

import cv2
import numpy as np

from generation.imaging.state import Box, Portrait

from .face import CHIN, FOREHEAD, LEFT_CHEEK, RIGHT_CHEEK, FaceAnalysis, eye_line_degrees

# Framing, in units of the face's height (forehead landmark to chin): the
# square is 2.3 face heights, with half a face height above the forehead
# landmark for hair and headroom.
SIDE_PER_FACE = 2.3
TOP_MARGIN = 0.5
# The top of the square (this fraction of it: headroom and the top of the
# head) may lie past the photo's edge and be filled with generated background.
HEADROOM_FREE = 0.3
# How far the framing may give way to keep the square inside the photo.
_SHRINK = (1.0, 0.93, 0.86, 0.8, 0.74)
_SHIFT = (0.0, 0.04, -0.04, 0.08, -0.08, 0.12, -0.12, 0.16, -0.16)
_INSIDE_FEATHER = 3  # px: softens the seam where the photo ends


def align_face(image: np.ndarray, analysis: FaceAnalysis, size: int) -> Portrait:
    """Rotate the eye line level and cut a ``size`` x ``size`` square around the face.

    The framing shrinks or slides (within limits) to keep the face and
    shoulders inside the photo; headroom above them may reach past the
    photo's edge, since the background is generated anyway. Wherever the
    square reaches past the edge, ``Portrait.inside`` marks the gap so the
    background stage fills it.
    """
    assert analysis.landmarks is not None
    angle = eye_line_degrees(analysis.landmarks)
    pivot = tuple(float(v) for v in analysis.landmarks[[FOREHEAD, CHIN]].mean(axis=0))
    level = cv2.getRotationMatrix2D(pivot, angle, 1.0)
    points = _apply(level, analysis.landmarks)

    face_height = points[CHIN, 1] - points[FOREHEAD, 1]
    centre_x = (points[RIGHT_CHEEK, 0] + points[LEFT_CHEEK, 0]) / 2
    side = SIDE_PER_FACE * face_height
    top = points[FOREHEAD, 1] - TOP_MARGIN * face_height
    back = cv2.invertAffineTransform(level)
    left, top, side = _fit_framing(back, image.shape, centre_x - side / 2, top, side)

    scale = size / side
    full = level * scale
    full[:, 2] -= (left * scale, top * scale)
    landmarks = _apply(full, analysis.landmarks)
    source, matrix = _prefilter(image, full)
    warped = cv2.warpAffine(
        source, matrix, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    if _inside(back, image.shape, left, top, side, from_top=0.0):
        inside = np.ones((size, size), np.float32)
    else:
        inside = cv2.warpAffine(
            np.ones(source.shape[:2], np.float32),
            matrix,
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderValue=0,
        )
        inside = _feather_inside(inside)
    xs, ys = landmarks[:, 0], landmarks[:, 1]
    box = Box(xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min())
    return Portrait(image=warped, landmarks=landmarks, face_box=box, inside=inside)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def _inside(
    back: np.ndarray, shape: tuple[int, ...], x0: float, y0: float, side: float, from_top: float
) -> bool:
    """Whether the square's part below ``from_top`` (a fraction of its side) lies in the photo."""
    height, width = shape[:2]
    upper = y0 + from_top * side
    corners = np.array([[x0, upper], [x0 + side, upper], [x0, y0 + side], [x0 + side, y0 + side]])
    src = _apply(back, corners)
    return bool(
        (src >= -0.5).all()
        and (src[:, 0] <= width + 0.5).all()
        and (src[:, 1] <= height + 0.5).all()
    )


def _fit_framing(
    back: np.ndarray, shape: tuple[int, ...], left: float, top: float, side: float
) -> tuple[float, float, float]:
    """The first framing, ideal first, with face and shoulders inside the photo.

    Falls back to the ideal framing when none fits.
    """
    centre_x = left + side / 2
    candidates = sorted(
        ((shrink, dx, dy) for shrink in _SHRINK for dx in _SHIFT for dy in _SHIFT),
        key=lambda c: 2 * (1 - c[0]) + 1.5 * abs(c[1]) + abs(c[2]),
    )
    for shrink, dx, dy in candidates:
        s = side * shrink
        x0 = centre_x - s / 2 + dx * s
        # Shrinking keeps the headroom ratio: shrink about the eyes, not the centre.
        y0 = top + (side - s) * 0.4 + dy * s
        if _inside(back, shape, x0, y0, s, from_top=HEADROOM_FREE):
            return x0, y0, s
    return left, top, side


def _prefilter(image: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shrink big photos with area averaging first, so the warp does not alias."""
    scale = math.hypot(matrix[0, 0], matrix[0, 1])
    if scale >= 0.5:
        return image, matrix
    factor = scale * 2
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    fx = small.shape[1] / image.shape[1]
    fy = small.shape[0] / image.shape[0]
    adjusted = matrix.copy()
    adjusted[:, 0] /= fx
    adjusted[:, 1] /= fy
    return small, adjusted


def _feather_inside(inside: np.ndarray) -> np.ndarray:
    core = cv2.erode(
        (inside > 0.999).astype(np.float32), np.ones((3, 3)), iterations=_INSIDE_FEATHER
    )
    return cv2.GaussianBlur(core, (0, 0), _INSIDE_FEATHER)
