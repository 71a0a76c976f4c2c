"""The diffusion engine: LoRA fine-tuning and inference on a local Stable Diffusion model.

Nothing here downloads anything: the base model is a diffusers folder named in settings.
torch, diffusers and peft are imported only when this engine is used.
"""

from __future__ import annotations

from importlib.util import find_spec


def torch_available() -> bool:
    """Whether torch, diffusers and peft are installed."""
    return all(find_spec(name) is not None for name in ("torch", "diffusers", "peft"))
