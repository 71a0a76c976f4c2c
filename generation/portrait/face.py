"""FaceDetect: MediaPipe face detection plus the face mesh of the dominant face."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from generation.imaging.state import Box

from .errors import PortraitError

# Face-mesh indices (MediaPipe's canonical 468-point mesh plus 10 iris points).
RIGHT_EYE_CORNERS = (33, 133)  # the subject's right eye, on the image's left
LEFT_EYE_CORNERS = (362, 263)
FOREHEAD, CHIN, NOSE_TIP = 10, 152, 1
RIGHT_CHEEK, LEFT_CHEEK = 234, 454
MOUTH_CORNERS = (61, 291)

_MESH_INPUT = 384  # the face crop handed to the mesh, in pixels
_lock = threading.Lock()


# MediaPipe's two face detectors: the full-range model finds faces down to
# small sizes in wide frames; the short-range model is the better one on
# close-ups and tight crops, where the full-range model can miss.
FULL_RANGE, SHORT_RANGE = 1, 0
# The orientation judge: the short-range model's confidence in an upright
# face on the face's crop turned each of four ways.
_JUDGE_SIDE = 192  # px, the square crop the judge sees
_JUDGE_CONTEXT = 1.6  # the crop's side in face-box sides
_SEARCH_SIDE = 1280  # px: the longest side faces are searched for on


@cache
def _detector(model: int, confidence: float = 0.5):
    import mediapipe as mp

    return mp.solutions.face_detection.FaceDetection(
        model_selection=model, min_detection_confidence=confidence
    )


@cache
def _mesh():
    import mediapipe as mp

    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=1, refine_landmarks=True
    )


@dataclass(frozen=True)
class FaceAnalysis:
    """What FaceDetect learnt about a photo. ``faces`` is largest first."""

    faces: tuple[Box, ...]
    eyes: tuple[np.ndarray, ...]  # per face: (2, 2) image-left eye then image-right eye
    landmarks: np.ndarray | None  # (478, 2) mesh of the dominant face, image pixels
    frame_width: int
    frame_height: int

    @property
    def face_count(self) -> int:
        return len(self.faces)

    @property
    def face_detected(self) -> bool:
        return bool(self.faces)

    @property
    def dominant(self) -> Box | None:
        return self.faces[0] if self.faces else None

    @property
    def face_height(self) -> float:
        """The dominant face's box height as a fraction of the frame's height."""
        if not self.faces:
            return 0.0
        return self.faces[0].height / float(self.frame_height)


def find_faces(image: np.ndarray) -> tuple[tuple[Box, ...], tuple[np.ndarray, ...]]:
    """Face boxes and eye keypoints, largest face first: the full-range model's,
    or where it finds none, the short-range model's."""
    found = _run_detector(FULL_RANGE, image)
    if not found:
        found = _run_detector(SHORT_RANGE, image)
    found.sort(key=lambda item: item[0].area, reverse=True)
    return tuple(b for b, _ in found), tuple(e for _, e in found)


def _run_detector(model: int, image: np.ndarray) -> list[tuple[Box, np.ndarray]]:
    height, width = image.shape[:2]
    with _lock:
        result = _detector(model).process(image)
    found = []
    for detection in result.detections or []:
        rel = detection.location_data.relative_bounding_box
        box = Box(rel.xmin * width, rel.ymin * height, rel.width * width, rel.height * height)
        points = detection.location_data.relative_keypoints
        eyes = np.array([[points[i].x * width, points[i].y * height] for i in (0, 1)])
        found.append((box, eyes))
    return found


def detect_faces(image: np.ndarray) -> FaceAnalysis:
    """Detect every face, then mesh the dominant one."""
    faces, eyes = find_faces(image)
    landmarks = _mesh_face(image, faces[0], eyes[0]) if faces else None
    return FaceAnalysis(faces, eyes, landmarks, image.shape[1], image.shape[0])


def detect_upright(image: np.ndarray) -> tuple[np.ndarray, FaceAnalysis, int]:
    """Find the faces of a photo that may lie on its side or upside down (a phone
    photo without its EXIF orientation): (the photo turned upright, its faces,
    the quarter turns applied, counter-clockwise as ``np.rot90`` counts them).

    The photo as it stands first, then turned 90, 180 and 270 degrees; once a
    face is found, the orientation judge decides which way is up.
    The search runs on a copy at most ``_SEARCH_SIDE`` px (the detectors see
    192 px anyway); only the mesh and the turned photo are full size.
    """
    scale = min(1.0, _SEARCH_SIDE / max(image.shape[:2]))
    small = image
    if scale < 1.0:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    for turns in range(4):
        view = _turn(small, turns)
        faces, eyes = find_faces(view)
        if not faces:
            continue
        upright = (turns + _turns_to_upright(view, faces[0])) % 4
        if upright != turns:
            faces, eyes = find_faces(_turn(small, upright))
            if not faces:
                continue
        turned = _turn(image, upright)
        faces = tuple(Box(b.x / scale, b.y / scale, b.width / scale, b.height / scale)
                      for b in faces)  # fmt: skip
        eyes = tuple(e / scale for e in eyes)
        landmarks = _mesh_face(turned, faces[0], eyes[0])
        if landmarks is not None:  # a face the mesh cannot fit is no face
            return turned, FaceAnalysis(faces, eyes, landmarks, *turned.shape[1::-1]), upright
    return image, FaceAnalysis((), (), None, image.shape[1], image.shape[0]), 0


