"""What crosses the boundary to the Django layer: settings, models, requests, images."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening)
ENGINES = ("cpu", "diffusion")


class TrainingError(Exception):
    """A training or inference the engine refuses, with a stable machine-readable ``code``.

    Codes: image_not_valid (the set failed its check; ``problems`` says why), unknown_engine,
    engine_unavailable, unknown_style, bad_request, wrong_artifacts.
    """

    def __init__(self, code: str, message: str, problems: list | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.problems = problems or []


@dataclass(frozen=True)
class TrainingSettings:
    """Knobs of both engines; the defaults suit a real deployment.

    ``diffusion_model_dir`` is a local Stable Diffusion folder (diffusers layout), never
    downloaded. ``device`` None picks CUDA when present, else the CPU.
    """

    diffusion_model_dir: str | None = None
    device: str | None = None
    cpu_threads: int | None = None  # torch's threads on the CPU; None: half the cores
    # CPU engine
    reference_size: int = 768  # side of each kept reference, and of the images it renders
    max_references: int = 8
    # diffusion engine
    resolution: int = 512
    train_steps: int = 500
    learning_rate: float = 1e-4
    lora_rank: int = 4
    batch_size: int = 1
    inference_steps: int = 25
    guidance_scale: float = 7.5
    img2img_strength: float = 0.6
    rare_token: str = "sks"
    style_token: str = "zwx"
    seed: int = 0


@dataclass
class ModelArtifacts:
    """What a trained subject model or custom style is: named files and a small JSON meta.

    The Django layer stores the files as they are; ``meta`` holds only JSON values
    (``kind``: subject or style, ``engine``, ``format`` and what the engine needs to read them).
    """

    engine: str
    files: dict[str, bytes]
    meta: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.meta.get("kind", ""))


@dataclass(frozen=True)
class InferenceRequest:
    """One prompt: ``count`` images (1-8) in ``style`` (a portrait style or a custom style)."""

    prompt: str
    style: str
    count: int = 1
    negative_prompt: str = ""
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.count <= 8:
            raise TrainingError("bad_request", "count must be between 1 and 8")
        if len(self.prompt) > 1000 or len(self.negative_prompt) > 1000:
            raise TrainingError("bad_request", "a prompt is at most 1000 characters")
        if self.seed is not None and not 0 <= self.seed < 2**32 - 8:
            raise TrainingError("bad_request", "seed must be between 0 and 4294967287")


@dataclass
class GeneratedImage:
    """One delivered image: PNG bytes, likeness to the subject (None for pets), its engine."""

    png: bytes
    likeness_score: float | None
    engine: str
    ignored_prompt_terms: list[str] = field(default_factory=list)


def report(progress: Progress | None, fraction: float, message: str) -> None:
    """Call ``progress`` when there is one, with ``fraction`` clipped to [0, 1]."""
    if progress is not None:
        progress(min(max(float(fraction), 0.0), 1.0), message)


def pack_arrays(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Arrays to one compressed .npz file's bytes."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def unpack_arrays(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of an .npz file's bytes (never unpickling anything).

    Raises TrainingError("wrong_artifacts") for bytes that are not such a file.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise TrainingError("wrong_artifacts", "a model file is damaged") from exc
