"""Content safety: a swappable classifier; the default is NudeNet's detector.

NudeNet (AGPL-3.0) ships its ONNX model inside the package. A deployment
that cannot take AGPL code, or wants a different policy, passes any object
with a ``check(image) -> SafetyVerdict`` method instead.
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
_MAX_SIDE = 640
_lock = threading.Lock()


@dataclass(frozen=True)
class SafetyVerdict:
    safe: bool
    labels: tuple[str, ...] = ()


class SafetyClassifier(Protocol):
    def check(self, image: np.ndarray) -> SafetyVerdict:
        """Judge an HxWx3 uint8 RGB image."""
        ...


@cache
def _detector():
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
        # The detector sees 320 px; shrinking big photos first only saves time.
        scale = _MAX_SIDE / max(image.shape[:2])
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # NudeNet reads arrays as OpenCV does
        with _lock:
            found = _detector().detect(bgr)
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
