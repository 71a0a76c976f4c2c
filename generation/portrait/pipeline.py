"""The portrait pipeline, stage by stage, with quality checks and retries."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from typing import Protocol

import numpy as np

from generation.engines import StyleEngine, get_engine
from generation.imaging.beside import beside
from generation.imaging.state import Box, Portrait

from .align import align_face
from .analysis import PhotoAnalysis, analyse_photo
from .background import parse_palette, place_on_background
from .checks import CheckOutcome, check_output, reference_face
from .errors import PortraitError
from .face import key_points
from .load import DEFAULT_LIMITS, Limits
from .presets import HIRES_SIZE, get_platform
from .safety import SafetyClassifier, safety_classifier
from .save import save_avatar
from .segment import segment_person
from .styles import Style, backdrop_for, get_background, get_style
from .timing import StageTimer

MIN_SIZE = 64
MIN_WORKING_SIZE = 512  # small presets are rendered at this size, then scaled down
RETRY_INTENSITY = (1.0, 0.6, 0.3)  # the first try, then at most two retries
DEFAULT_INTENSITY = 0.8
# The stages in the order they start (style to checks repeat on a retry).
STAGES = ("load", "exposure", "face_detect", "safety", "face_exposure", "quality", "align",
          "embed_input", "segment", "background", "style", "composite", "enhance", "look",
          "checks", "save")  # fmt: skip


class Look(Protocol):
    """A finish applied after DetailEnhance: a custom style's learnt look
    (generation.training.CustomLook: colour grade, tone, texture)."""

    def apply(self, image: np.ndarray, matte: np.ndarray | None = None) -> np.ndarray:
        """Return the graded RGB uint8 image; ``matte`` (1 = person) may limit where."""
        ...


@dataclass(frozen=True)
class Attempt:
    outcome: CheckOutcome
    encoded: Future[tuple[bytes, bytes]]  # the avatar's PNG and thumbnail
    intensity: float


@dataclass(frozen=True)
class AvatarRequest:
    style: str = "corporate_headshot"
    platform: str = "linkedin"
    style_intensity: float = DEFAULT_INTENSITY
    palette: tuple[str, ...] | None = None  # "#rrggbb" colours; None: the style's own
    background: str | None = None  # "studio", "neon" or "bokeh"; None: the style's own
    hires: bool = False  # 1200 px whatever the platform's size
    size: int | None = None  # output side in px, overriding the platform's (and hires)
    likeness_threshold: float | None = None  # None: the platform's threshold
    min_face_height: float | None = None  # raises the platform's face-size floor
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    seed: int | None = None  # lays out the background; None: drawn from the request id
    # A custom style's finish over ``style`` (its base); ``palette`` usually its backdrop colours.
    look: Look | None = field(default=None, compare=False)

    @property
    def layout_seed(self) -> int:
        """The seed actually used: the caller's, or one derived from the request id."""
        if self.seed is not None:
            return self.seed
        return int(hashlib.sha256(self.request_id.encode()).hexdigest()[:8], 16)


@dataclass(frozen=True)
class AvatarResult:
    png: bytes
    thumbnail: bytes
    size: int
    style: str
    style_version: str
    engine: str
    platform: str
    request_id: str
    seed: int
    face_detected: bool
    face_count: int
    dominant_face: Box
    landmarks: dict[str, tuple[float, float]]  # of the dominant face, in photo pixels
    face_height: float  # the dominant face box's height / the photo's height
    rotation: int  # degrees the photo was turned clockwise to stand upright
    input_quality_score: float
    likeness_score: float
    face_in_output: bool
    style_intensity: float
    attempts: int
    validation_warnings: tuple[str, ...]
    stage_ms: dict[str, float]
    latency_ms: float

    def summary(self) -> dict:
        """Every field except the image bytes, JSON-ready."""
        fields = asdict(self)
        del fields["png"], fields["thumbnail"]
        fields["dominant_face"] = {k: round(v, 1) for k, v in fields["dominant_face"].items()}
        fields["validation_warnings"] = list(self.validation_warnings)
        return fields


