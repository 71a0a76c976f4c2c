"""Finding a pet in a photo: OpenCV's cat-face cascades, and a dominant-subject test for dogs.

No detector for dogs ships in any package this service can use, so a dog photo is only checked
for one dominant subject in frame (see docs/custom-models.md): spectral-residual saliency
finds what stands out; the photo passes when one region holds most of it. It cannot tell a dog
from a cushion, and the docs say so.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from generation.imaging.state import Box

_CAT_CASCADES = ("haarcascade_frontalcatface_extended.xml", "haarcascade_frontalcatface.xml")
_DETECT_SIDE = 640  # photos are searched at most this large
_SALIENCY_SIDE = 64
_SALIENT = 3.0  # salient: over this many times the mean saliency
_MERGE = 9  # salient pixels this close (of 64) are one region
_DOMINANCE = 0.7  # the subject's share of all salience
_MIN_AREA = 0.04  # the subject's box as a share of the frame
_MIN_CONTRAST = 6.0  # grey levels of spread below which a photo shows nothing
_FOCUS_SIDE = 128
_FOCUS_RATIO = 1.25  # how much sharper a close-up's centre is than its border
_MATTE_SIDE = 256  # GrabCut works on this small a copy
_lock = threading.Lock()


@cache
def _cascades() -> tuple[cv2.CascadeClassifier, ...]:
    folder = Path(cv2.data.haarcascades)
    return tuple(cv2.CascadeClassifier(str(folder / name)) for name in _CAT_CASCADES)


def _shrunk(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    scale = min(side / max(image.shape[:2]), 1.0)
    if scale < 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return image, scale


def find_cat_faces(image: np.ndarray) -> list[Box]:
    """Cat faces (largest first) in an RGB uint8 image, in its pixels.

    Both of OpenCV's cat-face cascades look at the photo as it is, mirrored, and
    histogram-equalised. The cascades also fire on people: a box on a human face (dlib's
    HOG detector sees one there) is not a cat, and a photo whose largest face is human has
    no cat face to train on.
    """
    small, scale = _shrunk(image, _DETECT_SIDE)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    min_side = max(int(min(small.shape[:2]) * 0.08), 24)
    found = []
    with _lock:
        for cascade in _cascades():
            for flip in (False, True):
                view = grey[:, ::-1] if flip else grey
                for boxes in (view, cv2.equalizeHist(view)):
                    for x, y, w, h in cascade.detectMultiScale(
                        np.ascontiguousarray(boxes), 1.05, 3, minSize=(min_side, min_side)
                    ):
                        x = grey.shape[1] - x - w if flip else x
                        found.append(Box(x / scale, y / scale, w / scale, h / scale))
    if not found:
        return []
    people = _human_faces(small, scale)
    cats = [box for box in found if not any(_overlap(box, person) > 0.2 for person in people)]
    cats.sort(key=lambda b: b.area, reverse=True)
    if not cats or (people and people[0].area > cats[0].area):
        return []
    return cats


@cache
def _human_detector():
    import dlib

    return dlib.get_frontal_face_detector()


def _human_faces(small: np.ndarray, scale: float) -> list[Box]:
    """Human faces by dlib's HOG detector (MediaPipe's also takes a cat for a person)."""
    with _lock:
        found = _human_detector()(small, 1)
    boxes = [
        Box(r.left() / scale, r.top() / scale, r.width() / scale, r.height() / scale) for r in found
    ]
    return sorted(boxes, key=lambda b: b.area, reverse=True)


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    width = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    height = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / min(a.area, b.area)


@dataclass(frozen=True)
class Subject:
    """The dominant subject of a photo: its box (in the photo's pixels) and share of the frame."""

    box: Box
    area: float


def saliency(image: np.ndarray) -> np.ndarray:
    """Spectral-residual saliency (Hou and Zhang, 2007) at 64 px, in [0, 1]."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    small = cv2.resize(grey, (_SALIENCY_SIDE, _SALIENCY_SIDE), interpolation=cv2.INTER_AREA)
    spectrum = np.fft.fft2(small)
    log_amplitude = np.log(np.abs(spectrum) + 1e-6)
    residual = log_amplitude - cv2.blur(log_amplitude, (3, 3))
    back = np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))
    saliency_map = cv2.GaussianBlur((np.abs(back) ** 2).astype(np.float32), (0, 0), 2.5)
    top = float(saliency_map.max())
    return saliency_map / top if top > 0 else saliency_map


def dominant_subject(image: np.ndarray) -> Subject | None:
    """The one dominant subject in frame, or None when there is no single one.

    Two cues. Salient pixels (over three times the mean saliency) are merged into regions:
    when the largest holds most of the salience and is big enough, it is the subject.
    Otherwise a close-up passes when the centre of the frame is clearly sharper than its
    border (a subject in focus before a soft background). A flat or evenly busy photo, or
    two subjects apart towards the edges, has none.
    """
    if float(image.std()) < _MIN_CONTRAST:
        return None
    salient_map = saliency(image)
    salient = (salient_map > _SALIENT * salient_map.mean()).astype(np.uint8)
    merged = cv2.dilate(salient, np.ones((_MERGE, _MERGE), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(merged, connectivity=8)
    sx = image.shape[1] / _SALIENCY_SIDE
    sy = image.shape[0] / _SALIENCY_SIDE
    if count >= 2:
        mass = np.array([salient_map[labels == i].sum() for i in range(1, count)])
        areas = stats[1:, cv2.CC_STAT_WIDTH] * stats[1:, cv2.CC_STAT_HEIGHT] / _SALIENCY_SIDE**2
        largest = int(np.argmax(mass))
        if mass[largest] >= _DOMINANCE * mass.sum() and areas[largest] >= _MIN_AREA:
            x, y, w, h = (int(v) for v in stats[1 + largest, :4])
            return Subject(Box(x * sx, y * sy, w * sx, h * sy), round(float(areas[largest]), 4))
    return _in_focus(image)


def _in_focus(image: np.ndarray) -> Subject | None:
    """A close-up: the frame's centre much sharper than its border."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    small = cv2.resize(grey, (_FOCUS_SIDE, _FOCUS_SIDE), interpolation=cv2.INTER_AREA)
    energy = cv2.GaussianBlur(np.abs(cv2.Laplacian(small, cv2.CV_32F)), (0, 0), 4)
    quarter, edge = _FOCUS_SIDE // 4, _FOCUS_SIDE // 6
    border = np.ones_like(energy, bool)
    border[edge:-edge, edge:-edge] = False
    centre = float(energy[quarter:-quarter, quarter:-quarter].mean())
    if centre < _FOCUS_RATIO * (float(energy[border].mean()) + 1e-3):
        return None
    sharp = (energy > 0.5 * energy.max()).astype(np.uint8)
    x, y, w, h = cv2.boundingRect(sharp)
    scale_x, scale_y = image.shape[1] / _FOCUS_SIDE, image.shape[0] / _FOCUS_SIDE
    box = Box(x * scale_x, y * scale_y, w * scale_x, h * scale_y)
    return Subject(box, round(w * h / _FOCUS_SIDE**2, 4))


def subject_matte(image: np.ndarray, box: Box) -> np.ndarray | None:
    """A soft matte of the subject inside ``box`` (GrabCut), or None when it finds none."""
    small, scale = _shrunk(image, _MATTE_SIDE)
    height, width = small.shape[:2]
    x0, y0 = max(int(box.x * scale), 1), max(int(box.y * scale), 1)
    x1 = min(int((box.x + box.width) * scale), width - 2)
    y1 = min(int((box.y + box.height) * scale), height - 2)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    mask = np.zeros((height, width), np.uint8)
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(3)
    try:
        cv2.grabCut(
            cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
            mask,
            (x0, y0, x1 - x0, y1 - y0),
            *models,
            4,
            cv2.GC_INIT_WITH_RECT,
        )
    except cv2.error:  # a flat image has no colour model to fit
        return None
    matte = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    if matte.mean() < 0.02:
        return None
    matte = cv2.GaussianBlur(cv2.morphologyEx(matte, cv2.MORPH_OPEN, np.ones((3, 3))), (0, 0), 1.2)
    return cv2.resize(matte, image.shape[1::-1], interpolation=cv2.INTER_LINEAR)
