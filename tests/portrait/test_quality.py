"""input_quality_score: worse versions of a photo score lower."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from generation.portrait.face import detect_faces
from generation.portrait.quality import input_quality_score

from .conftest import photo_array


def score(image: np.ndarray) -> float:
    return input_quality_score(image, detect_faces(image))


@pytest.mark.parametrize("name", ["biden2.jpg", "obama2.jpg", "lin-manuel-miranda.png"])
def test_blurred_darkened_and_small_versions_score_lower(name):
    original = photo_array(name)
    blurred = cv2.GaussianBlur(original, (0, 0), 4)
    darkened = (original * 0.3).astype(np.uint8)
    small = cv2.resize(original, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    base = score(original)
    assert 0.0 <= base <= 1.0
    for worse in (blurred, darkened, small):
        assert score(worse) < base


def test_scores_stay_in_range_across_fixtures():
    for name in ("obama.jpg", "obama_small.jpg", "alex-lacamoire.png", "astronaut.png"):
        assert 0.0 <= score(photo_array(name)) <= 1.0