class PortraitPipeline:
    """Holds the pieces a deployment may swap: engine, safety classifier, limits."""

    def __init__(
        self,
        engine: StyleEngine | None = None,
        safety: SafetyClassifier | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.engine = engine or get_engine("classic")
        self.safety = safety or safety_classifier()
        self.limits = limits

    def analyse(
        self, data: bytes, platform: str, min_face_height: float | None = None
    ) -> PhotoAnalysis:
        """What generate would make of a photo (warnings or refusal), styling nothing."""
        return analyse_photo(
            data, self.limits, self.safety, get_platform(platform), min_face_height
        )

    def generate(
        self,
        data: bytes,
        request: AvatarRequest,
        on_stage: Callable[[str], None] | None = None,
    ) -> AvatarResult:
        """Photo bytes in, avatar out; raises PortraitError for photos it refuses.
        `on_stage` hears each stage's name as it starts."""
        timer = StageTimer(on_stage)
        style = get_style(request.style)
        platform = get_platform(request.platform)
        if style.name not in self.engine.styles:
            raise PortraitError("unknown_style", f"{self.engine.name} cannot draw {style.name}")
        size = request.size or (HIRES_SIZE if request.hires else platform.size)
        if not MIN_SIZE <= size <= HIRES_SIZE:
            raise PortraitError("bad_size", f"size must be {MIN_SIZE}-{HIRES_SIZE} px")
        if not 0.0 <= request.style_intensity <= 1.0:
            raise PortraitError("bad_intensity", "style_intensity must be between 0 and 1")
        palette = request.palette or style.palette
        parse_palette(palette)  # a bad colour is the caller's error, before any work
        get_background(request.background, style)
        threshold = (
            platform.likeness_threshold
            if request.likeness_threshold is None
            else request.likeness_threshold
        )

        working_size = max(size, MIN_WORKING_SIZE)
        # A request's seed is all its backdrop needs: drawn while the photo is analysed.
        backdrop_job = beside(
            backdrop_for, style, palette, working_size, request.background, request.layout_seed
        )
        photo = analyse_photo(
            data, self.limits, self.safety, platform, request.min_face_height, timer, parallel=True
        )
        if photo.refusal is not None:
            raise photo.refusal
        image, analysis = photo.image, photo.faces
        with timer("align"):
            portrait = align_face(image, analysis, working_size)
        with timer("embed_input"):
            # Found and described beside segmentation (MediaPipe and onnxruntime free the GIL).
            reference_job = beside(reference_face, portrait.image, portrait.face_box)
        with timer("segment"):
            portrait = segment_person(portrait)
        with timer("background"):
            backdrop = backdrop_job.result()
        reference_box, reference = timer.collect("embed_input", reference_job)
        output_safety = self.safety if self.engine.synthesises_content else None
        metadata = {
            "style": style.name,
            "style_version": style.version,
            "engine": self.engine.name,
            "request_id": request.request_id,
        }

        tries: list[Attempt] = []
        for factor in RETRY_INTENSITY:
            intensity = request.style_intensity * factor
            avatar = self._render(
                self.engine, style, portrait, intensity, backdrop, timer, request.look
            )
            # Encoded beside the checks: the first try nearly always passes, so its
            # bytes are the ones returned.
            encoded = beside(save_avatar, avatar.image, size, metadata)
            with timer("checks"):
                outcome = check_output(
                    avatar.image, reference, reference_box, threshold, output_safety
                )
            tries.append(Attempt(outcome, encoded, intensity))
            if not outcome.unmet:
                break
        best = max(tries, key=lambda t: t.outcome.rank)
        outcome = best.outcome
        with timer("save"):
            png, thumbnail = best.encoded.result()

        warnings = photo.warnings + outcome.unmet
        assert analysis.dominant is not None
        return AvatarResult(
            png=png,
            thumbnail=thumbnail,
            size=size,
            style=style.name,
            style_version=style.version,
            engine=self.engine.name,
            platform=platform.name,
            request_id=request.request_id,
            seed=request.layout_seed,
            face_detected=True,
            face_count=analysis.face_count,
            dominant_face=analysis.dominant,
            landmarks=key_points(analysis.landmarks),
            face_height=round(analysis.face_height, 4),
            rotation=photo.rotation,
            input_quality_score=photo.input_quality_score,
            likeness_score=outcome.likeness,
            face_in_output=outcome.face_in_output,
            style_intensity=round(best.intensity, 4),
            attempts=len(tries),
            validation_warnings=warnings,
            stage_ms=timer.ms,
            latency_ms=timer.total_ms,
        )

    @staticmethod
    def _render(
        engine: StyleEngine,
        style: Style,
        portrait: Portrait,
        intensity: float,
        backdrop: np.ndarray,
        timer: StageTimer,
        look: Look | None = None,
    ) -> Portrait:
        """StyleApply, then BgGenerate's composite, then DetailEnhance, then a custom look."""
        with timer("style"):
            styled = replace(portrait, image=engine.stylise(style.name, portrait, intensity))
        with timer("composite"):
            styled = place_on_background(styled, backdrop, style.shadow)
        with timer("enhance"):
            styled = style.enhance(styled)
        if look is None:
            return styled
        with timer("look"):
            return replace(styled, image=look.apply(styled.image, styled.matte))
