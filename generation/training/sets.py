"""What a reference set is allowed to be, and the report a set's check gives back."""

from __future__ import annotations

from dataclasses import dataclass, field

SUBJECT_TYPES = ("man", "woman", "couple", "dog", "cat")
SUBJECT_PHOTOS = (5, 30)  # inclusive bounds on a subject model's reference photos
STYLE_EXAMPLES = (50, 200)  # inclusive bounds on a custom style's example images

# Every code a PhotoProblem may carry. ``index`` is -1 for problems of the set as a whole.
PROBLEM_CODES = (
    "too_few",  # the set has fewer photos than the minimum
    "too_many",  # the set has more photos than the maximum
    "not_an_image",  # broken, unreadable, too small or too large (the portrait load checks)
    "unsafe_content",  # refused by the content check
    "no_face",  # man/woman/couple: no usable face
    "face_too_small",  # man/woman/couple: a face too small or cut to be a reference
    "multiple_faces",  # man/woman: more than one clear face; couple: more than two
    "missing_face",  # couple: only one clear face
    "different_person",  # not the person (or pair) the rest of the set shows
    "no_cat_face",  # cat: no cat face found
    "no_subject",  # dog: no single dominant subject in frame
)


@dataclass(frozen=True)
class PhotoProblem:
    """Why one photo (by its position in the set, from 0) cannot be used."""

    index: int
    code: str
    message: str


@dataclass
class SetReport:
    """The verdict on a whole set: ``ok`` only when no photo has a problem."""

    ok: bool
    problems: list[PhotoProblem] = field(default_factory=list)

    @classmethod
    def of(cls, problems: list[PhotoProblem]) -> SetReport:
        return cls(ok=not problems, problems=sorted(problems, key=lambda p: p.index))

    def as_dicts(self) -> list[dict]:
        """The problems JSON-ready, for an ``IMAGE_NOT_VALID`` answer."""
        return [{"index": p.index, "code": p.code, "message": p.message} for p in self.problems]


def count_problem(count: int, bounds: tuple[int, int], noun: str) -> PhotoProblem | None:
    """``too_few`` or ``too_many`` for a set of ``count`` items, or None when it fits."""
    low, high = bounds
    if count < low:
        return PhotoProblem(-1, "too_few", f"{count} {noun} given; at least {low} are needed")
    if count > high:
        return PhotoProblem(-1, "too_many", f"{count} {noun} given; at most {high} are allowed")
    return None
