"""DreamBooth-style LoRA training on a Stable Diffusion UNet, and LoRA files as bytes.

The UNet gets low-rank adapters on its attention projections; only those train. Images are
encoded once (latents cached); each step noises a latent at a random timestep and teaches
the UNet to predict that noise given the prompt (a rare token and the class noun for a
subject, a style token for a style). No prior-preservation images: a deployment with few
photos and no time for class images still gets a usable subject, at some cost to the class
prior, which inference's prompts keep close to portraits anyway.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

WEIGHT_NAME = "pytorch_lora_weights.safetensors"
TARGET_MODULES = ["to_k", "to_q", "to_v", "to_out.0"]


def _to_tensor(images: list[np.ndarray], resolution: int, device: str, dtype):
    import cv2
    import torch

    batch = []
    for image in images:
        square = _centre_square(image)
        interpolation = cv2.INTER_AREA if square.shape[0] > resolution else cv2.INTER_CUBIC
        small = cv2.resize(square, (resolution, resolution), interpolation=interpolation)
        batch.append(small.astype(np.float32) / 127.5 - 1.0)
    tensor = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2)
    return tensor.to(device=device, dtype=dtype)


def _centre_square(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return image[top : top + side, left : left + side]


def train_lora(
    pipeline,
    images: list[np.ndarray],
    prompt: str,
    *,
    resolution: int,
    steps: int,
    learning_rate: float,
    rank: int,
    batch_size: int,
    seed: int,
    flip: bool = True,
    progress: Callable[[int, int, float], None] | None = None,
) -> bytes:
    """Train a LoRA on ``pipeline``'s UNet from RGB uint8 ``images``; the safetensors bytes.

    ``progress(step, steps, loss)`` after each step. The pipeline's UNet keeps the adapter.
    """
    import torch
    import torch.nn.functional as functional
    from diffusers import DDPMScheduler
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    device = pipeline.device
    unet, vae, text_encoder = pipeline.unet, pipeline.vae, pipeline.text_encoder
    for module in (unet, vae, text_encoder):
        module.requires_grad_(False)
    if unet.dtype != torch.float32:
        unet.to(torch.float32)  # adapters train in full precision
    unet.add_adapter(
        LoraConfig(
            r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=TARGET_MODULES
        )
    )
    trainable = [p for p in unet.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=learning_rate)
    noise_scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)
    generator = torch.Generator(device="cpu").manual_seed(seed)

    with torch.no_grad():
        if getattr(vae.config, "force_upcast", False) and vae.dtype != torch.float32:
            vae.to(torch.float32)  # SDXL's VAE overflows in half precision
        pixels = _to_tensor(images, resolution, device, vae.dtype)
        if flip:
            pixels = torch.cat([pixels, pixels.flip(-1)])
        latents = vae.encode(pixels).latent_dist.mean * vae.config.scaling_factor
        latents = latents.to(torch.float32)
        encoded = pipeline.encode_prompt(
            prompt, device=device, num_images_per_prompt=1, do_classifier_free_guidance=False
        )
        condition = encoded[0].to(torch.float32)
        extra = _size_conditioning(unet, encoded, resolution, device)

    unet.train()
    count = latents.shape[0]
    for step in range(steps):
        picks = torch.randint(0, count, (batch_size,), generator=generator)
        clean = latents[picks.to(latents.device)]
        noise = torch.randn(clean.shape, generator=generator).to(device)
        timesteps = torch.randint(
            0, noise_scheduler.config.num_train_timesteps, (batch_size,), generator=generator
        ).to(device)
        noisy = noise_scheduler.add_noise(clean, noise, timesteps)
        if noise_scheduler.config.prediction_type == "v_prediction":
            target = noise_scheduler.get_velocity(clean, noise, timesteps)
        else:
            target = noise
        added = {k: v.expand(batch_size, -1) for k, v in extra.items()} if extra else None
        predicted = unet(
            noisy, timesteps, condition.expand(batch_size, -1, -1), added_cond_kwargs=added
        ).sample
        loss = functional.mse_loss(predicted.float(), target.float())
        loss.backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        if progress is not None:
            progress(step + 1, steps, float(loss.detach()))
    unet.eval()

    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    with tempfile.TemporaryDirectory() as folder:
        type(pipeline).save_lora_weights(
            folder, unet_lora_layers=layers, weight_name=WEIGHT_NAME, safe_serialization=True
        )
        return (Path(folder) / WEIGHT_NAME).read_bytes()


def _size_conditioning(unet, encoded: tuple, resolution: int, device) -> dict:
    """SDXL's extra UNet inputs: the pooled text embedding and the size and crop "time ids"
    (original size, crop corner, target size); nothing for SD 1.x and 2.x."""
    import torch

    if getattr(unet.config, "addition_embed_type", None) != "text_time":
        return {}
    pooled = encoded[2].to(torch.float32)
    sizes = [resolution, resolution, 0, 0, resolution, resolution]
    time_ids = torch.tensor([sizes], dtype=torch.float32, device=device)
    return {"text_embeds": pooled, "time_ids": time_ids}


def load_adapter(pipeline, weights: bytes, name: str) -> None:
    """Load LoRA ``weights`` (safetensors bytes) into ``pipeline`` as adapter ``name``."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / WEIGHT_NAME).write_bytes(weights)
        pipeline.load_lora_weights(folder, weight_name=WEIGHT_NAME, adapter_name=name)
