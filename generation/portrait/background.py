"""BgGenerate: generated backgrounds per style, and compositing the person over them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

import cv2
import numpy as np

from generation.imaging.filters import wide_blur
from generation.imaging.state import Portrait

from .errors import PortraitError

RGB = tuple[float, float, float]
Background = Callable[[int, Sequence[RGB], np.random.Generator], np.ndarray]


def parse_palette(colours: Sequence[str]) -> tuple[RGB, ...]:
    """``["#1a2b3c", ...]`` to float RGB triples."""
    parsed = []
    for colour in colours:
        if not re.fullmatch(r"#?[0-9a-fA-F]{6}", colour.strip()):
            raise PortraitError("bad_palette", f"not a #rrggbb colour: {colour!r}")
        value = colour.strip().lstrip("#")
        parsed.append(tuple(int(value[i : i + 2], 16) / 255.0 for i in (0, 2, 4)))
    if not parsed:
        raise PortraitError("bad_palette", "the palette has no colours")
    return tuple(parsed)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    return np.meshgrid(axis, axis)


def _colour(palette: Sequence[RGB], index: int) -> np.ndarray:
    return np.array(palette[index % len(palette)], np.float32)


def _radial(size: int, inner: np.ndarray, outer: np.ndarray, centre=(0.5, 0.4), reach=0.75):
    x, y = _grid(size)
    distance = np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / reach
    t = np.clip(distance, 0.0, 1.0)[..., None] ** 1.5
    return inner * (1 - t) + outer * t


def _dither(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A least-significant-bit of noise, so smooth gradients do not band."""
    noise = rng.uniform(-1.0 / 255, 1.0 / 255, image.shape[:2]).astype(np.float32)
    return image + noise[..., None]


def _smooth(render: np.ndarray, size: int) -> np.ndarray:
    """Upscale a backdrop drawn small (it holds no fine detail)."""
    return cv2.resize(render, (size, size), interpolation=cv2.INTER_LINEAR)


