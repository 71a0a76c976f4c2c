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
# How far the framing may give way to keep the square inside the photo: down
# to 0.42 of the ideal side (about a face height, an extreme close-up),
# sliding up to 18% of the side up, and further down (where a close-up needs
# the square to follow the face down to the chin) and sideways (where the
# photo cuts the face at one side: the face then sits off-centre against that
# edge, as the photo has it, instead of beside a strip where the photo ends).
_SHRINK = np.linspace(1.0, 0.42, 15)
_SHIFT = np.linspace(-0.48, 0.48, 25)
_SHIFT_DOWN = np.linspace(-0.18, 0.54, 19)
# What a framing costs: giving way costs a little, the body reaching past the
# photo (a floating bust) costs much more, missing headroom a little.
_BODY_MISSING_COST = 12.0
_HEADROOM_MISSING_COST = 1.0
# Per face height of the face outside the square: cheeks and chin stay whole;
# the forehead may be cut, as close-ups are (when the photo leaves no room).
_FACE_CUT_COST = 20.0
_FOREHEAD_CUT_COST = 5.0
CLOTHES_SAMPLES = 1500  # colour samples of each other person's chest
_GRID = 12  # sample points per side when measuring how much of a square is in the photo
# Where the square still reaches past the photo, the person fades into the
# background over this fraction of the side (a soft studio fall-off, no cut).
FADE = 0.16


def align_face(image: np.ndarray, analysis: FaceAnalysis, size: int) -> Portrait:
    """Rotate the eye line level and cut a ``size`` x ``size`` square around the face.

    The framing tightens or slides (within limits) to keep the face and body
    inside the photo; headroom above them may reach past the photo's edge,
    since the background is generated anyway. Wherever the square still
    reaches past the edge, ``Portrait.inside`` falls off softly towards it, so
    the person fades into the background there instead of being cut.
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
    face = _within_photo(
        (
            points[RIGHT_CHEEK, 0],
            points[FOREHEAD, 1] - 0.12 * face_height,
            points[LEFT_CHEEK, 0],
            points[CHIN, 1] + 0.05 * face_height,
        ),
        level,
        image.shape,
    )
    left, top, side = _fit_framing(back, image.shape, centre_x - side / 2, top, side, face)

    scale = size / side
    full = level * scale
    full[:, 2] -= (left * scale, top * scale)
    landmarks = _apply(full, analysis.landmarks)
    source, matrix = _prefilter(image, full)
    warped = cv2.warpAffine(
        source, matrix, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    if _missing(back, image.shape, left, top, side).max() == 0.0:
        inside = np.ones((size, size), np.float32)
    else:
        inside = cv2.warpAffine(
            np.ones(source.shape[:2], np.uint8), matrix, (size, size), borderValue=0
        )
        inside = _fall_off(inside, FADE * size)
    xs, ys = landmarks[:, 0], landmarks[:, 1]
    box = Box(xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min())
    others = tuple(_box_through(full, face) for face in analysis.faces[1:])
    return Portrait(
        image=warped,
        landmarks=landmarks,
        face_box=box,
        inside=inside,
        others=others,
        others_clothes=clothes_below(image, analysis.faces[1:]),
    )


def clothes_below(image: np.ndarray, faces: tuple[Box, ...]) -> np.ndarray | None:
    """Colour samples (N x 3) of what the people with ``faces`` wear: a column down
    the middle of each one's chest, in the photo; None when no one's chest is in it."""
    height, width = image.shape[:2]
    samples = []
    for face in faces:
        cx = face.x + face.width / 2
        x0, x1 = int(max(cx - 0.35 * face.width, 0)), int(min(cx + 0.35 * face.width, width))
        y0 = int(max(face.y + 1.3 * face.height, 0))
        y1 = int(min(face.y + 2.3 * face.height, height))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            chest = image[y0:y1, x0:x1]
            step = max(int(np.sqrt(chest.shape[0] * chest.shape[1] / CLOTHES_SAMPLES)), 1)
            samples.append(chest[::step, ::step].reshape(-1, 3))
    return np.concatenate(samples) if samples else None


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def _missing(
    back: np.ndarray, shape: tuple[int, ...], x0, y0, side, grid: int = _GRID
) -> np.ndarray:
    """For squares (arrays of left, top, side in levelled coordinates): the share of
    sample rows past the photo's edge, per row of a ``grid`` x ``grid`` sampling."""
    height, width = shape[:2]
    x0, y0, side = (np.atleast_1d(np.asarray(v, np.float32))[:, None] for v in (x0, y0, side))
    steps = np.linspace(0.0, 1.0, grid, dtype=np.float32)  # edges included: no sliver missed
    u, v = (a.ravel()[None, :] for a in np.meshgrid(steps, steps))
    m = back.astype(np.float32)
    # The back transform is affine: corner term plus side times the sample's offset.
    src_x = (m[0, 0] * x0 + m[0, 1] * y0 + m[0, 2]) + side * (m[0, 0] * u + m[0, 1] * v)
    src_y = (m[1, 0] * x0 + m[1, 1] * y0 + m[1, 2]) + side * (m[1, 0] * u + m[1, 1] * v)
    outside = (src_x < 0) | (src_x > width) | (src_y < 0) | (src_y > height)
    return outside.reshape(len(x0), grid, grid).mean(axis=2, dtype=np.float32)


