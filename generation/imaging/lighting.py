"""Relighting from the face mesh: the face as a curved surface, lit by a key and a fill.

The mesh's outline and nose line give the head's shape: an ellipsoid fitted
to the face oval, with the nose's ridge raised along its line. Its normals,
lit by a key light from one side and a softer fill from the other, give a
gain per pixel that models the face the way studio lights would. The key
comes from the side the photo is already lit from, so the new light never
fights the old shadows.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from .filters import luminance, to_float
from .state import Portrait

FACE_OVAL_POINTS = 36
NOSE_RIDGE = (168, 6, 197, 195, 5, 4, 1)


@cache
def _oval() -> tuple[int, ...]:
    from mediapipe.python.solutions import face_mesh_connections as fmc

    return tuple(sorted({i for edge in fmc.FACEMESH_FACE_OVAL for i in edge}))


def lit_side(portrait: Portrait) -> float:
    """-1 when the photo's light comes from the image's left, +1 from its right."""
    marks = portrait.landmarks
    grey = luminance(to_float(portrait.image))
    samples = []
    for cheek, nose in ((234, 1), (454, 1)):  # image-left cheek, image-right cheek
        point = marks[cheek] * 0.6 + marks[nose] * 0.4
        x, y = (int(v) for v in point)
        r = max(int(portrait.face_box.width * 0.06), 2)
        patch = grey[max(y - r, 0) : y + r, max(x - r, 0) : x + r]
        samples.append(float(patch.mean()) if patch.size else 0.5)
    left, right = samples
    return float(np.clip((right - left) / max(left + right, 1e-3) * 6.0, -1.0, 1.0))


def normals(portrait: Portrait, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit normals (size x size x 3: x right, y down, z towards the camera) of the
    head, and a soft mask of where they hold (the face, fading over the hair and neck)."""
    scale = size / portrait.size
    marks = portrait.landmarks * scale
    oval = marks[list(_oval())]
    centre = oval.mean(axis=0)
    half_w = (oval[:, 0].max() - oval[:, 0].min()) / 2 * 1.05
    half_h = (oval[:, 1].max() - oval[:, 1].min()) / 2 * 1.05
    axis = np.arange(size, dtype=np.float32) + 0.5
    dx = (axis[None, :] - centre[0]) / half_w
    dy = (axis[:, None] - centre[1]) / half_h
    dx, dy = np.broadcast_to(dx, (size, size)), np.broadcast_to(dy, (size, size))
    r2 = np.minimum(dx * dx + dy * dy, 0.98)
    nz = np.sqrt(1.0 - r2)
    n = np.stack([dx * 0.9, dy * 0.6, nz], axis=-1)
    # The nose: a ridge whose sides face left and right.
    ridge = np.zeros((size, size), np.float32)
    cv2.polylines(ridge, [marks[list(NOSE_RIDGE)].astype(np.int32)], False, 1.0,
                  max(int(half_w * 0.12), 1))  # fmt: skip
    ridge = cv2.GaussianBlur(ridge, (0, 0), max(half_w * 0.12, 1.0))
    slope = cv2.Sobel(ridge, cv2.CV_32F, 1, 0, ksize=3)
    n[..., 0] -= slope * half_w * 0.6
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    reach = np.clip((1.25 - np.sqrt(dx * dx + dy * dy)) / 0.35, 0.0, 1.0)
    return n, reach.astype(np.float32)


def studio_gain(
    portrait: Portrait, key: float, fill: float, side: float, height: float = 0.5, small: int = 128
) -> np.ndarray:
    """A per-pixel gain (portrait size) for a key light from ``side`` (-1 image-left,
    +1 image-right) and ``height`` above, at strength ``key``, with a fill from the
    other side at ``fill``; 1.0 away from the head, shaped by its normals on it."""
    n, reach = normals(portrait, small)
    direction = np.array([side * 0.75, -height, 0.6], np.float32)
    direction /= np.linalg.norm(direction)
    opposite = np.array([-side * 0.8, -0.1, 0.6], np.float32)
    opposite /= np.linalg.norm(opposite)
    lit = np.clip(n @ direction, 0.0, 1.0)
    filled = np.clip(n @ opposite, 0.0, 1.0)
    level = float(np.median(lit[reach > 0.9])) if (reach > 0.9).any() else 0.5
    gain = 1.0 + key * (lit - level) + fill * filled * (1.0 - lit)
    gain = 1.0 + (gain - 1.0) * reach
    gain = cv2.GaussianBlur(gain.astype(np.float32), (0, 0), small / 100)
    return cv2.resize(gain, (portrait.size, portrait.size), interpolation=cv2.INTER_CUBIC)
