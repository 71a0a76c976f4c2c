"""The diffusion engine end to end on a tiny random Stable Diffusion model: train LoRAs, save
them as bytes, load them into a fresh pipeline, infer (seeded)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("diffusers")

from generation.engines.diffusion.engine import STYLE_LORA, SUBJECT_LORA, beyond_token_limit
from generation.engines.diffusion.lora import load_adapter
from generation.engines.diffusion.runtime import load_pipeline, shared_pipeline
from generation.training import (
    InferenceRequest,
    TrainingError,
    TrainingSettings,
    available_engines,
    custom_look,
    infer_subject,
    train_style,
    train_subject,
)

from .conftest import decode, encode

pytestmark = pytest.mark.slow


def tiny_settings(folder: str, **changes) -> TrainingSettings:
    """Settings sized for a tiny model: 64 px, a few steps, a high learning rate."""
    base = {
        "diffusion_model_dir": folder,
        "device": "cpu",
        "resolution": 64,
        "train_steps": 4,
        "inference_steps": 2,
        "reference_size": 192,
        "learning_rate": 5e-3,
        "batch_size": 2,
    }
    return TrainingSettings(**{**base, **changes})


@pytest.fixture(scope="module")
def tiny(tiny_model_dir) -> TrainingSettings:
    return tiny_settings(tiny_model_dir)


@pytest.fixture(scope="module")
def trained(obama_set, tiny):
    seen: list[tuple[float, str]] = []
    model = train_subject(
        obama_set[:5],
        "man",
        engine="diffusion",
        settings=tiny,
        progress=lambda *report: seen.append(report),
    )
    return model, seen


def test_the_engine_is_offered_only_with_a_model_folder(tiny_model_dir, tmp_path):
    assert available_engines(tiny_model_dir) == ["cpu", "diffusion"]
    assert available_engines(None) == ["cpu"]
    assert available_engines(str(tmp_path)) == ["cpu"]


def test_training_makes_a_subject_lora_with_progress_per_step(trained):
    model, seen = trained
    assert model.engine == "diffusion" and model.kind == "subject"
    assert set(model.files) == {"references.npz", SUBJECT_LORA}
    assert model.meta["token"] == "sks" and model.meta["class_noun"] == "man"
    from safetensors.torch import load

    layers = load(model.files[SUBJECT_LORA])
    assert layers and all("lora" in name for name in layers)
    steps = [m for _, m in seen if "step" in m]
    assert [s.split(" (")[0] for s in steps] == [f"training: step {i} of 4" for i in range(1, 5)]
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)


def test_a_fresh_pipeline_loads_the_saved_lora_and_draws_differently(trained, tiny_model_dir):
    import torch

    model, _ = trained
    fresh = load_pipeline(tiny_model_dir, "cpu")

    def draw():
        generator = torch.Generator().manual_seed(0)
        out = fresh("a photo of sks man", num_inference_steps=2, generator=generator)
        return np.asarray(out.images[0], np.float32) / 255.0

    base = draw()
    load_adapter(fresh, model.files[SUBJECT_LORA], "subject")
    tuned = draw()
    assert base.shape == tuned.shape == (64, 64, 3)
    assert np.abs(base - tuned).max() > 1e-3


def test_inference_is_seeded_and_reports_each_step(trained, tiny):
    model, _ = trained
    shared_pipeline.cache_clear()  # inference loads the model afresh from its folder
    seen: list[str] = []
    request = InferenceRequest("smiling, in a park", "anime", count=2, seed=7)
    first = infer_subject(model, request, settings=tiny, progress=lambda f, m: seen.append(m))
    again = infer_subject(model, request, settings=tiny)
    other = infer_subject(model, replace(request, seed=8), settings=tiny)
    assert [i.png for i in first] == [i.png for i in again]
    assert first[0].png != first[1].png and first[0].png != other[0].png
    for image in first:
        assert image.engine == "diffusion" and decode(image.png).shape == (64, 64, 3)
        assert 0.0 <= image.likeness_score <= 1.0
        assert image.ignored_prompt_terms == []
    # A portrait style starts image-to-image from the aligned face: strength 0.6 of 2 steps.
    assert seen == ["image 1 of 2: step 1 of 1", "image 2 of 2: step 1 of 1", "done"]


def test_style_auto_lets_the_prompt_decide(trained, tiny):
    model, _ = trained
    named = InferenceRequest("anime, in a park", "anime", seed=4)
    by_prompt = infer_subject(model, replace(named, style="auto"), settings=tiny)[0]
    assert by_prompt.png == infer_subject(model, named, settings=tiny)[0].png
    plain = InferenceRequest("smiling", "auto", seed=4)  # no style word: a plain portrait
    for style in ("auto", ""):
        image = infer_subject(model, replace(plain, style=style), settings=tiny)[0]
        assert image.engine == "diffusion" and decode(image.png).shape == (64, 64, 3)
    with pytest.raises(TrainingError) as refused:
        infer_subject(model, replace(plain, style="watercolour"), settings=tiny)
    assert refused.value.code == "unknown_style"


def test_a_diffusion_style_lora_joins_the_subject(trained, tiny):
    model, _ = trained
    rng = np.random.default_rng(3)
    examples = [encode(rng.integers(0, 256, (72, 72, 3), dtype=np.uint8)) for _ in range(50)]
    style = train_style(examples, engine="diffusion", settings=tiny)
    assert style.kind == "style" and STYLE_LORA in style.files and "look.npz" in style.files
    assert custom_look(style).lut.shape == (17, 17, 17, 3)  # the CPU look travels with it
    request = InferenceRequest("", "house_style", seed=1)
    styled = infer_subject(model, request, custom_style=style, settings=tiny)[0]
    plain = infer_subject(model, replace(request, style="anime"), settings=tiny)[0]
    assert styled.png != plain.png


def test_a_diffusion_model_also_renders_on_the_cpu(trained):
    model, _ = trained
    image = infer_subject(model, InferenceRequest("bright", "corporate_headshot"), engine="cpu")[0]
    assert image.engine == "cpu" and image.likeness_score > 0.7


def test_words_past_the_token_limit_are_named(tiny):
    text, _ = shared_pipeline(tiny.diffusion_model_dir, "cpu")
    assert beyond_token_limit(text.tokenizer, "a short prompt") == []
    # The tiny tokenizer spends a token per letter: 75 fit, so 15 five-letter words.
    words = [f"w{i:03d}x" for i in range(30)]
    assert beyond_token_limit(text.tokenizer, " ".join(words)) == words[15:]


def test_an_sdxl_model_trains_and_infers_the_same_way(obama_set, tmp_path):
    from generation.engines.diffusion.tiny import build_tiny_pipeline

    folder = str(build_tiny_pipeline(tmp_path / "tiny-xl", xl=True))
    settings = tiny_settings(folder, train_steps=2)
    model = train_subject(obama_set[:5], "man", engine="diffusion", settings=settings)
    assert SUBJECT_LORA in model.files
    request = InferenceRequest("smiling", "auto", seed=3)
    first = infer_subject(model, request, settings=settings)[0]
    assert first.png == infer_subject(model, request, settings=settings)[0].png
    assert decode(first.png).shape == (64, 64, 3)