def _turn(image: np.ndarray, turns: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(image, turns)) if turns % 4 else image


def _turns_to_upright(image: np.ndarray, box: Box) -> int:
    """Quarter turns that bring this face upright: the judge sees the face's crop
    turned each way and picks the surest upright face."""
    cx, cy = box.centre
    scale = _JUDGE_SIDE / (_JUDGE_CONTEXT * max(box.width, box.height, 1.0))
    matrix = np.float32(
        [[scale, 0, _JUDGE_SIDE / 2 - cx * scale], [0, scale, _JUDGE_SIDE / 2 - cy * scale]]
    )
    crop = cv2.warpAffine(
        image, matrix, (_JUDGE_SIDE, _JUDGE_SIDE), flags=cv2.INTER_AREA,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    scores = [_judge(_turn(crop, turns)) for turns in range(4)]
    return int(np.argmax(scores))


def _judge(crop: np.ndarray) -> float:
    """The short-range model's best confidence in an upright face in ``crop``: a
    face whose eye line is within 45 degrees of level (one on its side is found
    too, eye line steep; one upside down is found level, but less surely)."""
    with _lock:
        result = _detector(SHORT_RANGE, 0.2).process(crop)
    best = 0.0
    for detection in result.detections or []:
        right, left = detection.location_data.relative_keypoints[:2]
        if abs(left.y - right.y) < abs(left.x - right.x):  # under 45 degrees
            best = max(best, detection.score[0])
    return best


def require_usable_face(analysis: FaceAnalysis, min_height: float, min_px: float) -> None:
    """Refuse photos with no face, or whose dominant face is too small to use:
    its box shorter than ``min_height`` of the photo's height or than ``min_px``.

    Height, not area: a head-and-shoulders or waist-up portrait passes in any
    frame shape, while full-length and distant shots stay refused.
    """
    if not analysis.face_detected or analysis.landmarks is None:
        raise PortraitError("no_face", "no face was found in the photo")
    box = analysis.dominant
    if analysis.face_height < min_height or box.height < min_px:
        raise PortraitError(
            "face_too_small",
            f"the face is {box.height:.0f} px tall, {analysis.face_height:.0%} of the photo's "
            f"height; at least {min_height:.0%} and {min_px:.0f} px are needed "
            "(a head-and-shoulders or waist-up photo)",
        )


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the image-left and image-right eye from mesh landmarks."""
    return (
        landmarks[list(RIGHT_EYE_CORNERS)].mean(axis=0),
        landmarks[list(LEFT_EYE_CORNERS)].mean(axis=0),
    )


def key_points(landmarks: np.ndarray) -> dict[str, tuple[float, float]]:
    """Named facial landmarks (image pixels), for callers that want a few, not 478."""
    left_eye, right_eye = eye_centres(landmarks)
    named = {
        "image_left_eye": left_eye,
        "image_right_eye": right_eye,
        "nose_tip": landmarks[NOSE_TIP],
        "mouth_left": landmarks[MOUTH_CORNERS[0]],
        "mouth_right": landmarks[MOUTH_CORNERS[1]],
        "chin": landmarks[CHIN],
    }
    return {name: (round(float(x), 1), round(float(y), 1)) for name, (x, y) in named.items()}


def eye_line_degrees(landmarks: np.ndarray) -> float:
    """Roll of the eye line in degrees; 0 is level, positive is clockwise on screen."""
    left, right = eye_centres(landmarks)
    return math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))


def _mesh_face(image: np.ndarray, box: Box, eyes: np.ndarray) -> np.ndarray | None:
    """Mesh one face: crop it upright around the detector's eyes, mesh, map back.

    Cropping keeps the mesh on the dominant face in group photos; levelling
    the crop first keeps it working on tilted heads.
    """
    (lx, ly), (rx, ry) = eyes
    angle = math.degrees(math.atan2(ry - ly, rx - lx))
    cx, cy = box.centre
    side = 2.2 * max(box.width, box.height)
    scale = _MESH_INPUT / side
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    matrix[:, 2] += (_MESH_INPUT / 2 - cx, _MESH_INPUT / 2 - cy)
    crop = cv2.warpAffine(
        image,
        matrix,
        (_MESH_INPUT, _MESH_INPUT),
        flags=cv2.INTER_AREA,
        borderMode=cv2.BORDER_REPLICATE,
    )
    with _lock:
        result = _mesh().process(crop)
    if not result.multi_face_landmarks:
        return None
    points = np.array([[p.x, p.y] for p in result.multi_face_landmarks[0].landmark]) * _MESH_INPUT
    inverse = cv2.invertAffineTransform(matrix)
    return points @ inverse[:, :2].T + inverse[:, 2]
