"""The CPU engine's subject model: a curated set of aligned, segmented references.

Training keeps the best few references (ranked by input quality and closeness to the set's
identity) with their face mesh, matte and dlib embedding; inference renders from the
references that best fit the prompt through the portrait stages, maps the prompt onto what
those stages can do (see prompt.py) and scores likeness against the set's identity.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image

from generation.engines.classic import ClassicEngine
from generation.imaging.state import Box, Portrait
from generation.portrait.align import align_face
from generation.portrait.background import place_on_background
from generation.portrait.face import MOUTH_CORNERS, eye_centres, find_faces
from generation.portrait.likeness import embedding, likeness
from generation.portrait.pipeline import DEFAULT_INTENSITY
from generation.portrait.quality import input_quality_score
from generation.portrait.save import save_avatar
from generation.portrait.segment import segment_person
from generation.portrait.styles import STYLES, backdrop_for, get_style

from . import scene
from .artifacts import (
    GeneratedImage,
    InferenceRequest,
    ModelArtifacts,
    Progress,
    TrainingError,
    TrainingSettings,
    pack_arrays,
    report,
    unpack_arrays,
)
from .cpu_style import CustomLook
from .pets import subject_matte
from .prompt import PromptPlan, apply_grade, plan_prompt
from .validate import CheckedPhoto

ENGINE = "cpu"
FORMAT = 1
REFERENCES = "references.npz"
PET_FRAME = 0.9  # a pet's square is at least this share of the photo's short side
CLOSE_UP = 0.25  # a subject box over this share of the square keeps the photo's background
SEEDED_START = 3  # a seed starts from one of this many best references
BACKDROP_UNSEEN = 0.95  # a matte this full leaves no backdrop to see
LIKENESS_FLOOR = 0.5  # below this, one more render at a lower intensity
_INNER_LIPS = (13, 14)  # the middle of the inner upper and lower lip
_OUTER_LIPS = (0, 17)  # the middle of the outer upper and lower lip


@dataclass
class Reference:
    portrait: Portrait
    embeddings: np.ndarray  # (faces, 128): 1 for a person, 2 for a couple, 0 for a pet
    quality: float
    smile: float


def train(
    checked: list[CheckedPhoto],
    subject_type: str,
    settings: TrainingSettings,
    progress: Progress | None = None,
) -> ModelArtifacts:
    """Build the references from photos that passed ``check_subject_set``."""
    references = []
    for step, photo in enumerate(checked):
        report(progress, step / len(checked), f"preparing photo {step + 1} of {len(checked)}")
        references.append(_reference(photo, subject_type, settings.reference_size))
    report(progress, 0.95, "ranking references")
    identity = _identity(references)
    for ref in references:
        pairs = zip(ref.embeddings, identity, strict=True)
        closeness = min((likeness(e, c) for e, c in pairs), default=1.0)
        ref.quality = round(ref.quality * (0.5 + 0.5 * closeness), 4)
    references.sort(key=lambda r: r.quality, reverse=True)
    kept = references[: settings.max_references]
    files = {REFERENCES: pack_arrays(_arrays(kept, identity))}
    meta = {
        "kind": "subject",
        "engine": ENGINE,
        "format": FORMAT,
        "subject_type": subject_type,
        "photo_count": len(checked),
        "reference_count": len(kept),
        "reference_size": settings.reference_size,
    }
    report(progress, 1.0, "trained")
    return ModelArtifacts(engine=ENGINE, files=files, meta=meta)


def infer(
    artifacts: ModelArtifacts,
    request: InferenceRequest,
    look: CustomLook | None = None,
    progress: Progress | None = None,
) -> list[GeneratedImage]:
    """``request.count`` PNGs from the references, each with its likeness and ignored terms."""
    references, identity = load_references(artifacts)
    plan = plan_prompt(request.prompt, request.negative_prompt)
    style_name = _style_for(request.style, plan, look)
    style = get_style(style_name)
    palette = plan.palette or (look.palette if look else None) or style.palette
    subject_type = artifacts.meta.get("subject_type", "man")
    ranked = sorted(references, key=lambda r: r.smile, reverse=True) if plan.smiling else references
    # A seed picks where to start among the best few, so seeds vary and rank still counts.
    start = 0
    if request.seed is not None:
        start = int(np.random.default_rng(request.seed).integers(0, min(SEEDED_START, len(ranked))))
    images = []
    for index in range(request.count):
        report(progress, index / request.count, f"rendering image {index + 1} of {request.count}")
        ref = ranked[(start + index) % len(ranked)]
        size = ref.portrait.size
        backdrop = backdrop_for(style, tuple(palette), size, plan.scene)
        image, score = _render(ref, style_name, backdrop, plan, look, identity, subject_type)
        metadata = {"style": request.style, "engine": ENGINE, "subject": subject_type}
        png, _ = save_avatar(image, size, metadata)
        ignored = list(plan.ignored)
        if ref.portrait.matte is not None and ref.portrait.matte.mean() > BACKDROP_UNSEEN:
            ignored += plan.backdrop_terms  # a close-up keeps its own background
        images.append(GeneratedImage(png, score, ENGINE, ignored))
    report(progress, 1.0, "done")
    return images


def _style_for(requested: str, plan: PromptPlan, look: CustomLook | None) -> str:
    """The portrait style to draw: the request's, else the custom look's base, else the prompt's."""
    if requested in STYLES:
        name = requested
    elif look is not None:
        name = look.base_style
    elif requested in ("", "auto"):
        name = plan.style or "corporate_headshot"
    else:
        raise TrainingError("unknown_style", f"{requested!r} is not a style this model can use")
    if plan.style and plan.style != name:  # a prompt cannot overrule the chosen style
        plan.ignored.extend(t for t in plan.style_terms if t not in plan.ignored)
        plan.honoured = [t for t in plan.honoured if t not in plan.style_terms]
    return name


