"""A custom style on the CPU: a look learnt from examples, used by inferences and portraits."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from PIL import Image

from generation.portrait.pipeline import AvatarRequest, PortraitPipeline
from generation.training import (
    InferenceRequest,
    cpu_style,
    custom_look,
    infer_subject,
    train_style,
)
from generation.training.scene import anime

from .conftest import PHOTOS, decode, encode

SOURCES = ("obama.jpg", "biden2.jpg", "astronaut.png", "coffee.png", "chelsea.png", "obama2.jpg")
MAGENTA = np.array([200, 30, 160], np.uint8)


def chroma(image: np.ndarray) -> np.ndarray:
    """Mean a*, b* of an RGB uint8 image."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2LAB).reshape(-1, 3)[:, 1:].astype(float).mean(0)


def examples(grade, count: int = 50) -> list[np.ndarray]:
    """``count`` crops of the fixture photos, each passed through ``grade``."""
    rng = np.random.default_rng(5)
    made = []
    for i in range(count):
        image = np.asarray(Image.open(PHOTOS / SOURCES[i % len(SOURCES)]).convert("RGB"))
        height, width = image.shape[:2]
        side = int(min(height, width) * rng.uniform(0.6, 1.0))
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        crop = cv2.resize(image[top : top + side, left : left + side], (192, 192))
        made.append(grade(crop))
    return made


def teal_and_orange(image: np.ndarray) -> np.ndarray:
    """A strong brand grade: teal shadows, orange highlights, and a magenta frame."""
    rgb = image.astype(np.float32) / 255.0
    light = rgb.mean(-1, keepdims=True)
    graded = (
        rgb * 0.7 + light * np.array([0.55, 0.3, 0.05]) + (1 - light) * np.array([0.0, 0.12, 0.18])
    )
    out = np.clip(graded * 255, 0, 255).astype(np.uint8)
    out[:14], out[-14:], out[:, :14], out[:, -14:] = MAGENTA, MAGENTA, MAGENTA, MAGENTA
    return out


def graded_colour() -> np.ndarray:
    """The examples' mean a*, b* inside their magenta frames (the frame goes to the backdrop)."""
    framed = examples(teal_and_orange, 12)
    return np.mean([chroma(np.ascontiguousarray(e[20:-20, 20:-20])) for e in framed], axis=0)


@pytest.fixture(scope="session")
def graded_style():
    return train_style([encode(e) for e in examples(teal_and_orange)])


@pytest.fixture(scope="session")
def cartoon_style():
    return train_style([encode(anime(e, 1.0)) for e in examples(lambda e: e)])


def test_the_learnt_grade_moves_colours_towards_the_examples(graded_style):
    look = custom_look(graded_style)
    target = graded_colour()
    photo = np.asarray(Image.open(PHOTOS / "lin-manuel-miranda.png").convert("RGB"))
    before = np.linalg.norm(chroma(photo) - target)
    after = np.linalg.norm(chroma(look.apply(photo)) - target)
    assert after < before * 0.7
    assert look.lut.shape == (17, 17, 17, 3) and look.tone.shape == (256,)
    assert np.all(np.diff(look.tone) >= 0)  # a tone curve never inverts


def test_the_backdrop_palette_comes_from_the_examples_borders(graded_style):
    palette = custom_look(graded_style).palette
    colours = [np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)]) for c in palette]
    assert min(np.abs(c - MAGENTA.astype(int)).max() for c in colours) < 40


def test_photographic_examples_build_on_a_photo_style(graded_style):
    meta = graded_style.meta
    assert graded_style.engine == "cpu" and graded_style.kind == "style"
    assert meta["example_count"] == 50
    assert meta["base_style"] in ("corporate_headshot", "editorial")
    assert custom_look(graded_style).style_vector is None


