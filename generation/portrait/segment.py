"""Person/background separation: MediaPipe selfie segmentation, refined into a soft matte."""

from __future__ import annotations

import threading
from dataclasses import replace
from functools import cache

import cv2
import numpy as np

from generation.imaging.filters import guided_filter, luminance, polygon_mask, to_float
from generation.imaging.state import Portrait

_lock = threading.Lock()


@cache
def _segmenter():
    import mediapipe as mp

    return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)


def segment_person(portrait: Portrait) -> Portrait:
    """Attach a feathered person matte.

    The coarse 256 px mask is sharpened against the photo with a guided
    filter (hair and shoulders keep a soft, natural edge), the face itself is
    always kept, and pixels from beyond the photo's edge are always background.
    """
    with _lock:
        coarse = _segmenter().process(portrait.image).segmentation_mask.astype(np.float32)
    # Guided filtering at half size, then upscaled: the "fast guided filter".
    half = portrait.size // 2
    small = cv2.resize(portrait.image, (half, half), interpolation=cv2.INTER_AREA)
    guide = luminance(to_float(small))
    coarse = cv2.resize(coarse, (half, half), interpolation=cv2.INTER_LINEAR)
    matte = guided_filter(guide, coarse, max(half // 100, 2), 1e-3)
    matte = cv2.resize(matte, (portrait.size, portrait.size), interpolation=cv2.INTER_LINEAR)
    # Steepen the transition: the network's 0.5 contour is the edge.
    matte = np.clip((matte - 0.5) * 2.5 + 0.5, 0.0, 1.0)
    face = polygon_mask(portrait.size, portrait.landmarks, blur=portrait.size / 200)
    matte = np.maximum(matte, face)
    matte = cv2.GaussianBlur(matte, (0, 0), max(portrait.size / 800, 0.8))
    return replace(portrait, matte=matte * portrait.inside)
