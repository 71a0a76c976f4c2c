"""Reference sets derived from the fixture photos, and a tiny diffusion model, built once."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

PHOTOS = Path(__file__).resolve().parent.parent / "fixtures" / "photos"


def photo(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


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


def encode(image: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, fmt, **options)
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


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