def test_illustrated_examples_learn_ink_and_a_neural_style(cartoon_style):
    look = custom_look(cartoon_style)
    assert look.base_style == "anime"
    assert look.edges > 0 or look.texture < 0
    assert look.style_vector is not None and look.style_vector.shape == (100,)
    assert 0 < look.neural_strength <= 1
    photo = np.asarray(Image.open(PHOTOS / "obama.jpg").convert("RGB"))
    styled = look.apply(photo)
    assert styled.shape == photo.shape and np.abs(styled.astype(int) - photo).mean() > 5


def test_a_portrait_takes_the_custom_look(graded_style):
    look = custom_look(graded_style)
    pipeline = PortraitPipeline()
    photo = (PHOTOS / "obama.jpg").read_bytes()
    plain = AvatarRequest(style=look.base_style, palette=look.palette, size=256, seed=1)
    styled = pipeline.generate(photo, AvatarRequest(**{**plain.__dict__, "look": look}))
    unstyled = pipeline.generate(photo, plain)
    assert "look" in styled.stage_ms and "look" not in unstyled.stage_ms
    target = graded_colour()
    assert np.linalg.norm(chroma(decode(styled.png)) - target) < np.linalg.norm(
        chroma(decode(unstyled.png)) - target
    )
    assert styled.face_in_output


def test_an_inference_uses_a_custom_style_by_its_token(cpu_subject, graded_style):
    request = InferenceRequest("smiling", "style_tok_123", seed=2)
    image = infer_subject(cpu_subject, request, custom_style=graded_style)[0]
    plain = infer_subject(cpu_subject, InferenceRequest("smiling", "corporate_headshot", seed=2))
    assert image.png != plain[0].png and image.likeness_score > 0.6


def test_each_try_of_a_portrait_is_stylised_afresh(cartoon_style, monkeypatch):
    """A retry lowers the classic style's intensity to win likeness back: the neural
    stylisation follows that try's image (one reused from the first try kept its strength)."""
    look = custom_look(cartoon_style)
    seen = []

    def counted(small, vector):
        seen.append(small.copy())
        return real(small, vector)

    real = cpu_style.stylise
    monkeypatch.setattr(cpu_style, "stylise", counted)
    photo = (PHOTOS / "obama.jpg").read_bytes()
    # A likeness no avatar reaches: every retry runs, each with the look.
    request = AvatarRequest(style=look.base_style, size=256, seed=1, likeness_threshold=0.999)
    result = PortraitPipeline().generate(photo, replace(request, look=look))
    assert result.attempts == 3 and "look" in result.stage_ms
    assert [s.shape for s in seen] == [(384, 384, 3)] * 3
    assert np.abs(seen[0].astype(int) - seen[2]).mean() > 2  # each try its own image


def test_the_neural_finish_blends_at_384_px_as_at_full_size(cartoon_style):
    """The stylisation's detail over the image's own colours, worked out at the network's
    384 px and enlarged, is what the same blend at full size gives, within a level or two."""
    look = custom_look(cartoon_style)
    photo = cv2.resize(np.asarray(Image.open(PHOTOS / "obama.jpg").convert("RGB")), (800, 800))
    small = cv2.resize(photo, (384, 384), interpolation=cv2.INTER_AREA)
    strength = look.neural_strength
    stylised = cpu_style.stylise(small, cpu_style.mixed_style(small, look.style_vector, strength))
    fast = cpu_style.neural_finish(photo, small, stylised, strength)

    original = photo.astype(np.float32) / 255.0
    enlarged = cv2.resize(stylised, (800, 800))
    base = cv2.GaussianBlur(original, (0, 0), 800 / 64)
    detail = enlarged - cv2.GaussianBlur(enlarged, (0, 0), 800 / 64)
    full = np.clip((original + (base + detail - original) * strength) * 255 + 0.5, 0, 255)
    assert np.abs(fast.astype(float) - full).mean() < 1.5
    assert np.abs(fast.astype(float) - photo).mean() > 3  # and the stylisation shows