def _render(
    ref: Reference,
    style_name: str,
    backdrop: np.ndarray,
    plan: PromptPlan,
    look: CustomLook | None,
    identity: np.ndarray,
    subject_type: str,
) -> tuple[np.ndarray, float | None]:
    """One image and its likeness; a person whose likeness falls short is redrawn lighter."""
    style = get_style(style_name)
    best: tuple[np.ndarray, float | None] | None = None
    for intensity in (DEFAULT_INTENSITY, DEFAULT_INTENSITY / 2):
        portrait = ref.portrait
        if subject_type in ("man", "woman"):
            drawn = ClassicEngine().stylise(style_name, portrait, intensity)
            styled = replace(portrait, image=drawn)
            styled = style.enhance(place_on_background(styled, backdrop, style.shadow))
        else:
            styled = replace(portrait, image=scene.RENDERERS[style_name](portrait.image, intensity))
            styled = place_on_background(styled, backdrop, style.shadow)
        image = styled.image
        if look is not None:
            image = look.apply(image, portrait.matte)
        image = apply_grade(image, plan.grade)
        score = subject_likeness(image, identity, portrait.face_box)
        if best is None or (score or 0.0) > (best[1] or 0.0):
            best = (image, score)
        if score is None or score >= LIKENESS_FLOOR:
            break
    assert best is not None
    return best


def subject_likeness(
    image: np.ndarray, identity: np.ndarray, fallback: Box | None = None
) -> float | None:
    """Likeness to the subject: each identity's best match among the faces in the image.

    None for a pet (no identity). With no face found, the ``fallback`` box is measured, or
    the likeness is 0.
    """
    if not len(identity):
        return None
    faces, _ = find_faces(image)
    found = [embedding(image, box) for box in faces[: len(identity) + 1]]
    if not found and fallback is None:
        return 0.0
    found = found or [embedding(image, fallback)]
    return round(min(max(likeness(person, e) for e in found) for person in identity), 4)


def _identity(references: list[Reference]) -> np.ndarray:
    """Each person's mean embedding over the set (the couple's faces matched to the first's)."""
    first = references[0].embeddings
    if not len(first):
        return first
    rows = []
    for ref in references:
        e = ref.embeddings
        if len(e) == 2 and np.linalg.norm(e[0] - first[0]) > np.linalg.norm(e[1] - first[0]):
            e = e[::-1]
        rows.append(e)
    return np.mean(rows, axis=0)


def _reference(photo: CheckedPhoto, subject_type: str, size: int) -> Reference:
    if subject_type in ("man", "woman"):
        assert photo.analysis is not None
        portrait = segment_person(align_face(photo.image, photo.analysis, size))
        quality = input_quality_score(photo.image, photo.analysis)
        return Reference(portrait, np.array(photo.embeddings), quality, _smile(portrait))
    if subject_type == "couple":
        return _couple_reference(photo, size)
    return _pet_reference(photo, subject_type, size)


