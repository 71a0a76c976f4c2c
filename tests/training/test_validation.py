"""Reference sets are checked as a whole: every problem code, on real photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from generation.portrait.safety import SafetyVerdict
from generation.training import (
    PROBLEM_CODES,
    TrainingError,
    train_subject,
    validate_style_examples,
    validate_subject_set,
)

from .conftest import PHOTOS, encode, photo, variants


def codes(report) -> list[tuple[int, str]]:
    return [(p.index, p.code) for p in report.problems]


def test_a_set_of_one_man_passes(obama_set):
    report = validate_subject_set(obama_set, "man")
    assert report.ok and report.problems == []


def test_too_few_and_too_many_photos_are_refused_before_any_is_read():
    assert codes(validate_subject_set([b"x"] * 4, "man")) == [(-1, "too_few")]
    assert codes(validate_subject_set([b"x"] * 31, "woman")) == [(-1, "too_many")]
    assert codes(validate_subject_set([], "cat")) == [(-1, "too_few")]


def test_someone_else_in_the_set_is_named(obama_set):
    mixed = [*obama_set[:5], photo("biden2.jpg"), obama_set[5]]
    report = validate_subject_set(mixed, "man")
    assert not report.ok
    assert codes(report) == [(5, "different_person")]
    assert "not the person" in report.problems[0].message


def test_broken_hostile_and_tiny_photos_are_not_images(obama_set):
    truncated = photo("obama.jpg")[:5000]
    tiny = encode(np.full((60, 60, 3), 128, np.uint8))
    # A PNG header claiming 100000 x 100000 pixels: refused before decoding.
    bomb = bytes.fromhex("89504e470d0a1a0a0000000d49484452000186a0000186a00802000000") + b"\0" * 64
    oversized = b"\xff\xd8\xff" + bytes(21 * 1024 * 1024)
    photos = [*obama_set[:5], truncated, b"not an image at all", tiny, bomb, oversized]
    report = validate_subject_set(photos, "man")
    assert codes(report) == [(i, "not_an_image") for i in range(5, 10)]
    assert "smaller than" in report.problems[2].message
    assert "the limit is" in report.problems[4].message


def test_photos_without_one_clear_face(obama_set):
    photos = [*obama_set[:5], photo("coffee.png"), photo("two_people.jpg")]
    assert codes(validate_subject_set(photos, "man")) == [(5, "no_face"), (6, "multiple_faces")]


def side_by_side(*names: str) -> bytes:
    """One photo of two people who were never photographed together."""
    halves = [Image.open(PHOTOS / name).convert("RGB") for name in names]
    halves = [h.resize((int(h.width * 420 / h.height), 420)) for h in halves]
    return encode(np.hstack([np.asarray(h) for h in halves]))


def test_a_couple_is_the_same_two_people_throughout():
    pair = variants("obama_and_biden.jpg", 4) + [photo("two_people.jpg")]  # the same two
    assert validate_subject_set(pair, "couple").ok
    strangers = side_by_side("lin-manuel-miranda.png", "alex-lacamoire.png")
    others = [*pair, strangers, photo("obama.jpg")]
    assert codes(validate_subject_set(others, "couple")) == [
        (5, "different_person"),
        (6, "missing_face"),
    ]


def test_a_cat_set_needs_a_cat_face():
    cats = variants("chelsea.png", 5, mirror=False)
    assert validate_subject_set(cats, "cat").ok
    report = validate_subject_set([*cats, photo("coffee.png"), photo("obama.jpg")], "cat")
    assert codes(report) == [(5, "no_cat_face"), (6, "no_cat_face")]


def test_a_dog_set_needs_one_dominant_subject():
    rng = np.random.default_rng(1)
    blank = encode(np.full((400, 400, 3), 190, np.uint8))
    noise = encode(rng.integers(0, 256, (400, 400, 3), dtype=np.uint8))
    subjects = variants("coffee.png", 5)
    assert validate_subject_set(subjects, "dog").ok
    report = validate_subject_set([*subjects, blank, noise], "dog")
    assert codes(report) == [(5, "no_subject"), (6, "no_subject")]


class RefuseBrightPhotos:
    """A deployment's own content policy: the safety check is any object with ``check``."""

    def check(self, image: np.ndarray) -> SafetyVerdict:
        return SafetyVerdict(safe=image.mean() < 200, labels=("too_bright",))


def test_the_content_check_refuses_a_photo(obama_set):
    white = encode(np.full((300, 300, 3), 250, np.uint8))
    report = validate_subject_set([*obama_set[:5], white], "man", safety=RefuseBrightPhotos())
    assert codes(report) == [(5, "unsafe_content")]


def test_style_examples_are_counted_and_read():
    example = encode(np.random.default_rng(2).integers(0, 256, (80, 96, 3), dtype=np.uint8))
    assert validate_style_examples([example] * 50).ok
    assert codes(validate_style_examples([example] * 49)) == [(-1, "too_few")]
    assert codes(validate_style_examples([example] * 201)) == [(-1, "too_many")]
    small = encode(np.zeros((40, 40, 3), np.uint8))
    report = validate_style_examples([example] * 48 + [b"\x89PNG broken", small])
    assert codes(report) == [(48, "not_an_image"), (49, "not_an_image")]


def test_every_code_is_documented():
    used = {"too_few", "too_many", "not_an_image", "no_face", "multiple_faces", "missing_face"}
    used |= {"different_person", "no_cat_face", "no_subject", "unsafe_content", "face_too_small"}
    assert used == set(PROBLEM_CODES)


def test_training_refuses_a_failing_set_with_its_reasons(obama_set):
    with pytest.raises(TrainingError) as caught:
        train_subject([*obama_set[:5], photo("biden2.jpg")], "man")
    assert caught.value.code == "image_not_valid"
    assert [(p.index, p.code) for p in caught.value.problems] == [(5, "different_person")]


def test_an_unknown_subject_type_is_a_caller_error(obama_set):
    with pytest.raises(ValueError):
        validate_subject_set(obama_set, "horse")
