"""Loading a local Stable Diffusion model (never from a hub) onto CUDA or the CPU."""

from __future__ import annotations

import json
import os
import threading
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a deployment never downloads weights
os.environ.setdefault("DIFFUSERS_OFFLINE", "1")

# One inference at a time per loaded pipeline: adapters are loaded into it per request.
pipeline_lock = threading.Lock()


def pick_device(requested: str | None = None, cpu_threads: int | None = None) -> str:
    """``requested``, else CUDA when present, else the CPU.

    On the CPU, torch gets ``cpu_threads`` (default: half the cores, at least one): with every
    core taken, its threads wait on each other whenever another process runs, and on a busy
    two-core machine a tiny model's 25 steps took 45 s instead of 2.7 s.
    """
    import torch

    device = requested or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        torch.set_num_threads(cpu_threads or max((os.cpu_count() or 2) // 2, 1))
    return device


def is_xl(model_dir: str) -> bool:
    """Whether ``model_dir`` holds an SDXL pipeline (two text encoders, size conditioning)."""
    index = json.loads((Path(model_dir) / "model_index.json").read_text())
    return str(index.get("_class_name", "")).startswith("StableDiffusionXL")


def load_pipeline(model_dir: str, device: str):
    """A fresh Stable Diffusion (1.x, 2.x or XL) pipeline from ``model_dir`` on ``device``."""
    import torch
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    folder = Path(model_dir)
    if not (folder / "model_index.json").is_file():
        raise FileNotFoundError(f"{model_dir} is not a diffusers model folder")
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    if is_xl(model_dir):
        pipeline = StableDiffusionXLPipeline.from_pretrained(
            str(folder), dtype=dtype, local_files_only=True
        )
    else:
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
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionXLImg2ImgPipeline

    text = load_pipeline(model_dir, device)
    twin = StableDiffusionXLImg2ImgPipeline if is_xl(model_dir) else StableDiffusionImg2ImgPipeline
    image = twin(**text.components)
    image.set_progress_bar_config(disable=True)
    return text, image
