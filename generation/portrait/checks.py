"""Quality checks on a finished avatar: face presence, likeness, content safety."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generation.imaging.state import Box

from .face import find_faces
from .likeness import embedding, likeness
from .safety import SafetyClassifier


@dataclass(frozen=True)
class CheckOutcome:
    face_in_output: bool
    likeness: float
    safe: bool
    threshold: float

    @property
    def unmet(self) -> tuple[str, ...]:
        """Warning codes for each check that failed."""
        failed = []
        if not self.face_in_output:
            failed.append("no_face_in_output")
        if self.likeness < self.threshold:
            failed.append("likeness_below_threshold")
        if not self.safe:
            failed.append("unsafe_output")
        return tuple(failed)

    @property
    def rank(self) -> tuple[int, float]:
        """Sort key for "best" output: fewest failed checks, then most alike."""
        return -len(self.unmet), self.likeness


def reference_face(image: np.ndarray, fallback: Box) -> tuple[Box, np.ndarray]:
    """The unstyled face the checks compare against: its box on the aligned square
    (MediaPipe's, or ``fallback`` where it finds none) and its descriptor."""
    faces, _ = find_faces(image)
    box = faces[0] if faces else fallback
    return box, embedding(image, box)


def check_output(
    image: np.ndarray,
    reference: np.ndarray,
    face_box: Box,
    threshold: float,
    safety: SafetyClassifier | None,
) -> CheckOutcome:
    """Run every check on ``image`` against the unstyled face's descriptor.

    The output's own descriptor is taken on ``face_box``, where the unstyled
    face was found in the same square: styling moves no face, and dlib's
    landmark model places its points on the output's own features within it.
    ``safety`` is None when the engine only retouches pixels of a photo that
    already passed the content check (it cannot add unsafe content).
    """
    faces, _ = find_faces(image)
    return CheckOutcome(
        face_in_output=bool(faces),
        likeness=likeness(reference, embedding(image, face_box)),
        safe=safety is None or safety.check(image).safe,
        threshold=threshold,
    )
