"""input_quality_score: how good a photo is as avatar material, in [0, 1]."""

from __future__ import annotations

import cv2
import numpy as np

from .face import LEFT_CHEEK, NOSE_TIP, RIGHT_CHEEK, FaceAnalysis

# Component weights; each component is itself in [0, 1].
WEIGHTS = {"sharpness": 0.3, "exposure": 0.25, "face_size": 0.25, "pose": 0.2}
_SHARPNESS_REF = 60.0  # Laplacian variance of a crisp face at 256 px
_GOOD_FACE_PX = 320.0  # face box height at which size stops mattering


def quality_components(image: np.ndarray, analysis: FaceAnalysis) -> dict[str, float]:
    """The four components, measured on the dominant face."""
    box = analysis.dominant
    assert box is not None and analysis.landmarks is not None
    height, width = image.shape[:2]
    x0, y0 = max(int(box.x), 0), max(int(box.y), 0)
    x1, y1 = min(int(box.x + box.width), width), min(int(box.y + box.height), height)
    grey = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    # Sharpness at a fixed scale, so a small face upscaled reads as soft.
    shrinking = grey.shape[0] > 256
    face = cv2.resize(
        grey, (256, 256), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    )
    laplacian = cv2.Laplacian(face, cv2.CV_32F).var()
    sharpness = 1.0 - float(np.exp(-laplacian / _SHARPNESS_REF))

    mean = float(grey.mean()) / 255.0
    clipped = float(((grey < 8) | (grey > 247)).mean())
    exposure = float(np.clip(1.0 - abs(mean - 0.5) / 0.4, 0.0, 1.0)) * (1.0 - clipped)

    face_size = float(np.clip(box.height / _GOOD_FACE_PX, 0.0, 1.0))

    marks = analysis.landmarks
    to_right = np.linalg.norm(marks[NOSE_TIP] - marks[RIGHT_CHEEK])
    to_left = np.linalg.norm(marks[NOSE_TIP] - marks[LEFT_CHEEK])
    yaw = abs(to_right - to_left) / max(to_right + to_left, 1e-6)  # 0 frontal, 1 profile
    pose = float(np.clip(1.0 - 1.5 * yaw, 0.0, 1.0))
    return {"sharpness": sharpness, "exposure": exposure, "face_size": face_size, "pose": pose}


def input_quality_score(image: np.ndarray, analysis: FaceAnalysis) -> float:
    """Weighted mean of sharpness, exposure, face size and head pose."""
    parts = quality_components(image, analysis)
    return round(sum(WEIGHTS[k] * v for k, v in parts.items()), 4)
