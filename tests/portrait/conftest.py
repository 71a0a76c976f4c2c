"""Shared fixtures: the real models, loaded once per test session, on real photos."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generation.portrait.pipeline import AvatarRequest, AvatarResult, PortraitPipeline

PHOTOS = Path(__file__).resolve().parent.parent / "fixtures" / "photos"


def photo_bytes(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def photo_array(name: str) -> np.ndarray:
    return np.asarray(Image.open(PHOTOS / name).convert("RGB"))


def encode(image: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, fmt, **options)
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture(scope="session")
def pipeline() -> PortraitPipeline:
    return PortraitPipeline()


@pytest.fixture(scope="session")
def avatars(pipeline):
    """Generate each (photo, style, platform) once per session, on demand."""
    made: dict[tuple, AvatarResult] = {}

    def make(name: str, style: str, platform: str = "linkedin", **options) -> AvatarResult:
        key = (name, style, platform, tuple(sorted(options.items())))
        if key not in made:
            request = AvatarRequest(
                style=style, platform=platform, request_id="test-request", **options
            )
            made[key] = pipeline.generate(photo_bytes(name), request)
        return made[key]

    return make
