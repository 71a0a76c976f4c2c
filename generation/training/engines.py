"""One entry point per operation, dispatching to the CPU engine or the diffusion engine."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from generation.portrait.safety import SafetyClassifier

from . import cpu_style, cpu_subject
from .artifacts import (
    ENGINES,
    GeneratedImage,
    InferenceRequest,
    ModelArtifacts,
    Progress,
    TrainingError,
    TrainingSettings,
    report,
)
from .cpu_style import CustomLook
from .validate import check_style_examples, check_subject_set


def available_engines(diffusion_model_dir: str | None) -> list[str]:
    """``cpu`` always; ``diffusion`` too when a local diffusers model folder is there."""
    engines = ["cpu"]
    if diffusion_model_dir and (Path(diffusion_model_dir) / "model_index.json").is_file():
        from generation.engines.diffusion import torch_available

        if torch_available():
            engines.append("diffusion")
    return engines


def _require(engine: str, settings: TrainingSettings) -> None:
    if engine not in ENGINES:
        raise TrainingError("unknown_engine", f"engine is one of {', '.join(ENGINES)}")
    if engine not in available_engines(settings.diffusion_model_dir):
        raise TrainingError("engine_unavailable", f"the {engine} engine has no model here")


def train_subject(
    photos: Sequence[bytes],
    subject_type: str,
    *,
    engine: str = "cpu",
    progress: Progress | None = None,
    settings: TrainingSettings | None = None,
    safety: SafetyClassifier | None = None,
) -> ModelArtifacts:
    """Check the set, then train a subject model on ``engine``.

    Raises TrainingError("image_not_valid", ..., problems) when the set fails its check.
    The photos are only read; the caller deletes them when this returns or raises.
    """
    settings = settings or TrainingSettings()
    _require(engine, settings)
    report(progress, 0.0, "checking the photos")
    set_report, checked = check_subject_set(photos, subject_type, safety=safety)
    if not set_report.ok:
        raise TrainingError("image_not_valid", "the photos failed their check", set_report.problems)
    report(progress, 0.1, "photos checked")
    if engine == "cpu":
        return cpu_subject.train(checked, subject_type, settings, _scaled(progress, 0.1, 1.0))
    from generation.engines.diffusion.engine import train_subject_lora

    base = cpu_subject.train(checked, subject_type, settings, _scaled(progress, 0.1, 0.25))
    return train_subject_lora(base, subject_type, settings, _scaled(progress, 0.25, 1.0))


def train_style(
    examples: Sequence[bytes],
    *,
    engine: str = "cpu",
    progress: Progress | None = None,
    settings: TrainingSettings | None = None,
    safety: SafetyClassifier | None = None,
) -> ModelArtifacts:
    """Check the examples, then learn a custom style on ``engine``.

    Both engines learn the CPU look (so a diffusion style still works where only the CPU
    engine runs); the diffusion engine adds a style LoRA to the same artifacts.
    """
    settings = settings or TrainingSettings()
    _require(engine, settings)
    report(progress, 0.0, "checking the examples")
    set_report, decoded = check_style_examples(examples, safety=safety)
    if not set_report.ok:
        raise TrainingError(
            "image_not_valid", "the examples failed their check", set_report.problems
        )
    share = 1.0 if engine == "cpu" else 0.3
    look = cpu_style.train_style(decoded, _scaled(progress, 0.05, share))
    if engine == "cpu":
        return look
    from generation.engines.diffusion.engine import train_style_lora

    return train_style_lora(look, decoded, settings, _scaled(progress, share, 1.0))


def infer_subject(
    artifacts: ModelArtifacts,
    request: InferenceRequest,
    *,
    custom_style: ModelArtifacts | None = None,
    progress: Progress | None = None,
    settings: TrainingSettings | None = None,
    engine: str | None = None,
) -> list[GeneratedImage]:
    """``request.count`` images of the subject; ``engine`` None means the model's own.

    A diffusion subject model also holds the CPU references, so it can render on ``cpu``.
    """
    settings = settings or TrainingSettings()
    engine = engine or artifacts.engine
    _require(engine, settings)
    if engine == "cpu":
        look = custom_look(custom_style) if custom_style is not None else None
        return cpu_subject.infer(artifacts, request, look, progress)
    if artifacts.engine != "diffusion":
        raise TrainingError("wrong_artifacts", "a CPU subject model cannot render on diffusion")
    from generation.engines.diffusion.engine import infer_subject_lora

    return infer_subject_lora(artifacts, request, settings, custom_style, progress)


def custom_look(artifacts: ModelArtifacts) -> CustomLook:
    """The CPU look of a custom style (of either engine), for the portrait pipeline."""
    return cpu_style.custom_look(artifacts)


def _scaled(progress: Progress | None, start: float, end: float) -> Progress | None:
    """A progress callback that maps its own 0..1 onto ``start``..``end`` of ``progress``."""
    if progress is None:
        return None
    return lambda fraction, message: progress(start + (end - start) * fraction, message)
