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


def check_output(
    image: np.ndarray,
    reference: np.ndarray,
    reference_box: Box,
    threshold: float,
    safety: SafetyClassifier | None,
) -> CheckOutcome:
    """Run every check on ``image`` against the unstyled face's embedding.

    ``safety`` is None when the engine only retouches pixels of a photo that
    already passed the content check (it cannot add unsafe content).
    """
    faces, _ = find_faces(image)
    box = faces[0] if faces else reference_box
    score = likeness(reference, embedding(image, box))
    return CheckOutcome(
        face_in_output=bool(faces),
        likeness=score,
        safe=safety is None or safety.check(image).safe,
        threshold=threshold,
    )
