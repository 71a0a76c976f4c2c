"""The output checks measure the output itself: its own face and its own descriptor,
taken on the unstyled face's box."""

from __future__ import annotations

import cv2
import numpy as np

from generation.portrait.checks import check_output
from generation.portrait.face import detect_faces
from generation.portrait.likeness import embedding

from .conftest import decode, photo_array


def _with_face_of(image: np.ndarray, box, other: np.ndarray) -> np.ndarray:
    """``image`` with the region around ``box`` replaced by ``other``'s face."""
    found = detect_faces(other).dominant
    grow = 0.3
    pick = [
        int(found.y - grow * found.height),
        int(found.y + (1 + grow) * found.height),
        int(found.x - grow * found.width),
        int(found.x + (1 + grow) * found.width),
    ]
    face = other[max(pick[0], 0) : pick[1], max(pick[2], 0) : pick[3]]
    top, left = int(box.y - grow * box.height), int(box.x - grow * box.width)
    side_h, side_w = int((1 + 2 * grow) * box.height), int((1 + 2 * grow) * box.width)
    swapped = image.copy()
    swapped[top : top + side_h, left : left + side_w] = cv2.resize(
        face, (side_w, side_h), interpolation=cv2.INTER_AREA
    )
    return swapped


def test_the_same_face_passes_every_check():
    image = photo_array("obama2.jpg")
    box = detect_faces(image).dominant
    outcome = check_output(image, embedding(image, box), box, 0.85, None)
    assert outcome.face_in_output and outcome.likeness > 0.99 and outcome.unmet == ()


def test_another_face_in_the_same_place_is_not_alike():
    image = photo_array("obama2.jpg")
    box = detect_faces(image).dominant
    swapped = _with_face_of(image, box, photo_array("biden2.jpg"))
    outcome = check_output(swapped, embedding(image, box), box, 0.85, None)
    assert outcome.face_in_output
    assert outcome.likeness < 0.5 and outcome.unmet == ("likeness_below_threshold",)


def test_an_output_without_a_face_fails_the_face_check():
    image = photo_array("obama2.jpg")
    box = detect_faces(image).dominant
    blank = np.full_like(image, 128)
    outcome = check_output(blank, embedding(image, box), box, 0.85, None)
    assert not outcome.face_in_output and "no_face_in_output" in outcome.unmet


def test_a_retried_request_returns_the_png_of_its_best_try(avatars):
    """Each try is encoded beside its checks; the bytes returned are the best try's,
    the avatar that try's intensity gives when asked for outright."""
    retried = avatars("obama2.jpg", "anime", "linkedin", likeness_threshold=0.999)
    assert retried.attempts == 3 and retried.style_intensity < 0.8
    outright = avatars(
        "obama2.jpg",
        "anime",
        "linkedin",
        style_intensity=retried.style_intensity,
        likeness_threshold=0.0,
    )
    assert outright.attempts == 1
    np.testing.assert_array_equal(decode(retried.png), decode(outright.png))
    np.testing.assert_array_equal(decode(retried.thumbnail), decode(outright.thumbnail))
    assert retried.likeness_score == outright.likeness_score
