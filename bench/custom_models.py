"""Benchmark custom models: the CPU engine's training and inference, and tiny diffusion.

    .venv/bin/python bench/custom_models.py [--images 8] [--diffusion-steps 20] [--sheet PATH]

Prints: CPU engine training time for 10 photos of one person (target under 60 s) with its
parts, inference time per image (target under 1 s) per style, custom-style training on 50
examples, and LoRA training steps per second and inference time on a tiny random Stable
Diffusion model (64 px), and an illustrated custom style's look per apply and in whole
portraits (``--looks-only`` for just those). With CUDA present it also times a real-size
SD 1.5 UNet (random weights): seconds per 512 px image at 25 steps and per LoRA training
step. ``--sheet`` writes a contact sheet of CPU engine results, to look at. Wall-clock
figures: run it on an otherwise idle machine (the load average is printed).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from generation.training import (  # noqa: E402
    InferenceRequest,
    infer_subject,
    train_style,
    train_subject,
)
from generation.training.validate import check_subject_set  # noqa: E402

PHOTOS = ROOT / "tests" / "fixtures" / "photos"
PROMPTS = (
    "smiling, golden hour, blue",
    "moody, neon background",
    "bright, studio, pastel, wearing a hat",
)


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def ten_photos() -> list[bytes]:
    """Three real photos of one man and seven variants (crops, mirror images, exposure)."""
    photos = [(PHOTOS / n).read_bytes() for n in ("obama.jpg", "obama2.jpg", "obama3.jpg")]
    for i in range(7):
        image = Image.open(PHOTOS / ("obama.jpg", "obama2.jpg", "obama3.jpg")[i % 3]).convert("RGB")
        if i % 2:
            image = ImageOps.mirror(image)
        width, height = image.size
        cut = 0.03 * (i + 1)
        image = image.crop((int(width * cut), 0, int(width * (1 - cut / 2)), height))
        photos.append(jpeg(ImageEnhance.Brightness(image).enhance(0.85 + 0.05 * i)))
    return photos


def style_examples() -> list[bytes]:
    rng = np.random.default_rng(0)
    names = ("astronaut.png", "coffee.png", "chelsea.png", "biden2.jpg", "obama2.jpg")
    made = []
    for i in range(50):
        image = np.asarray(Image.open(PHOTOS / names[i % len(names)]).convert("RGB"))
        warm = np.clip(image * np.array([1.15, 1.0, 0.8]) + rng.uniform(0, 20), 0, 255)
        made.append(jpeg(Image.fromarray(warm.astype(np.uint8)).resize((256, 256))))
    return made


def timed(action):
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def cpu_figures(images: int, sheet: Path | None) -> None:
    photos = ten_photos()
    train_subject(photos[:5], "man")  # load the models once, as a running worker has
    _, check_s = timed(lambda: check_subject_set(photos, "man"))
    model, train_s = timed(lambda: train_subject(photos, "man"))
    print(
        f"CPU training, 10 photos: {train_s:.2f} s (target < 60 s); the set check alone "
        f"{check_s:.2f} s; {model.meta['reference_count']} references kept, "
        f"{sum(len(v) for v in model.files.values()) / 1e6:.2f} MB"
    )
    tiles = []
    for style in ("corporate_headshot", "anime", "editorial"):
        per_image, scores = [], []
        for i in range(images):
            request = InferenceRequest(PROMPTS[i % len(PROMPTS)], style, seed=i)
            result, seconds = timed(lambda r=request: infer_subject(model, r))
            per_image.append(seconds)
            scores.append(result[0].likeness_score)
            if i < len(PROMPTS):
                tiles.append((f"{style} / {request.prompt}", result[0].png))
        print(
            f"CPU inference, {style}: p50 {statistics.median(per_image):.3f} s per image, "
            f"max {max(per_image):.3f} s (target < 1 s); likeness min {min(scores):.3f}"
        )
    examples = style_examples()
    look, style_s = timed(lambda: train_style(examples))
    print(f"CPU custom style, 50 examples: {style_s:.2f} s (base {look.meta['base_style']})")
    request = InferenceRequest("smiling", "house_style", seed=1)
    styled, styled_s = timed(lambda: infer_subject(model, request, custom_style=look))
    tiles.append(("custom style (warm examples)", styled[0].png))
    print(f"CPU inference with the custom style: {styled_s:.3f} s per image")
    if sheet:
        write_sheet(tiles, sheet)
        print(f"contact sheet: {sheet}")


def look_figures(runs: int) -> None:
    """An illustrated custom style (its look has a neural stylisation): per apply at 800 px,
    and whole portraits with it, once as usual and once with every retry forced (the look
    stage's figure adds up its tries)."""
    from generation.portrait.pipeline import AvatarRequest, PortraitPipeline
    from generation.training import custom_look
    from generation.training.scene import anime

    names = ("obama.jpg", "biden2.jpg", "astronaut.png", "coffee.png", "chelsea.png")
    examples = []
    for i in range(50):
        image = Image.open(PHOTOS / names[i % len(names)]).convert("RGB").resize((192, 192))
        examples.append(jpeg(Image.fromarray(anime(np.asarray(image), 1.0))))
    look = custom_look(train_style(examples))
    photo = np.asarray(Image.open(PHOTOS / "obama.jpg").convert("RGB").resize((800, 800)))
    look.apply(photo)  # load the networks once, as a running worker has
    applies = [timed(lambda: look.apply(photo))[1] for _ in range(runs)]
    print(
        f"custom look (neural strength {look.neural_strength}), one apply at 800 px: "
        f"p50 {statistics.median(applies):.3f} s, max {max(applies):.3f} s"
    )
    pipeline = PortraitPipeline()
    data = (PHOTOS / "obama.jpg").read_bytes()
    plain = AvatarRequest(style=look.base_style, palette=look.palette, seed=1)
    pipeline.generate(data, plain)
    for label, request in (
        ("portrait without the look", plain),
        ("portrait with the look", AvatarRequest(**{**plain.__dict__, "look": look})),
        (
            "portrait with the look, 3 tries forced",
            AvatarRequest(**{**plain.__dict__, "look": look, "likeness_threshold": 0.999}),
        ),
    ):
        results = [pipeline.generate(data, request) for _ in range(runs)]
        total = statistics.median(r.latency_ms for r in results) / 1000
        spent = statistics.median(r.stage_ms.get("look", 0.0) for r in results) / 1000
        print(
            f"{label}: p50 {total:.3f} s ({results[0].attempts} tries, "
            f"{results[0].size} px; the look stage {spent:.3f} s of it)"
        )


def write_sheet(tiles: list[tuple[str, bytes]], path: Path, side: int = 300) -> None:
    columns = 3
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * side, rows * (side + 18)), "white")
    draw = ImageDraw.Draw(sheet)
    for n, (label, png) in enumerate(tiles):
        x, y = (n % columns) * side, (n // columns) * (side + 18)
        sheet.paste(Image.open(io.BytesIO(png)).convert("RGB").resize((side, side)), (x, y + 18))
        draw.text((x + 4, y + 3), label[:48], fill="black")
    sheet.save(path)


def diffusion_figures(steps: int) -> None:
    import torch

    from generation.engines.diffusion.lora import train_lora
    from generation.engines.diffusion.runtime import load_pipeline, pick_device
    from generation.engines.diffusion.tiny import build_tiny_pipeline

    with tempfile.TemporaryDirectory() as folder:
        build_tiny_pipeline(folder)
        pipeline = load_pipeline(folder, pick_device("cpu"))  # torch on half the cores
        rng = np.random.default_rng(0)
        images = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(8)]
        start = time.perf_counter()
        train_lora(
            pipeline,
            images,
            "a photo of sks man",
            resolution=64,
            steps=steps,
            learning_rate=1e-4,
            rank=4,
            batch_size=1,
            seed=0,
        )
        seconds = time.perf_counter() - start
        print(
            f"tiny diffusion LoRA training (64 px, batch 1, CPU): {steps / seconds:.1f} "
            f"steps/s ({seconds:.2f} s for {steps} steps, latents encoded once included)"
        )
        generator = torch.Generator().manual_seed(0)
        _, infer_s = timed(
            lambda: pipeline("a photo of sks man", num_inference_steps=25, generator=generator)
        )
        print(f"tiny diffusion inference (64 px, 25 steps, CPU): {infer_s:.2f} s per image")
    if torch.cuda.is_available():
        real_size_figures()
    else:
        print(
            "no CUDA device here: the real-size SD 1.5 figures (512 px image at 25 steps, "
            "LoRA step) were not measured"
        )


