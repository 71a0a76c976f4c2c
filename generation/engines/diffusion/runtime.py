"""Loading a local Stable Diffusion model (never from a hub) onto CUDA or the CPU."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a deployment never downloads weights
os.environ.setdefault("DIFFUSERS_OFFLINE", "1")

# One inference at a time per loaded pipeline: adapters are loaded into it per request.
pipeline_lock = threading.Lock()


def pick_device(requested: str | None = None) -> str:
    """``requested``, else CUDA when present, else the CPU."""
    import torch

    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_pipeline(model_dir: str, device: str):
    """A fresh StableDiffusionPipeline from ``model_dir`` on ``device`` (for training)."""
    import torch
    from diffusers import StableDiffusionPipeline

    folder = Path(model_dir)
    if not (folder / "model_index.json").is_file():
        raise FileNotFoundError(f"{model_dir} is not a diffusers model folder")
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    pipeline = StableDiffusionPipeline.from_pretrained(
        str(folder),
        dtype=dtype,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
        local_files_only=True,
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(device)


@lru_cache(maxsize=2)
def shared_pipeline(model_dir: str, device: str):
    """The text-to-image pipeline and an image-to-image twin sharing its modules, loaded once."""
    from diffusers import StableDiffusionImg2ImgPipeline

    text = load_pipeline(model_dir, device)
    image = StableDiffusionImg2ImgPipeline(**text.components)
    image.set_progress_bar_config(disable=True)
    return text, image
