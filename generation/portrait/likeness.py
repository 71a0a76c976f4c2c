"""Likeness: dlib face-recognition embeddings, distance mapped to a [0, 1] score.

The mapping is a logistic curve centred on dlib's own same-person tolerance
(Euclidean distance 0.6 between 128-d descriptors):

    likeness = 1 / (1 + exp((distance - 0.6) / 0.08))

Calibrated on the fixture photos (see docs/portrait/README.md): photos of
the same person are at most 0.44 apart (likeness 0.88 or more); photos of
different people are at least 0.70 apart (likeness 0.23 or less).
"""

from __future__ import annotations

import importlib.util
import math
import threading
from functools import cache
from pathlib import Path

import numpy as np

from generation.imaging.state import Box

from .dlib_net import FaceNet

CENTRE = 0.6
WIDTH = 0.08
_lock = threading.Lock()


def _model_dir() -> Path:
    # face_recognition_models' own __init__ imports pkg_resources; find_spec
    # locates the package without running it.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face_recognition_models is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@cache
def _predictor():
    import dlib

    return dlib.shape_predictor(str(_model_dir() / "shape_predictor_5_face_landmarks.dat"))


@cache
def _recogniser() -> FaceNet:
    return FaceNet(_model_dir() / "dlib_face_recognition_resnet_model_v1.dat")


def face_chip(image: np.ndarray, face: Box) -> np.ndarray:
    """The 150x150 chip of the face in ``face`` (an RGB uint8 image) that dlib's
    recogniser reads: fitted on its five landmarks, levelled and scaled as
    ``compute_face_descriptor`` itself would cut it (padding 0.25). Costs about 1 ms."""
    import dlib

    rect = dlib.rectangle(
        int(face.x), int(face.y), int(face.x + face.width), int(face.y + face.height)
    )
    pixels = np.ascontiguousarray(image)
    with _lock:
        shape = _predictor()(pixels, rect)
        return dlib.get_face_chip(pixels, shape, size=150, padding=0.25)


def chip_descriptor(chip: np.ndarray) -> np.ndarray:
    """The 128-d dlib descriptor of a face chip: dlib's network run by onnxruntime
    (dlib_net.py; about 3 ms, dlib's own code takes 60)."""
    return _recogniser().descriptor(chip)


def embedding(image: np.ndarray, face: Box) -> np.ndarray:
    """The 128-d dlib descriptor of the face in ``face`` (an RGB uint8 image)."""
    return chip_descriptor(face_chip(image, face))


def likeness_from_distance(distance: float) -> float:
    return 1.0 / (1.0 + math.exp((distance - CENTRE) / WIDTH))


def likeness(a: np.ndarray, b: np.ndarray) -> float:
    """Likeness in [0, 1] of two embeddings."""
    return round(likeness_from_distance(float(np.linalg.norm(a - b))), 4)