def real_size_figures() -> None:
    """A Stable Diffusion 1.5-shaped UNet with random weights on CUDA (fp16)."""
    import torch
    from diffusers import UNet2DConditionModel
    from peft import LoraConfig

    from generation.engines.diffusion.lora import TARGET_MODULES

    unet = UNet2DConditionModel(
        sample_size=64,
        cross_attention_dim=768,
        attention_head_dim=8,
        block_out_channels=(320, 640, 1280, 1280),
    ).to("cuda", torch.float16)
    latents = torch.randn(2, 4, 64, 64, device="cuda", dtype=torch.float16)
    text = torch.randn(2, 77, 768, device="cuda", dtype=torch.float16)
    with torch.no_grad():
        unet(latents, 10, text)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for t in range(25):  # classifier-free guidance: a batch of two per step
            unet(latents, t, text)
        torch.cuda.synchronize()
    print(
        f"SD 1.5 UNet, random weights, fp16: {time.perf_counter() - start:.2f} s per 512 px "
        "image at 25 steps (UNet only)"
    )
    config = LoraConfig(
        r=4, lora_alpha=4, init_lora_weights="gaussian", target_modules=TARGET_MODULES
    )
    unet.to(torch.float32).add_adapter(config)
    optimiser = torch.optim.AdamW([p for p in unet.parameters() if p.requires_grad], lr=1e-4)
    one = torch.randn(1, 4, 64, 64, device="cuda")
    cond = torch.randn(1, 77, 768, device="cuda")
    times = []
    for _ in range(6):
        torch.cuda.synchronize()
        start = time.perf_counter()
        loss = unet(one, 500, cond).sample.pow(2).mean()
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    step = statistics.median(times[1:])
    print(f"SD 1.5 UNet LoRA training step (512 px, batch 1, fp32): {step:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=8, help="CPU inferences per style")
    parser.add_argument("--diffusion-steps", type=int, default=20)
    parser.add_argument("--sheet", type=Path, help="write a contact sheet of CPU results here")
    parser.add_argument("--skip-diffusion", action="store_true")
    parser.add_argument("--looks-only", action="store_true", help="only the custom look figures")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    look_figures(args.images)
    if args.looks_only:
        return
    cpu_figures(args.images, args.sheet)
    if not args.skip_diffusion:
        diffusion_figures(args.diffusion_steps)


if __name__ == "__main__":
    main()
