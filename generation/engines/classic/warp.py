"""Gentle landmark-driven face warps: bulges (larger eyes) and a jaw pinch (softer jaw).

Each warp is an inverse map (where each output pixel samples the photo),
smooth and local, so the image is resampled once with ``cv2.remap`` and the
landmarks follow by inverting the map with a few fixed-point steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Bulge:
    """Magnify a disc: ``amount`` 0.15 draws the centre from 15% nearer in."""

    centre: np.ndarray
    radius: float
    amount: float

    def offset(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = x - self.centre[0], y - self.centre[1]
        r2 = (dx * dx + dy * dy) / (self.radius * self.radius)
        weight = np.clip(1.0 - r2, 0.0, 1.0) ** 2 * self.amount
        return -dx * weight, -dy * weight


@dataclass(frozen=True)
class Pinch:
    """Narrow the face between the mouth and the chin (most at the chin's level),
    fading out sideways past the face and below the chin."""

    centre_x: float
    mouth_y: float
    chin_y: float
    face_width: float
    amount: float

    def offset(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        span = max(self.chin_y - self.mouth_y, 1.0)
        down = (y - self.mouth_y) / span
        rise = np.clip(down, 0.0, 1.0)
        fall = np.clip(1.0 - (down - 1.0) / 0.6, 0.0, 1.0)
        vertical = np.where(down < 1.0, rise * rise * (3 - 2 * rise), fall * fall * (3 - 2 * fall))
        across = (x - self.centre_x) / (0.5 * self.face_width)
        sideways = np.exp(-((np.abs(across) / 1.3) ** 4))
        return (x - self.centre_x) * self.amount * vertical * sideways, np.zeros_like(y)


def _source(
    x: np.ndarray, y: np.ndarray, warps: list[Bulge | Pinch]
) -> tuple[np.ndarray, np.ndarray]:
    sx, sy = x.copy(), y.copy()
    for warp in warps:
        ox, oy = warp.offset(x, y)
        sx += ox
        sy += oy
    return sx, sy


def warp_face(
    image: np.ndarray,
    landmarks: np.ndarray,
    region: tuple[slice, slice],
    bulges: list[Bulge],
    pinch: Pinch,
) -> tuple[np.ndarray, np.ndarray]:
    """The image warped inside ``region`` (rows, cols) and the landmarks moved with it."""
    warps = [*bulges, pinch]
    rows, cols = region
    height, width = rows.stop - rows.start, cols.stop - cols.start
    # The displacement is smooth: worked out on a grid a quarter the size, then enlarged.
    coarse = (max(width // 4, 2), max(height // 4, 2))
    ys = np.linspace(rows.start, rows.stop - 1, coarse[1], dtype=np.float32)
    xs = np.linspace(cols.start, cols.stop - 1, coarse[0], dtype=np.float32)
    grid_x, grid_y = np.meshgrid(xs, ys)
    map_x, map_y = _source(grid_x, grid_y, warps)
    # Fade the warp out at the region's border so no seam shows.
    fade_y = np.minimum(ys - rows.start, rows.stop - 1 - ys)[:, None]
    fade_x = np.minimum(xs - cols.start, cols.stop - 1 - xs)[None, :]
    fade = np.clip(np.minimum(fade_x, fade_y) / 8.0, 0.0, 1.0)
    shift_x = cv2.resize(((map_x - grid_x) * fade).astype(np.float32), (width, height))
    shift_y = cv2.resize(((map_y - grid_y) * fade).astype(np.float32), (width, height))
    full_x, full_y = np.meshgrid(
        np.arange(cols.start, cols.stop, dtype=np.float32),
        np.arange(rows.start, rows.stop, dtype=np.float32),
    )
    map_x, map_y = full_x + shift_x, full_y + shift_y
    warped = image.copy()
    warped[rows, cols] = cv2.remap(
        image, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )  # fmt: skip
    # Landmarks: find p with source(p) = landmark (the map is close to identity).
    moved = landmarks.astype(np.float64).copy()
    for _ in range(6):
        sx, sy = _source(moved[:, 0], moved[:, 1], warps)
        moved[:, 0] += landmarks[:, 0] - sx
        moved[:, 1] += landmarks[:, 1] - sy
    return warped, moved