def studio_gradient(size: int, palette: Sequence[RGB], rng: np.random.Generator) -> np.ndarray:
    """A seamless studio backdrop: a soft pool of light behind the head."""
    light, dark = _colour(palette, 0), _colour(palette, 1)
    return _dither(_smooth(_radial(size // 4, light, dark, reach=0.85), size), rng)


def neon_geometric(size: int, palette: Sequence[RGB], rng: np.random.Generator) -> np.ndarray:
    """A dark synthwave backdrop with glowing outlines of simple shapes."""
    x, y = _grid(size)
    base = _colour(palette, 0) * (1 - y[..., None]) + _colour(palette, 1) * y[..., None]
    lines = np.zeros((size, size, 3), np.float32)
    thickness = max(size // 220, 1)
    accents = palette[2:] or palette
    horizon = int(size * 0.72)
    for i in range(1, 9):  # perspective floor grid
        row = horizon + int((size - horizon) * (i / 8) ** 2)
        cv2.line(lines, (0, row), (size, row), _colour(accents, 0).tolist(), thickness, cv2.LINE_AA)
    for i in range(-8, 9):
        bottom = int(size / 2 + i * size / 5)
        cv2.line(
            lines,
            (size // 2 + i * size // 40, horizon),
            (bottom, size),
            _colour(accents, 0).tolist(),
            thickness,
            cv2.LINE_AA,
        )
    for k in range(7):
        colour = _colour(accents, k + 1).tolist()
        # Left or right of the head, never behind it.
        side = 1 if k % 2 else -1
        cx = int(size * (0.5 + side * rng.uniform(0.26, 0.45)))
        cy = int(size * rng.uniform(0.06, 0.6))
        radius = int(rng.uniform(0.04, 0.12) * size)
        if k % 3 == 0:
            cv2.circle(lines, (cx, cy), radius, colour, thickness * 2, cv2.LINE_AA)
        else:
            sides = 3 if k % 3 == 1 else 4
            turn = rng.uniform(0, np.pi)
            angles = turn + np.arange(sides) * 2 * np.pi / sides
            poly = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1)
            cv2.polylines(lines, [poly.astype(np.int32)], True, colour, thickness * 2, cv2.LINE_AA)
    glow = wide_blur(lines, size / 90)
    image = base + lines * 0.9 + glow * 1.6
    return _dither(np.clip(image, 0, 1), rng)


def deep_bokeh(size: int, palette: Sequence[RGB], rng: np.random.Generator) -> np.ndarray:
    """A dark, shallow-focus backdrop: out-of-focus points of light."""
    small = size // 2
    base = _radial(small, _colour(palette, 0), _colour(palette, 1), centre=(0.35, 0.35), reach=1.0)
    lights = np.zeros_like(base)
    accents = palette[2:] or palette
    for _ in range(46):
        cx, cy = rng.uniform(-0.05, 1.05, 2) * small
        radius = rng.uniform(0.015, 0.07) * small
        strength = rng.uniform(0.08, 0.45)
        colour = (_colour(accents, int(rng.integers(0, 1 << 16))) * strength).tolist()
        cv2.circle(lights, (int(cx), int(cy)), int(radius), colour, -1, cv2.LINE_AA)
    lights = cv2.GaussianBlur(lights, (0, 0), small / 350) + wide_blur(lights, small / 40)
    return _dither(_smooth(np.clip(base + lights, 0, 1), size), rng)


def place_on_background(
    portrait: Portrait, background: np.ndarray, shadow: float = 0.0
) -> Portrait:
    """Composite the person over ``background`` (uint8 RGB) with the feathered matte.

    ``shadow`` > 0 lets the person cast a soft shadow down and to the right
    on the backdrop, as under a studio key light: a cut-out stops looking pasted on.
    """
    assert portrait.matte is not None
    matte = portrait.matte
    if shadow > 0:
        background = _cast_shadow(background, matte, shadow)
    person = _decontaminate(portrait.image, matte)
    image = cv2.blendLinear(person, background, matte, 1.0 - matte)
    return replace(portrait, image=image)


def _cast_shadow(background: np.ndarray, matte: np.ndarray, strength: float) -> np.ndarray:
    size = matte.shape[0]
    small = size // 4
    shade = cv2.resize(matte, (small, small), interpolation=cv2.INTER_AREA)
    shift = np.float32([[1, 0, small * 0.025], [0, 1, small * 0.015]])
    shade = cv2.warpAffine(shade, shift, (small, small), borderMode=cv2.BORDER_REPLICATE)
    shade = cv2.GaussianBlur(shade, (0, 0), small / 28)
    light = 1.0 - strength * cv2.resize(shade, (size, size), interpolation=cv2.INTER_LINEAR)
    return cv2.blendLinear(background, np.zeros_like(background), light, 1.0 - light)


def _decontaminate(image: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """Replace the colour of the matte's soft edge with nearby solid-person colour.

    Edge pixels are a mix of person and the old background (a red flag leaves
    a red fringe); the person's own colour, spread outwards by normalised
    blurring, takes their place. Worked at quarter size: it is all smooth.
    """
    size = image.shape[0]
    small = size // 4
    solid = cv2.resize((matte > 0.97).astype(np.float32), (small, small), cv2.INTER_AREA)
    colour = cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA).astype(np.float32)
    spread = cv2.GaussianBlur(colour * solid[..., None], (0, 0), 3)
    weight = cv2.GaussianBlur(solid, (0, 0), 3)[..., None]
    estimate = np.clip(spread / np.maximum(weight, 1e-3), 0, 255).astype(np.uint8)
    estimate = cv2.resize(estimate, (size, size), interpolation=cv2.INTER_LINEAR)
    keep = np.clip((matte - 0.6) / 0.35, 0.0, 1.0)
    return cv2.blendLinear(image, estimate, keep, 1.0 - keep)
