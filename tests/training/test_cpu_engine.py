"""The CPU engine end to end on fixture photos: train, then render from prompts."""

from __future__ import annotations

import numpy as np
import pytest

from generation.portrait.likeness import CENTRE
from generation.training import (
    InferenceRequest,
    TrainingError,
    TrainingSettings,
    infer_subject,
    train_subject,
)
from generation.training.cpu_subject import REFERENCES, load_references
from generation.training.prompt import plan_prompt

from .conftest import decode, photo, variants


def test_training_keeps_ranked_aligned_references_not_the_photos(cpu_subject, obama_set):
    assert cpu_subject.engine == "cpu" and cpu_subject.kind == "subject"
    assert set(cpu_subject.files) == {REFERENCES}
    meta = cpu_subject.meta
    assert meta["subject_type"] == "man" and meta["photo_count"] == 6
    references, identity = load_references(cpu_subject)
    assert len(references) == meta["reference_count"] == 6
    assert identity.shape == (1, 128)
    quality = [r.quality for r in references]
    assert quality == sorted(quality, reverse=True)
    for ref in references:
        assert ref.portrait.image.shape == (768, 768, 3)
        assert ref.portrait.matte is not None and ref.portrait.matte.max() > 0.9
        assert np.linalg.norm(ref.embeddings[0] - identity[0]) < CENTRE
    stored = b"".join(cpu_subject.files.values())
    for original in obama_set:  # no photo is kept as it came
        assert original[1000:1400] not in stored


def test_training_reports_progress(obama_set):
    seen = []
    train_subject(obama_set[:5], "man", progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("photo 3 of 5" in m for _, m in seen)


def test_inference_renders_the_person_and_lists_what_it_could_not_draw(cpu_subject):
    request = InferenceRequest(
        "smiling portrait at golden hour wearing a tuxedo, neon background, blue",
        "anime",
        count=2,
        seed=4,
    )
    images = infer_subject(cpu_subject, request)
    assert len(images) == 2
    for image in images:
        pixels = decode(image.png)
        assert image.png.startswith(b"\x89PNG") and pixels.shape == (768, 768, 3)
        assert image.engine == "cpu"
        assert image.likeness_score is not None and image.likeness_score > 0.7
        assert image.ignored_prompt_terms == ["wearing a tuxedo"]
    assert images[0].png != images[1].png  # two references, two images


def test_the_same_seed_gives_the_same_images(cpu_subject):
    request = InferenceRequest("editorial, moody", "editorial", seed=11)
    first = infer_subject(cpu_subject, request)[0]
    again = infer_subject(cpu_subject, request)[0]
    assert first.png == again.png


def test_lighting_words_change_the_picture(cpu_subject):
    bright = infer_subject(cpu_subject, InferenceRequest("bright high key", "corporate_headshot"))
    dark = infer_subject(cpu_subject, InferenceRequest("dark low key", "corporate_headshot"))
    assert decode(bright[0].png).mean() > decode(dark[0].png).mean() + 15


def test_a_prompt_cannot_overrule_the_chosen_style(cpu_subject):
    images = infer_subject(cpu_subject, InferenceRequest("anime, on the moon", "editorial"))
    assert images[0].ignored_prompt_terms == ["moon", "anime"]


def test_prompt_vocabulary():
    plan = plan_prompt("Happy, studio portrait in pastel colours, riding a horse", "dramatic")
    assert plan.scene == "studio" and plan.palette is not None
    assert plan.ignored == ["riding a horse"]
    happy = plan_prompt("happy").grade
    assert plan.grade[0] > happy[0] and plan.grade[1] < happy[1]  # less drama than "happy" alone
    assert plan_prompt("a smiling woman").smiling


def test_unknown_style_and_missing_engine_are_refused(cpu_subject, obama_set):
    with pytest.raises(TrainingError) as caught:
        infer_subject(cpu_subject, InferenceRequest("", "watercolour"))
    assert caught.value.code == "unknown_style"
    with pytest.raises(TrainingError) as caught:
        train_subject(obama_set, "man", engine="diffusion")
    assert caught.value.code == "engine_unavailable"
    hostile_fields = [{"count": 9}, {"count": 0}, {"seed": -1}, {"seed": 2**40}]
    for hostile in [*hostile_fields, {"prompt": "x" * 1001}]:
        with pytest.raises(TrainingError) as caught:
            InferenceRequest(**{"prompt": "", "style": "anime", **hostile})
        assert caught.value.code == "bad_request"


def test_a_cat_model_renders_without_a_likeness():
    settings = TrainingSettings(reference_size=384)
    cats = variants("chelsea.png", 5, mirror=False)
    model = train_subject(cats, "cat", settings=settings)
    assert model.meta["subject_type"] == "cat"
    images = infer_subject(model, InferenceRequest("bright, neon background", "anime"))
    assert images[0].likeness_score is None
    # The fixture is a close-up: the cat keeps its own background, so no neon is drawn.
    assert images[0].ignored_prompt_terms == ["neon"]
    assert decode(images[0].png).shape == (384, 384, 3)


def test_a_couple_model_scores_both_people():
    settings = TrainingSettings(reference_size=512)
    pair = variants("obama_and_biden.jpg", 4) + [photo("two_people.jpg")]
    model = train_subject(pair, "couple", settings=settings)
    _, identity = load_references(model)
    assert identity.shape == (2, 128)
    image = infer_subject(model, InferenceRequest("warm", "corporate_headshot"))[0]
    assert image.likeness_score is not None and image.likeness_score > 0.5


def test_a_smiling_prompt_starts_from_the_smiling_photo():
    from generation.portrait.load import load_photo
    from generation.training.cpu_subject import _reference
    from generation.training.validate import CheckedPhoto, _inspect_single

    def smile(name: str) -> float:
        checked = CheckedPhoto(0, load_photo(photo(name)))
        assert _inspect_single(checked) is None
        return _reference(checked, "man", 256).smile

    # obama.jpg smiles; obama2.jpg talks (mouth open); obama3.jpg keeps a straight face.
    assert smile("obama.jpg") > max(smile("obama2.jpg"), smile("obama3.jpg"))


def test_damaged_or_mismatched_artifacts_are_refused(cpu_subject):
    from generation.training import ModelArtifacts, custom_look

    damaged = ModelArtifacts("cpu", {REFERENCES: b"PK\x03\x04 not a zip"}, dict(cpu_subject.meta))
    for artifacts in (damaged, ModelArtifacts("cpu", {}, {"kind": "style"})):
        with pytest.raises(TrainingError) as caught:
            infer_subject(artifacts, InferenceRequest("", "anime"))
        assert caught.value.code == "wrong_artifacts"
    with pytest.raises(TrainingError) as caught:
        custom_look(cpu_subject)  # a subject model is not a style
    assert caught.value.code == "wrong_artifacts"
