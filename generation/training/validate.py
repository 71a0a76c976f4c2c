"""Checking a reference set as a whole before anything is trained or charged.

Each photo first passes the portrait pipeline's load checks; then, by subject type, the set
must show one person throughout (man, woman), the same two people (couple), a cat face (cat)
or one dominant subject (dog). Photos of someone else are named ``different_person``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from generation.imaging.state import Box
from generation.portrait.errors import PortraitError
from generation.portrait.face import FaceAnalysis, detect_faces
from generation.portrait.likeness import CENTRE, embedding
from generation.portrait.load import DEFAULT_LIMITS, Limits, load_photo
from generation.portrait.safety import SafetyClassifier, safety_classifier

from .pets import Subject, dominant_subject, find_cat_faces
from .sets import (
    STYLE_EXAMPLES,
    SUBJECT_PHOTOS,
    SUBJECT_TYPES,
    PhotoProblem,
    SetReport,
    count_problem,
)

SAME_PERSON = CENTRE  # dlib's tolerance: descriptors closer than this are one person
BACKGROUND_FACE = 0.15  # a face under this share of the largest one's area is a passer-by
MIN_FACE_PX = 80  # a reference face must be at least this tall in the photo
WORKING_SIDE = 1280  # photos are kept at most this large once checked
STYLE_LIMITS = Limits(min_side=64)


@dataclass
class CheckedPhoto:
    """One photo that passed its own checks, with what the set check and training need."""

    index: int
    image: np.ndarray  # RGB uint8, at most WORKING_SIDE on its long side
    analysis: FaceAnalysis | None = None  # people: the faces found
    faces: tuple[Box, ...] = ()  # people: the clear faces, largest first
    embeddings: list[np.ndarray] = field(default_factory=list)  # one per clear face
    subject: Subject | None = None  # dog: the dominant subject
    cat_face: Box | None = None  # cat: the largest cat face


def validate_subject_set(
    photos: Sequence[bytes], subject_type: str, *, safety: SafetyClassifier | None = None
) -> SetReport:
    """Check a subject model's 5-30 reference photos; ``ok`` when training may start."""
    report, _ = check_subject_set(photos, subject_type, safety=safety)
    return report


def validate_style_examples(
    images: Sequence[bytes], *, safety: SafetyClassifier | None = None
) -> SetReport:
    """Check a custom style's 50-200 examples: each a readable, safe image of 64 px or more."""
    report, _ = check_style_examples(images, safety=safety)
    return report


def check_style_examples(
    images: Sequence[bytes], *, safety: SafetyClassifier | None = None
) -> tuple[SetReport, list[np.ndarray]]:
    """The report and, when it is ok, the decoded examples (at most WORKING_SIDE)."""
    wrong_count = count_problem(len(images), STYLE_EXAMPLES, "example images")
    if wrong_count:
        return SetReport.of([wrong_count]), []
    safety = safety or safety_classifier()
    problems, decoded = [], []
    for index, data in enumerate(images):
        image, problem = _load(index, data, STYLE_LIMITS, safety)
        if problem:
            problems.append(problem)
        else:
            decoded.append(image)
    return SetReport.of(problems), decoded if not problems else []


def check_subject_set(
    photos: Sequence[bytes], subject_type: str, *, safety: SafetyClassifier | None = None
) -> tuple[SetReport, list[CheckedPhoto]]:
    """The report and, when it is ok, every photo with what was found in it."""
    if subject_type not in SUBJECT_TYPES:
        raise ValueError(f"subject_type is one of {', '.join(SUBJECT_TYPES)}")
    wrong_count = count_problem(len(photos), SUBJECT_PHOTOS, "photos")
    if wrong_count:
        return SetReport.of([wrong_count]), []
    safety = safety or safety_classifier()
    inspect = _INSPECTORS[subject_type]
    problems: list[PhotoProblem] = []
    checked: list[CheckedPhoto] = []
    for index, data in enumerate(photos):
        image, problem = _load(index, data, DEFAULT_LIMITS, safety)
        if problem is None:
            photo = CheckedPhoto(index=index, image=image)
            problem = inspect(photo)
        if problem:
            problems.append(problem)
        else:
            checked.append(photo)
    if subject_type in ("man", "woman"):
        problems += _others_in_single(checked)
    elif subject_type == "couple":
        problems += _others_in_couple(checked)
    report = SetReport.of(problems)
    return report, checked if report.ok else []


