"""Subject models, custom styles and inference on a local Stable Diffusion model.

A subject model is the CPU engine's references (kept, so the model also renders on the CPU
and inference can score likeness and start image-to-image from the aligned face) plus a
DreamBooth LoRA trained on them with "a photo of <rare token> <class noun>". A custom style
is the CPU look plus a style LoRA trained on the examples with "<style token> style".
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from generation.training.artifacts import (
    GeneratedImage,
    InferenceRequest,
    ModelArtifacts,
    Progress,
    TrainingError,
    TrainingSettings,
    report,
)
from generation.training.cpu_style import custom_look
from generation.training.cpu_subject import load_references, subject_likeness
from generation.training.prompt import plan_prompt

from .lora import load_adapter, train_lora
from .runtime import load_pipeline, pick_device, pipeline_lock, shared_pipeline

ENGINE = "diffusion"
SUBJECT_LORA = "subject_lora.safetensors"
STYLE_LORA = "style_lora.safetensors"
CLASS_NOUNS = {"man": "man", "woman": "woman", "couple": "couple", "dog": "dog", "cat": "cat"}
STYLE_PROMPTS = {
    "corporate_headshot": "a professional corporate headshot photo, studio lighting",
    "anime": "an anime illustration, cel shading, clean line art",
    "editorial": "a cinematic editorial portrait photo, dramatic light, film grain",
}
AUTO = ("", "auto")  # the prompt picks the style
NEGATIVE = "blurry, deformed, disfigured, extra limbs, watermark, text"
STYLE_WEIGHT = 0.8  # a custom style's LoRA beside a subject's


def _model_dir(settings: TrainingSettings) -> str:
    if not settings.diffusion_model_dir:
        raise TrainingError("engine_unavailable", "no diffusion model folder is configured")
    return settings.diffusion_model_dir


def _step_reporter(progress: Progress | None, what: str):
    def step(done: int, total: int, loss: float) -> None:
        report(progress, done / total, f"{what}: step {done} of {total} (loss {loss:.4f})")

    return step


def _trained(
    base: ModelArtifacts,
    images: list[np.ndarray],
    prompt: str,
    file_name: str,
    meta: dict,
    settings: TrainingSettings,
    progress: Progress | None,
) -> ModelArtifacts:
    """``base`` (the CPU engine's artifacts) plus a LoRA trained on ``images`` with ``prompt``."""
    model_dir = _model_dir(settings)
    report(progress, 0.0, "loading the base model")
    pipeline = load_pipeline(model_dir, pick_device(settings.device, settings.cpu_threads))
    weights = train_lora(
        pipeline,
        images,
        prompt,
        resolution=settings.resolution,
        steps=settings.train_steps,
        learning_rate=settings.learning_rate,
        rank=settings.lora_rank,
        batch_size=settings.batch_size,
        seed=settings.seed,
        progress=_step_reporter(progress, "training"),
    )
    meta = {
        **base.meta,
        **meta,
        "engine": ENGINE,
        "resolution": settings.resolution,
        "lora_rank": settings.lora_rank,
        "train_steps": settings.train_steps,
        "base_model": os.path.basename(os.path.normpath(model_dir)),
    }
    return ModelArtifacts(engine=ENGINE, files={**base.files, file_name: weights}, meta=meta)


def train_subject_lora(
    references: ModelArtifacts,
    subject_type: str,
    settings: TrainingSettings,
    progress: Progress | None = None,
) -> ModelArtifacts:
    """A DreamBooth LoRA on the CPU engine's references of a subject."""
    images = [ref.portrait.image for ref in load_references(references)[0]]
    noun = CLASS_NOUNS[subject_type]
    prompt = f"a photo of {settings.rare_token} {noun}"
    meta = {"token": settings.rare_token, "class_noun": noun}
    return _trained(references, images, prompt, SUBJECT_LORA, meta, settings, progress)


def train_style_lora(
    look: ModelArtifacts,
    examples: list[np.ndarray],
    settings: TrainingSettings,
    progress: Progress | None = None,
) -> ModelArtifacts:
    """A style LoRA on the examples, added to the CPU look's artifacts."""
    prompt = f"an image in {settings.style_token} style"
    meta = {"style_token": settings.style_token}
    return _trained(look, examples, prompt, STYLE_LORA, meta, settings, progress)


def portrait_style(request: InferenceRequest, custom_style: ModelArtifacts | None) -> str | None:
    """The portrait style a request draws in: its own, or in "auto" (and "") without a custom
    style the one its prompt names, as on the CPU engine; None for a plain portrait.
    """
    if request.style in STYLE_PROMPTS:
        return request.style
    if custom_style is None and request.style in AUTO:
        return plan_prompt(request.prompt).style
    return None


def _prompt(
    artifacts: ModelArtifacts, request: InferenceRequest, custom_style: ModelArtifacts | None
) -> str:
    subject = f"{artifacts.meta['token']} {artifacts.meta['class_noun']}"
    style = portrait_style(request, custom_style)
    if custom_style is not None and STYLE_LORA in custom_style.files:
        lead = f"a portrait of {subject} in {custom_style.meta['style_token']} style"
    elif style is not None:
        lead = f"{STYLE_PROMPTS[style]} of {subject}"
    elif custom_style is not None or request.style in AUTO:
        lead = f"a portrait photo of {subject}"
    else:
        raise TrainingError("unknown_style", f"{request.style!r} is not a style this model can use")
    return f"{lead}, {request.prompt}" if request.prompt.strip() else lead


def infer_subject_lora(
    artifacts: ModelArtifacts,
    request: InferenceRequest,
    settings: TrainingSettings,
    custom_style: ModelArtifacts | None = None,
    progress: Progress | None = None,
) -> list[GeneratedImage]:
    """``request.count`` images: text-to-image with the subject's LoRA (and a style's).

    People in a portrait style start image-to-image from their best aligned reference, the
    identity anchor; everything else starts from noise. Seeded: the same request and seed
    give the same images.
    """
    import torch

    if SUBJECT_LORA not in artifacts.files:
        raise TrainingError("wrong_artifacts", "these are not a diffusion subject model")
    model_dir = _model_dir(settings)
    device = pick_device(settings.device, settings.cpu_threads)
    references, identity = load_references(artifacts)
    look = custom_look(custom_style) if custom_style is not None else None
    prompt = _prompt(artifacts, request, custom_style)
    negative = ", ".join(filter(None, (NEGATIVE, request.negative_prompt)))
    resolution = int(artifacts.meta.get("resolution", settings.resolution))
    people = artifacts.meta.get("subject_type") in ("man", "woman", "couple")
    styled = portrait_style(request, custom_style) is not None
    anchor = references[0].portrait.image if people and styled else None
    seed = request.seed if request.seed is not None else int.from_bytes(os.urandom(4), "big")
    text, image_to_image = shared_pipeline(model_dir, device)
    ignored = beyond_token_limit(text.tokenizer, prompt)
    images = []
    with pipeline_lock:
        adapters, weights = ["subject"], [1.0]
        load_adapter(text, artifacts.files[SUBJECT_LORA], "subject")
        try:
            if custom_style is not None and STYLE_LORA in custom_style.files:
                load_adapter(text, custom_style.files[STYLE_LORA], "style")
                adapters.append("style")
                weights.append(STYLE_WEIGHT)
            text.set_adapters(adapters, adapter_weights=weights)
            for index in range(request.count):
                generator = torch.Generator(device="cpu").manual_seed(seed + index)
                step = _on_step(progress, index, request.count)
                common = {
                    "prompt": prompt,
                    "negative_prompt": negative,
                    "num_inference_steps": settings.inference_steps,
                    "guidance_scale": settings.guidance_scale,
                    "generator": generator,
                    "output_type": "np",
                    "callback_on_step_end": step,
                }
                if anchor is not None:
                    start = Image.fromarray(anchor).resize((resolution, resolution))
                    out = image_to_image(
                        image=start, strength=settings.img2img_strength, **common
                    ).images[0]
                else:
                    out = text(height=resolution, width=resolution, **common).images[0]
                pixels = np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)
                if look is not None and STYLE_LORA not in custom_style.files:
                    pixels = look.apply(pixels)
                score = subject_likeness(pixels, identity)
                images.append(GeneratedImage(_png(pixels), score, ENGINE, list(ignored)))
        finally:
            text.delete_adapters(adapters)
    report(progress, 1.0, "done")
    return images


def _on_step(progress: Progress | None, index: int, count: int):
    def step(pipeline, number: int, timestep, tensors: dict) -> dict:
        total = max(int(getattr(pipeline, "num_timesteps", 0) or 1), 1)
        done = (index + (number + 1) / total) / count
        report(progress, done, f"image {index + 1} of {count}: step {number + 1} of {total}")
        return tensors

    return step


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def beyond_token_limit(tokenizer, prompt: str) -> list[str]:
    """The prompt's words past the text encoder's token limit: the model never sees them."""
    room = tokenizer.model_max_length - 2  # less the start and end tokens
    words = prompt.split()
    if len(tokenizer(prompt, truncation=False).input_ids) - 2 <= room:
        return []
    low, high = 0, len(words)  # the most words that fit, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if len(tokenizer(" ".join(words[:middle]), truncation=False).input_ids) - 2 <= room:
            low = middle
        else:
            high = middle - 1
    return words[low:]
