"""Reference sets derived from the fixture photos, and a tiny diffusion model, built once."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from tests.portrait.conftest import PHOTOS, decode, encode
from tests.portrait.conftest import photo_bytes as photo

__all__ = ["PHOTOS", "decode", "encode", "photo", "variants"]


def variants(name: str, count: int, mirror: bool = True) -> list[bytes]:
    """``count`` different photos of one fixture: crops, mirror images, brightness."""
    original = Image.open(PHOTOS / name).convert("RGB")
    made = []
    for i in range(count):
        image = ImageOps.mirror(original) if mirror and i % 2 else original
        width, height = image.size
        cut = 0.04 * i
        image = image.crop(
            (
                int(width * cut),
                int(height * cut * 0.5),
                int(width * (1 - cut * 0.5)),
                int(height * (1 - cut * 0.3)),
            )
        )
        image = ImageEnhance.Brightness(image).enhance(0.85 + 0.08 * i)
        made.append(encode(np.asarray(image), "JPEG", quality=90))
    return made


@pytest.fixture(scope="session")
def obama_set() -> list[bytes]:
    """Six photos of one man: three real ones and three derived."""
    return [photo("obama.jpg"), photo("obama2.jpg"), photo("obama3.jpg"), *variants("obama.jpg", 3)]


@pytest.fixture(scope="session")
def cpu_subject(obama_set):
    from generation.training import train_subject

    return train_subject(obama_set, "man")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    pytest.importorskip("diffusers")
    from generation.engines.diffusion.tiny import build_tiny_pipeline

    return str(build_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd")))
