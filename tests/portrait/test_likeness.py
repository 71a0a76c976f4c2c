"""Likeness calibration: dlib embeddings mapped to [0, 1] on the fixture photos."""

from __future__ import annotations

from functools import cache
from itertools import combinations

import dlib
import numpy as np
import pytest

from generation.portrait.dlib_net import onnx_model
from generation.portrait.face import detect_faces
from generation.portrait.likeness import (
    _model_dir,
    chip_descriptor,
    embedding,
    face_chip,
    likeness,
    likeness_from_distance,
)

from .conftest import photo_array

SAME_PERSON = [
    ("obama.jpg", "obama2.jpg"),
    ("obama.jpg", "obama3.jpg"),
    ("obama2.jpg", "obama3.jpg"),
    ("obama.jpg", "obama_small.jpg"),
    ("obama3.jpg", "obama_partial_face.jpg"),
    ("biden.jpg", "biden2.jpg"),
]
PEOPLE = {
    "obama": "obama2.jpg",
    "biden": "biden2.jpg",
    "lin": "lin-manuel-miranda.png",
    "alex": "alex-lacamoire.png",
    "astronaut": "astronaut.png",
}


@cache
def face_vector(name: str) -> np.ndarray:
    image = photo_array(name)
    return embedding(image, detect_faces(image).dominant)


@pytest.mark.parametrize(("a", "b"), SAME_PERSON)
def test_two_photos_of_one_person_score_at_least_085(a, b):
    assert likeness(face_vector(a), face_vector(b)) >= 0.85


@pytest.mark.parametrize(("a", "b"), list(combinations(PEOPLE.values(), 2)))
def test_photos_of_different_people_score_at_most_05(a, b):
    assert likeness(face_vector(a), face_vector(b)) <= 0.5


def test_mapping_is_monotonic_and_centred_on_dlib_tolerance():
    assert likeness_from_distance(0.6) == pytest.approx(0.5)
    distances = np.linspace(0, 1.2, 50)
    scores = [likeness_from_distance(d) for d in distances]
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False))
    assert scores[0] > 0.99 and scores[-1] < 0.01


@pytest.mark.parametrize("name", [*PEOPLE.values(), "obama.jpg", "biden.jpg"])
def test_the_onnx_network_gives_dlibs_own_descriptors(name):
    """dlib_net runs dlib's recogniser's weights in onnxruntime: the descriptors are
    dlib's own, to float rounding."""
    model = _model_dir() / "dlib_face_recognition_resnet_model_v1.dat"
    image = photo_array(name)
    chip = face_chip(image, detect_faces(image).dominant)
    dlibs = np.array(dlib.face_recognition_model_v1(str(model)).compute_face_descriptor(chip))
    np.testing.assert_allclose(chip_descriptor(chip), dlibs, rtol=0, atol=1e-5)


def test_another_model_file_is_refused():
    with pytest.raises(ValueError, match="not dlib's face recognition ResNet"):
        onnx_model((_model_dir() / "shape_predictor_5_face_landmarks.dat").read_bytes())
