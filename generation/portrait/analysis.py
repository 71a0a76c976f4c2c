"""Photo analysis: everything the pipeline learns about a photo before styling it.

One function, ``analyse_photo``, runs LoadPhoto, exposure correction,
FaceDetect (with its fallbacks), the content check and input_quality_score, and
says what generate would do with the photo: go ahead, with which warnings,
or refuse it, with which code. The pipeline styles what it returns; the
photo check endpoint and the signup page answer with it, at no cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generation.imaging.beside import beside

from .errors import PortraitError
from .exposure import correct_frame, lift_face
from .face import FaceAnalysis, detect_upright, require_usable_face
from .load import Limits, load_photo
from .presets import Platform
from .quality import input_quality_score
from .safety import SafetyClassifier
from .timing import StageTimer

# More than this share of the face mesh beyond the photo's edge: ``face_cut_off``
# (the avatar shows the face as the photo has it, cut at that edge).
CUT_OFF_SHARE = 0.05


@dataclass(frozen=True)
class PhotoAnalysis:
    """What a photo is worth as avatar material.

    ``image`` is the photo turned upright and exposure-corrected (what the
    styling works on); ``faces`` are found on it. ``refusal`` is the
    PortraitError generate would raise, or None.
    """

    image: np.ndarray
    faces: FaceAnalysis
    rotation: int  # degrees the photo was turned clockwise to stand upright
    input_quality_score: float | None
    warnings: tuple[str, ...]
    refusal: PortraitError | None

    def summary(self) -> dict:
        """The analysis as the photo check answers it, JSON-ready."""
        box = self.faces.dominant
        return {
            "accepted": self.refusal is None,
            "face_detected": self.faces.face_detected,
            "face_count": self.faces.face_count,
            "dominant_face": (
                {k: round(v, 1) for k, v in vars(box).items()} if box is not None else None
            ),
            "face_height": round(self.faces.face_height, 4),
            "rotation": self.rotation,
            "input_quality_score": self.input_quality_score,
            "validation_warnings": list(self.warnings),
            "refusal": (
                {"code": self.refusal.code, "message": self.refusal.message}
                if self.refusal
                else None
            ),
        }


def analyse_photo(
    data: bytes,
    limits: Limits,
    safety: SafetyClassifier,
    platform: Platform,
    min_face_height: float | None = None,
    timer: StageTimer | None = None,
    parallel: bool = False,
) -> PhotoAnalysis:
    """Analyse photo bytes as generate would, without styling anything.

    Raises PortraitError only for bytes that are not a usable image (load's
    codes); a photo that loads but would be refused comes back with
    ``refusal`` set. ``min_face_height`` (an account's setting) can raise the
    platform's face-size floor, never lower it. ``parallel`` runs the content
    check on a side thread beside face detection (generate does; the photo
    check, already on a bounded pool of its own, runs it in line).
    """
    timer = timer or StageTimer()
    with timer("load"):
        photo = load_photo(data, limits)
    with timer("exposure"):
        corrected, exposure_warnings = correct_frame(photo)
    # Beside face detection, on the photo as it stands: most photos are upright.
    as_it_stands = beside(safety.check, corrected) if parallel else None
    with timer("face_detect"):
        image, faces, turns = detect_upright(corrected)
    rotation = (4 - turns) % 4 * 90
    # The content check sees the photo upright, as its model was trained:
    # turned on its side or upside down, ordinary portraits can score unsafe.
    with timer("safety"):
        if as_it_stands is not None and image is corrected:
            verdict = as_it_stands.result()
        else:
            verdict = safety.check(image)
    if not verdict.safe:
        refusal = PortraitError("unsafe_content", "the photo was refused by the content check")
        return PhotoAnalysis(image, faces, rotation, None, (), refusal)
    floor = max(platform.min_face_height, min_face_height or 0.0)
    try:
        require_usable_face(faces, floor, platform.min_face_px)
    except PortraitError as refusal:
        return PhotoAnalysis(image, faces, rotation, None, (), refusal)
    with timer("face_exposure"):
        image, face_warnings = lift_face(image, faces.dominant)
    with timer("quality"):
        # Scored on the photo as it came (turned upright), so a photo that
        # needed correcting scores lower however well the correction went.
        quality = input_quality_score(np.ascontiguousarray(np.rot90(photo, turns)), faces)
    warnings = ("multiple_faces",) if faces.face_count > 1 else ()
    warnings += ("face_cut_off",) if cut_off(faces, image.shape) > CUT_OFF_SHARE else ()
    warnings += tuple(dict.fromkeys(exposure_warnings + face_warnings))
    return PhotoAnalysis(image, faces, rotation, quality, warnings, None)


def cut_off(faces: FaceAnalysis, shape: tuple[int, ...]) -> float:
    """The share of the dominant face's mesh points that lie beyond the photo's edge
    (the mesh model places the whole face, also where the photo cuts it)."""
    if faces.landmarks is None:
        return 0.0
    height, width = shape[:2]
    xs, ys = faces.landmarks[:, 0], faces.landmarks[:, 1]
    return float(((xs < 0) | (xs > width) | (ys < 0) | (ys > height)).mean())
