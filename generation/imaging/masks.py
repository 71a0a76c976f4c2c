"""Masks of facial features from face-mesh landmarks."""

from __future__ import annotations

from functools import cache, cached_property

import numpy as np

from .filters import polygon_mask
from .state import Portrait

RIGHT_IRIS, LEFT_IRIS = (468, 469, 470, 471, 472), (473, 474, 475, 476, 477)


@cache
def _indices(name: str) -> tuple[int, ...]:
    from mediapipe.python.solutions import face_mesh_connections as fmc

    edges = getattr(fmc, name)
    return tuple(sorted({i for edge in edges for i in edge}))


class FaceMasks:
    """Feathered float masks of one portrait's face, each built once on first use."""

    def __init__(self, portrait: Portrait) -> None:
        self.portrait = portrait

    def region(self, name: str, blur: float = 0.0, grow: float = 1.0) -> np.ndarray:
        """Convex mask of one mesh region (e.g. FACEMESH_LEFT_EYE), grown about its centre."""
        points = self.portrait.landmarks[list(_indices(name))]
        centre = points.mean(axis=0)
        return polygon_mask(self.portrait.size, centre + (points - centre) * grow, blur)

    @cached_property
    def features(self) -> np.ndarray:
        """Eyes, brows and lips: the parts retouching must leave crisp."""
        blur = self.portrait.size / 300
        mask = self.region("FACEMESH_LIPS", blur, 1.15)
        for name, grow in (
            ("FACEMESH_LEFT_EYE", 1.5),
            ("FACEMESH_RIGHT_EYE", 1.5),
            ("FACEMESH_LEFT_EYEBROW", 1.3),
            ("FACEMESH_RIGHT_EYEBROW", 1.3),
        ):
            np.maximum(mask, self.region(name, blur, grow), out=mask)
        return mask

    @cached_property
    def skin(self) -> np.ndarray:
        """The face's skin: the face oval less eyes, brows and lips."""
        oval = self.region("FACEMESH_FACE_OVAL", self.portrait.size / 120, 0.97)
        return np.clip(oval - self.features, 0.0, 1.0)

    @cached_property
    def eyes(self) -> np.ndarray:
        blur = self.portrait.size / 400
        return np.maximum(
            self.region("FACEMESH_LEFT_EYE", blur), self.region("FACEMESH_RIGHT_EYE", blur)
        )


def irises(portrait: Portrait) -> list[tuple[np.ndarray, float]]:
    """(centre, radius) of each iris."""
    found = []
    for ring in (RIGHT_IRIS, LEFT_IRIS):
        points = portrait.landmarks[list(ring)]
        radius = float(np.linalg.norm(points[1:] - points[0], axis=1).mean())
        found.append((points[0], radius))
    return found