def _smile(portrait: Portrait) -> float:
    """A smile score: a wide mouth whose corners sit above the lips' middle, not one open to talk.

    Measured in eye distances: mouth width, plus twice the corners' lift above the middle of
    the outer lips, less the gap between the inner lips.
    """
    marks = portrait.landmarks
    left_eye, right_eye = eye_centres(marks)
    eyes = max(float(np.linalg.norm(left_eye - right_eye)), 1e-6)
    corners = marks[list(MOUTH_CORNERS)]
    width = np.linalg.norm(corners[0] - corners[1])
    lift = marks[list(_OUTER_LIPS)][:, 1].mean() - corners[:, 1].mean()
    gap = np.linalg.norm(marks[_INNER_LIPS[0]] - marks[_INNER_LIPS[1]])
    return round(float((width + 2.0 * lift - gap) / eyes), 4)


def _square(image: np.ndarray, centre: tuple[float, float], side: float, size: int):
    """A ``size`` square cut around ``centre``; pixels past the photo are marked outside."""
    scale = size / side
    matrix = np.float32(
        [[scale, 0, size / 2 - centre[0] * scale], [0, scale, size / 2 - centre[1] * scale]]
    )
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    crop = cv2.warpAffine(
        image, matrix, (size, size), flags=interpolation, borderMode=cv2.BORDER_REPLICATE
    )
    inside = cv2.warpAffine(
        np.ones(image.shape[:2], np.float32), matrix, (size, size), borderValue=0
    )
    return crop, inside, matrix


def _moved(matrix: np.ndarray, box: Box) -> Box:
    scale = float(matrix[0, 0])
    return Box(
        box.x * scale + matrix[0, 2],
        box.y * scale + matrix[1, 2],
        box.width * scale,
        box.height * scale,
    )


def _grown(box: Box, margin: float, limit: int) -> Box:
    """``box`` grown by ``margin`` of its size on every side, kept inside a square of ``limit``."""
    x0 = max(box.x - box.width * margin, 0.0)
    y0 = max(box.y - box.height * margin, 0.0)
    x1 = min(box.x + box.width * (1 + margin), float(limit))
    y1 = min(box.y + box.height * (1 + margin), float(limit))
    return Box(x0, y0, x1 - x0, y1 - y0)


def _couple_reference(photo: CheckedPhoto, size: int) -> Reference:
    assert photo.analysis is not None and photo.analysis.landmarks is not None
    boxes = photo.faces
    x0 = min(b.x for b in boxes)
    y0 = min(b.y for b in boxes)
    x1 = max(b.x + b.width for b in boxes)
    y1 = max(b.y + b.height for b in boxes)
    side = max(x1 - x0, y1 - y0) * 1.9
    centre = ((x0 + x1) / 2, (y0 + y1) / 2 + 0.15 * side)
    crop, inside, matrix = _square(photo.image, centre, side, size)
    landmarks = photo.analysis.landmarks @ matrix[:, :2].T + matrix[:, 2]
    framed = [_moved(matrix, box) for box in boxes]
    matte = np.maximum.reduce([_person_matte(crop, box) for box in framed]) * inside
    portrait = Portrait(crop, landmarks, framed[0], inside, matte)
    quality = input_quality_score(photo.image, photo.analysis)
    return Reference(portrait, np.array(photo.embeddings), quality, _smile(portrait))


def _person_matte(image: np.ndarray, face: Box) -> np.ndarray:
    """One person's matte in a group: selfie segmentation of a square around their face.

    The segmenter is made for one person in frame; in a pair it may keep only one of them.
    """
    side = 5.0 * max(face.width, face.height)
    cx, cy = face.centre
    work = 384
    crop, inside, matrix = _square(image, (cx, cy + 1.6 * face.height), side, work)
    outline = _moved(matrix, face)
    corners = np.array(
        [
            [outline.x, outline.y],
            [outline.x + outline.width, outline.y],
            [outline.x, outline.y + outline.height],
            [outline.x + outline.width, outline.y + outline.height],
        ],
        np.float32,
    )
    matte = segment_person(Portrait(crop, corners, outline, inside)).matte
    assert matte is not None
    back = cv2.invertAffineTransform(matrix)
    size = image.shape[1::-1]
    return cv2.warpAffine(matte, back, size, flags=cv2.INTER_LINEAR, borderValue=0)


