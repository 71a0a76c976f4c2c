"""Custom models: subject models from 5-30 photos, custom styles from 50-200 examples.

Plain Python (no Django): bytes and dataclasses in, :class:`ModelArtifacts` (named files and
a JSON meta the Django layer stores) and PNGs out. Two engines: ``cpu`` (no weights: curated
references, a learnt look) and ``diffusion`` (LoRA on a local Stable Diffusion model, in
``generation.engines.diffusion``). See docs/custom-models.md.
"""

from .artifacts import (
    ENGINES,
    GeneratedImage,
    InferenceRequest,
    ModelArtifacts,
    Progress,
    TrainingError,
    TrainingSettings,
)
from .cpu_style import CustomLook
from .engines import available_engines, custom_look, infer_subject, train_style, train_subject
from .sets import PROBLEM_CODES, SUBJECT_TYPES, PhotoProblem, SetReport
from .validate import validate_style_examples, validate_subject_set

__all__ = [
    "ENGINES",
    "PROBLEM_CODES",
    "SUBJECT_TYPES",
    "CustomLook",
    "GeneratedImage",
    "InferenceRequest",
    "ModelArtifacts",
    "PhotoProblem",
    "Progress",
    "SetReport",
    "TrainingError",
    "TrainingSettings",
    "available_engines",
    "custom_look",
    "infer_subject",
    "train_style",
    "train_subject",
    "validate_style_examples",
    "validate_subject_set",
]