def _load(
    index: int, data: bytes, limits: Limits, safety: SafetyClassifier
) -> tuple[np.ndarray, PhotoProblem | None]:
    try:
        image = load_photo(data, limits)
    except PortraitError as exc:
        return np.empty(0), PhotoProblem(index, "not_an_image", exc.message)
    scale = WORKING_SIDE / max(image.shape[:2])
    if scale < 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if not safety.check(image).safe:
        return image, PhotoProblem(index, "unsafe_content", "refused by the content check")
    return image, None


def _inspect_person(photo: CheckedPhoto, wanted: int) -> PhotoProblem | None:
    analysis = detect_faces(photo.image)
    if not analysis.faces:
        return PhotoProblem(photo.index, "no_face", "no face was found")
    largest = analysis.faces[0].area
    clear = tuple(f for f in analysis.faces if f.area >= BACKGROUND_FACE * largest)
    if len(clear) > wanted:
        return PhotoProblem(
            photo.index,
            "multiple_faces",
            f"{len(clear)} clear faces are in the photo; {wanted} wanted",
        )
    if len(clear) < wanted:
        return PhotoProblem(photo.index, "missing_face", "a couple photo needs both faces")
    if analysis.landmarks is None or min(f.height for f in clear) < MIN_FACE_PX:
        return PhotoProblem(
            photo.index, "face_too_small", f"each face must be at least {MIN_FACE_PX} px tall"
        )
    photo.analysis, photo.faces = analysis, clear
    photo.embeddings = [embedding(photo.image, face) for face in clear]
    return None


def _inspect_single(photo: CheckedPhoto) -> PhotoProblem | None:
    return _inspect_person(photo, 1)


def _inspect_couple(photo: CheckedPhoto) -> PhotoProblem | None:
    return _inspect_person(photo, 2)


def _inspect_cat(photo: CheckedPhoto) -> PhotoProblem | None:
    faces = find_cat_faces(photo.image)
    if not faces:
        return PhotoProblem(photo.index, "no_cat_face", "no cat face was found")
    photo.cat_face = faces[0]
    return None


def _inspect_dog(photo: CheckedPhoto) -> PhotoProblem | None:
    photo.subject = dominant_subject(photo.image)
    if photo.subject is None:
        return PhotoProblem(photo.index, "no_subject", "no single dominant subject is in frame")
    return None


_INSPECTORS = {
    "man": _inspect_single,
    "woman": _inspect_single,
    "couple": _inspect_couple,
    "cat": _inspect_cat,
    "dog": _inspect_dog,
}


def _distances(points: np.ndarray) -> np.ndarray:
    return np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)


def _central(points: np.ndarray, among: np.ndarray | None = None) -> int:
    """The point with the most others within SAME_PERSON (closest overall on a tie)."""
    near = _distances(points)
    candidates = np.arange(len(points)) if among is None else np.flatnonzero(among)
    scores = [((near[i] < SAME_PERSON).sum(), -near[i].sum()) for i in candidates]
    return int(candidates[max(range(len(scores)), key=scores.__getitem__)])


def _others_in_single(checked: list[CheckedPhoto]) -> list[PhotoProblem]:
    """Photos whose face is not the person most of the set shows."""
    if len(checked) < 2:
        return []
    points = np.array([p.embeddings[0] for p in checked])
    medoid = _central(points)
    near = np.linalg.norm(points - points[medoid], axis=1) < SAME_PERSON
    centre = points[near].mean(axis=0)
    return [
        PhotoProblem(p.index, "different_person", "this is not the person the other photos show")
        for p, e in zip(checked, points, strict=True)
        if np.linalg.norm(e - centre) >= SAME_PERSON
    ]


def _others_in_couple(checked: list[CheckedPhoto]) -> list[PhotoProblem]:
    """Photos that do not show the two people most of the set shows."""
    if len(checked) < 2:
        return []
    faces = np.array([e for p in checked for e in p.embeddings])
    first = _central(faces)
    apart = np.linalg.norm(faces - faces[first], axis=1) >= SAME_PERSON
    if not apart.any():
        return [
            PhotoProblem(p.index, "different_person", "the two faces look like one person")
            for p in checked
        ]
    second = _central(faces, among=apart)
    pair = (faces[first], faces[second])
    problems = []
    for photo in checked:
        one, two = photo.embeddings
        straight = max(np.linalg.norm(one - pair[0]), np.linalg.norm(two - pair[1]))
        crossed = max(np.linalg.norm(one - pair[1]), np.linalg.norm(two - pair[0]))
        if min(straight, crossed) >= SAME_PERSON:
            problems.append(
                PhotoProblem(
                    photo.index, "different_person", "these are not the two people of the set"
                )
            )
    return problems
