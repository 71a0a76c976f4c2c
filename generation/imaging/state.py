"""The small dataclasses the stages pass along."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels."""

    x: float
    y: float
    width: float
    height: float

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2


@dataclass(frozen=True)
class Portrait:
    """The square working image and what is known about it.

    ``landmarks`` are the 478 face-mesh points of the subject in image pixels.
    ``inside`` is 1 where a pixel came from the photo and 0 where the square
    reached past the photo's edge (soft: the body fades out towards it);
    ``others`` are the boxes of everyone else's faces in the square, so the
    matte can leave them out, and ``others_clothes`` (N x 3 RGB) colours of
    their clothes, sampled below their faces in the photo (which may be outside
    the square); ``matte`` is the person/background separation (1 = person),
    already zero outside the photo.
    """

    image: np.ndarray
    landmarks: np.ndarray
    face_box: Box
    inside: np.ndarray
    matte: np.ndarray | None = None
    others: tuple[Box, ...] = ()
    others_clothes: np.ndarray | None = None

    @property
    def size(self) -> int:
        return self.image.shape[0]

    def face_slice(self, margin: float = 0.15) -> tuple[slice, slice]:
        """Rows and columns of the face box grown by ``margin`` of its size, clipped."""
        box = self.face_box
        pad_x, pad_y = box.width * margin, box.height * margin
        x0, y0 = max(int(box.x - pad_x), 0), max(int(box.y - pad_y), 0)
        x1 = min(int(box.x + box.width + pad_x) + 1, self.size)
        y1 = min(int(box.y + box.height + pad_y) + 1, self.size)
        return slice(y0, y1), slice(x0, x1)