def _pet_reference(photo: CheckedPhoto, subject_type: str, size: int) -> Reference:
    """A pet framed around its face (cat) or the dominant subject (dog).

    The square takes at least most of the photo's short side (a pet photo is usually framed
    already; the cascade's box may be the muzzle alone) and stays inside the photo where it
    can. A close-up keeps its own background: cutting out a pet that fills the frame only
    loses fur, so the matte is the subject's only when it sits well inside the square.
    """
    height, width = photo.image.shape[:2]
    if subject_type == "cat":
        assert photo.cat_face is not None
        face = photo.cat_face
        cx, cy = face.centre
        side = 3.2 * max(face.width, face.height)
        cy += 0.35 * face.height
    else:
        assert photo.subject is not None
        face = photo.subject.box
        cx, cy = face.centre
        side = 1.25 * max(face.width, face.height)
    side = min(max(side, PET_FRAME * min(height, width)), float(max(height, width)))
    cx = min(max(cx, side / 2), width - side / 2) if side <= width else width / 2
    cy = min(max(cy, side / 2), height - side / 2) if side <= height else height / 2
    crop, inside, matrix = _square(photo.image, (cx, cy), side, size)
    framed = _moved(matrix, face)
    matte = None
    if framed.area < CLOSE_UP * size * size:
        margin = 1.0 if subject_type == "cat" else 0.08
        matte = subject_matte(crop, _grown(framed, margin, size))
    if matte is None or matte.mean() < 0.1:
        matte = np.ones((size, size), np.float32)
    portrait = Portrait(crop, np.zeros((0, 2), np.float32), framed, inside, matte * inside)
    return Reference(portrait, np.zeros((0, 128)), _sharpness(crop), 0.0)


def _sharpness(image: np.ndarray) -> float:
    small = cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return round(1.0 - float(np.exp(-cv2.Laplacian(grey, cv2.CV_32F).var() / 60.0)), 4)


def _encode(image: np.ndarray, format_: str) -> np.ndarray:
    buffer = io.BytesIO()
    options = {"quality": 92} if format_ == "JPEG" else {"compress_level": 6}
    Image.fromarray(image).save(buffer, format_, **options)
    return np.frombuffer(buffer.getvalue(), np.uint8)


def _decode(data: np.ndarray) -> np.ndarray:
    with Image.open(io.BytesIO(data.tobytes()), formats=("JPEG", "PNG")) as image:
        return np.asarray(image)


def _arrays(references: list[Reference], identity: np.ndarray) -> dict[str, np.ndarray]:
    arrays = {
        "identity": identity.astype(np.float64),
        "embeddings": np.array([r.embeddings for r in references], np.float64),
        "landmarks": np.array([r.portrait.landmarks for r in references], np.float32),
        "face_boxes": np.array(
            [[b.x, b.y, b.width, b.height] for b in (r.portrait.face_box for r in references)],
            np.float32,
        ),
        "quality": np.array([r.quality for r in references], np.float32),
        "smile": np.array([r.smile for r in references], np.float32),
    }
    for i, ref in enumerate(references):
        assert ref.portrait.matte is not None
        arrays[f"image_{i}"] = _encode(ref.portrait.image, "JPEG")
        arrays[f"matte_{i}"] = _encode(_to_byte(ref.portrait.matte), "PNG")
        arrays[f"inside_{i}"] = _encode(_to_byte(ref.portrait.inside), "PNG")
    return arrays


def _to_byte(mask: np.ndarray) -> np.ndarray:
    return np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)


def load_references(artifacts: ModelArtifacts) -> tuple[list[Reference], np.ndarray]:
    """The references of a subject model (of either engine) and the subject's identity."""
    if artifacts.kind != "subject" or REFERENCES not in artifacts.files:
        raise TrainingError("wrong_artifacts", "these are not a CPU engine subject model")
    arrays = unpack_arrays(artifacts.files[REFERENCES])
    references = []
    for i in range(len(arrays["quality"])):
        x, y, w, h = (float(v) for v in arrays["face_boxes"][i])
        portrait = Portrait(
            image=_decode(arrays[f"image_{i}"]),
            landmarks=arrays["landmarks"][i],
            face_box=Box(x, y, w, h),
            inside=_decode(arrays[f"inside_{i}"]).astype(np.float32) / 255.0,
            matte=_decode(arrays[f"matte_{i}"]).astype(np.float32) / 255.0,
        )
        references.append(
            Reference(
                portrait,
                arrays["embeddings"][i],
                float(arrays["quality"][i]),
                float(arrays["smile"][i]),
            )
        )
    return references, arrays["identity"]
