"""Quality checks on a finished avatar: face presence, likeness, content safety."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generation.imaging.state import Box

from .face import find_faces
from .likeness import likeness
from .reference import PendingDescriptor
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
    reference: PendingDescriptor,
    face_box: Box,
    threshold: float,
    safety: SafetyClassifier | None,
) -> CheckOutcome:
    """Run every check on ``image`` against the unstyled face's descriptor.

    The output's own descriptor is computed in the helper process (dlib holds
    the GIL for about 60 ms) while this one looks for a face in the output and
    runs the content check. It is taken on ``face_box``, where the unstyled
    face was found in the same square: styling moves no face, and dlib's
    landmark model places its points on the output's own features within it.
    ``safety`` is None when the engine only retouches pixels of a photo that
    already passed the content check (it cannot add unsafe content).
    """
    descriptor = PendingDescriptor(image, face_box)
    faces, _ = find_faces(image)
    safe = safety is None or safety.check(image).safe
    return CheckOutcome(
        face_in_output=bool(faces),
        likeness=likeness(reference.result(), descriptor.result()),
        safe=safe,
        threshold=threshold,
    )
