"""BgGenerate: generated backgrounds per style, and compositing the person over them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cache

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


@cache
def _noise(size: int) -> np.ndarray:
    """One fixed pattern of a least-significant-bit of noise (read-only)."""
    noise = np.random.default_rng(255).uniform(-1.0 / 255, 1.0 / 255, (size, size, 1))
    noise = noise.astype(np.float32)
    noise.setflags(write=False)
    return noise


def _dither(image: np.ndarray) -> np.ndarray:
    """A least-significant-bit of noise, so smooth gradients do not band."""
    return image + _noise(image.shape[0])


def _smooth(render: np.ndarray, size: int) -> np.ndarray:
    """Upscale a backdrop drawn small (it holds no fine detail)."""
    return cv2.resize(render, (size, size), interpolation=cv2.INTER_LINEAR)


def _mottle(size: int, rng: np.random.Generator, cells: int) -> np.ndarray:
    """Smooth low-frequency noise in [-1, 1]: the uneven paint of a canvas backdrop."""
    coarse = rng.uniform(-1.0, 1.0, (cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def studio_gradient(size: int, palette: Sequence[RGB], rng: np.random.Generator) -> np.ndarray:
    """A studio backdrop lit by a soft light: where the pool of light falls, how wide
    and how fast it falls off, the floor's shade and the canvas's mottling vary by seed."""
    light, dark = _colour(palette, 0), _colour(palette, 1)
    small = max(size // 4, 16)
    x, y = _grid(small)
    cx, cy = rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.45)
    reach = rng.uniform(0.65, 1.1)
    aspect = rng.uniform(0.7, 1.3)  # a round pool or a wider sweep of light
    distance = np.sqrt(((x - cx) * aspect) ** 2 + (y - cy) ** 2) / reach
    t = np.clip(distance, 0.0, 1.0) ** rng.uniform(1.2, 2.2)
    floor = rng.uniform(0.0, 0.35) * np.clip((y - 0.55) / 0.45, 0.0, 1.0) ** 2
    t = np.clip(t + floor + rng.uniform(0.02, 0.06) * _mottle(small, rng, 5), 0.0, 1.0)
    image = light * (1 - t[..., None]) + dark * t[..., None]
    return _dither(_smooth(image, size))


def _keep_clear(rng: np.random.Generator, size: int) -> tuple[int, int]:
    """A point left or right of where the head sits, or high above it."""
    side = rng.choice((-1.0, 1.0))
    x = 0.5 + side * rng.uniform(0.27, 0.47)
    return int(size * x), int(size * rng.uniform(0.04, 0.62))


def _shape(
    canvas: np.ndarray, rng: np.random.Generator, size: int, colour: list, width: int
) -> None:
    """One glowing outline: a ring, polygon, zigzag or a pair of bars."""
    cx, cy = _keep_clear(rng, size)
    radius = rng.uniform(0.03, 0.11) * size
    kind = rng.integers(0, 5)
    turn = rng.uniform(0, np.pi)
    if kind == 0:
        cv2.circle(canvas, (cx, cy), int(radius), colour, width, cv2.LINE_AA)
    elif kind in (1, 2):
        sides = (3, 4, 6)[int(rng.integers(0, 3))]
        angles = turn + np.arange(sides) * 2 * np.pi / sides
        poly = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], 1)
        cv2.polylines(canvas, [poly.astype(np.int32)], True, colour, width, cv2.LINE_AA)
    elif kind == 3:
        steps = int(rng.integers(3, 6))
        xs = cx + np.linspace(-radius, radius, steps * 2 + 1)
        ys = cy + np.where(np.arange(steps * 2 + 1) % 2, -1, 1) * radius * 0.3
        cv2.polylines(canvas, [np.stack([xs, ys], 1).astype(np.int32)], False, colour, width)
    else:
        dx, dy = radius * np.cos(turn), radius * np.sin(turn)
        for k in (-1, 1):
            ox, oy = cx - dy * 0.25 * k, cy + dx * 0.25 * k
            start, end = (int(ox - dx), int(oy - dy)), (int(ox + dx), int(oy + dy))
            cv2.line(canvas, start, end, colour, width, cv2.LINE_AA)


def neon_geometric(size: int, palette: Sequence[RGB], rng: np.random.Generator) -> np.ndarray:
    """A night scene of neon: the seed picks which elements appear (a striped sun, a
    perspective floor grid, a skyline, stars, floating outlines) and where.

    Drawn at half size: neon is all glow, and upscaling softens nothing that shows."""
    final, size = size, max(size // 2, 16)
    x, y = _grid(size)
    base = _colour(palette, 0) * (1 - y[..., None]) + _colour(palette, 1) * y[..., None]
    lines = np.zeros((size, size, 3), np.float32)
    glow_only = np.zeros_like(lines)
    width = max(size // 160, 1)
    accents = palette[2:] or palette
    order = rng.permutation(len(accents))

    def accent(k: int) -> list:
        return _colour(accents, int(order[k % len(order)])).tolist()

    horizon = int(size * rng.uniform(0.62, 0.8))
    if rng.random() < 0.6:  # a striped synthwave sun sinking at the horizon
        sx = int(size * rng.uniform(0.15, 0.85))
        radius = int(size * rng.uniform(0.14, 0.26))
        sun = np.zeros((size, size), np.float32)
        cv2.circle(sun, (sx, horizon), radius, 1.0, -1, cv2.LINE_AA)
        # Stripes cut across the lower half, thickening towards the horizon.
        rows = np.arange(size, dtype=np.float32) - (horizon - radius * 0.5)
        period = max(radius / 5, 3.0)
        cut = (rows >= 0) & (rows % period < np.clip(rows / (radius * 0.5), 0, 1) * period * 0.5)
        sun[cut] = 0.0
        sun[horizon:] = 0.0
        top, bottom = np.array(accent(0), np.float32), np.array(accent(1), np.float32)
        fade = np.clip((y - (horizon - radius) / size) * size / max(radius, 1), 0, 1)[..., None]
        glow_only += sun[..., None] * (top * (1 - fade) + bottom * fade) * 0.55
    if rng.random() < 0.5:  # a city skyline along the horizon, windows lit
        left = 0
        while left < size:
            w = int(size * rng.uniform(0.04, 0.09))
            h = int(size * rng.uniform(0.06, 0.22))
            cv2.rectangle(base, (left, horizon - h), (left + w, horizon), (0.02, 0.01, 0.05), -1)
            for _ in range(int(rng.integers(2, 7))):
                wx = left + int(rng.uniform(0.15, 0.8) * w)
                wy = horizon - int(rng.uniform(0.1, 0.9) * h)
                cv2.rectangle(glow_only, (wx, wy), (wx + width * 2, wy + width * 3), accent(2), -1)
            left += w + int(size * rng.uniform(0.0, 0.02))
    if rng.random() < 0.75:  # a perspective floor grid
        vanish = int(size * rng.uniform(0.3, 0.7))
        for i in range(1, 9):
            row = horizon + int((size - horizon) * (i / 8) ** 2)
            cv2.line(lines, (0, row), (size, row), accent(3), width, cv2.LINE_AA)
        for i in range(-8, 9):
            cv2.line(
                lines,
                (vanish, horizon),
                (int(size / 2 + i * size / 5), size),
                accent(3),
                width,
                cv2.LINE_AA,
            )
    for _ in range(int(rng.integers(10, 60))):  # stars
        sx, sy = int(rng.uniform(0, size)), int(rng.uniform(0, horizon * 0.8))
        cv2.circle(glow_only, (sx, sy), width, (0.9, 0.9, 1.0), -1, cv2.LINE_AA)
    for k in range(int(rng.integers(3, 8))):
        _shape(lines, rng, size, accent(k + 4), width * 2)
    glow = wide_blur(lines + glow_only, size / 90)
    image = base + lines * 0.9 + glow_only + glow * 1.6
    return _dither(_smooth(np.clip(image, 0, 1), final))


def deep_bokeh(size: int, palette: Sequence[RGB], rng: np.random.Generator) -> np.ndarray:
    """A dark, shallow-focus backdrop: out-of-focus lights whose number, spread (a
    string of lights or a scatter), sizes, colours and brightness vary by seed."""
    small = max(size // 3, 16)
    centre = (rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.5))
    base = _radial(small, _colour(palette, 0), _colour(palette, 1), centre=centre, reach=1.0)
    lights = np.zeros_like(base)
    accents = palette[2:] or palette
    weights = rng.dirichlet(np.ones(len(accents)))  # this scene's mix of light colours
    count = int(rng.integers(25, 60))
    band = rng.uniform(0.1, 0.7) if rng.random() < 0.5 else None  # string lights
    smallest, largest = rng.uniform(0.01, 0.025), rng.uniform(0.045, 0.1)
    for _ in range(count):
        cx = rng.uniform(-0.05, 1.05)
        cy = rng.normal(band, 0.08) if band is not None else rng.uniform(-0.05, 1.05)
        radius = rng.uniform(smallest, largest) * small
        strength = rng.uniform(0.08, 0.5)
        tint = _colour(accents, int(rng.choice(len(accents), p=weights)))
        centre_px = (int(cx * small), int(cy * small))
        cv2.circle(lights, centre_px, int(radius), (tint * strength).tolist(), -1, cv2.LINE_AA)
        # A lens's bokeh disc is a little brighter at its rim.
        rim = (tint * strength * 0.35).tolist()
        cv2.circle(lights, centre_px, int(radius), rim, max(int(radius * 0.12), 1), cv2.LINE_AA)
    lights = cv2.GaussianBlur(lights, (0, 0), small / 400) + wide_blur(lights, small / 40)
    return _dither(_smooth(np.clip(base + lights, 0, 1), size))


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
    """The person's own colour at the matte's soft edge, without the old background.

    An edge pixel mixes person and old background (a red flag leaves a red
    fringe on dark hair). Its colour is pulled towards the nearest sure-person
    colour (spread outwards by normalised blurring, over a few pixels so hair
    stays hair), the more the more of it is background. Worked at half size.
    """
    size = image.shape[0]
    half = max(size // 2, 8)
    small = cv2.resize(image, (half, half), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = cv2.resize(matte, (half, half), interpolation=cv2.INTER_AREA)
    solid = (alpha > 0.9).astype(np.float32)
    sigma = half / 150
    total = cv2.GaussianBlur(small * solid[..., None], (0, 0), sigma)
    seen = cv2.GaussianBlur(solid, (0, 0), sigma)
    nearby = (
        cv2.GaussianBlur(total, (0, 0), sigma * 2)
        / np.maximum(cv2.GaussianBlur(seen, (0, 0), sigma * 2), 1e-4)[..., None]
    )
    pull = (1.0 - np.clip(alpha, 0.0, 1.0) ** 2) * (alpha > 0.01)
    correction = (nearby - small) * pull[..., None]
    correction = cv2.resize(correction, (size, size), interpolation=cv2.INTER_LINEAR)
    return np.clip(image + correction, 0, 255).astype(np.uint8)