def _fit_framing(
    back: np.ndarray,
    shape: tuple[int, ...],
    left: float,
    top: float,
    side: float,
    face: tuple[float, float, float, float],
) -> tuple[float, float, float]:
    """The framing that best trades giving way against showing where the photo ends,
    keeping ``face`` (left, top, right, bottom, levelled coordinates) in the square."""
    if _missing(back, shape, left, top, side).max() == 0.0 and not _face_cut(face, left, top, side):
        return left, top, side  # the ideal square is all photo: nothing to trade
    centre_x = left + side / 2
    shrink, dx, dy = (a.ravel() for a in np.meshgrid(_SHRINK, _SHIFT, _SHIFT_DOWN, indexing="ij"))
    s = side * shrink
    x0 = centre_x - s / 2 + dx * s
    # Shrinking keeps the head whole: shrink about a point near the top, not the centre.
    y0 = top + (side - s) * 0.15 + dy * s
    rows = _missing(back, shape, x0, y0, s)
    split = int(round(HEADROOM_FREE * _GRID))
    cost = (
        2.0 * (1.0 - shrink)
        + 1.5 * np.abs(dx)
        + np.abs(dy)
        + _BODY_MISSING_COST * rows[:, split:].mean(axis=1)
        + _HEADROOM_MISSING_COST * rows[:, :split].mean(axis=1)
        + _face_cut(face, x0, y0, s) / (face[3] - face[1])
    )
    best = int(np.argmin(cost))
    return float(x0[best]), float(y0[best]), float(s[best])


def _within_photo(
    face: tuple[float, float, float, float], level: np.ndarray, shape: tuple[int, ...]
) -> tuple[float, float, float, float]:
    """The part of ``face`` (left, top, right, bottom, levelled) that the photo shows.

    A face the photo itself cuts (a tight close-up) is framed by what is there:
    the square may then end where the photo ends instead of reaching past it.
    """
    height, width = shape[:2]
    corners = _apply(level, np.array([[0, 0], [width, 0], [0, height], [width, height]]))
    (tl, tr, bl, br) = corners
    left, top, right, bottom = face
    return (
        max(left, tl[0], bl[0]),
        max(top, tl[1], tr[1]),
        min(right, tr[0], br[0]),
        min(bottom, bl[1], br[1]),
    )


def _face_cut(face: tuple[float, float, float, float], x0, y0, side) -> np.ndarray:
    """What cutting ``face`` costs in each square: pixels of it outside, per side, weighted."""
    left, top, right, bottom = face
    sides = (
        np.maximum(x0 - left, 0)
        + np.maximum(right - (x0 + side), 0)
        + np.maximum(bottom - (y0 + side), 0)
    )
    return _FACE_CUT_COST * sides + _FOREHEAD_CUT_COST * np.maximum(y0 - top, 0)


def _box_through(matrix: np.ndarray, box: Box) -> Box:
    """The axis-aligned box around ``box`` mapped through an affine ``matrix``."""
    corners = np.array(
        [
            [box.x, box.y],
            [box.x + box.width, box.y],
            [box.x, box.y + box.height],
            [box.x + box.width, box.y + box.height],
        ]
    )
    mapped = _apply(matrix, corners)
    (x0, y0), (x1, y1) = mapped.min(axis=0), mapped.max(axis=0)
    return Box(float(x0), float(y0), float(x1 - x0), float(y1 - y0))


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


def _fall_off(inside: np.ndarray, width: float) -> np.ndarray:
    """1 deep inside the photo, easing to 0 at its edge over ``width`` px (smoothstep)."""
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    t = np.clip(distance / width, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
