"""Colours: sRGB hex <-> OKLCH, WCAG contrast, and contrast-driven lightness fixes.

OKLCH (Ottosson's OKLab in polar form) is perceptually even, so palettes built
by rotating hue at fixed lightness and chroma look balanced; WCAG relative
luminance decides whether a foreground reads against its background.
"""

import math
from functools import lru_cache

RGB = tuple[float, float, float]


def parse_hex(value: str) -> RGB:
    """'#1a2b3c' or '1a2b3c' (or 3-digit) -> sRGB floats in [0, 1]; ValueError otherwise."""
    text = value.strip().removeprefix("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    if len(text) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in text):
        raise ValueError(f"not a hex colour: {value!r}")
    return tuple(int(text[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def to_hex(rgb: RGB) -> str:
    return "#" + "".join(f"{round(min(1.0, max(0.0, c)) * 255):02x}" for c in rgb)


def _to_linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _from_linear(c: float) -> float:
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def _cbrt(x: float) -> float:
    return math.copysign(abs(x) ** (1 / 3), x)


def rgb_to_oklch(rgb: RGB) -> tuple[float, float, float]:
    r, g, b = (_to_linear(c) for c in rgb)
    l_ = _cbrt(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b)
    m_ = _cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b)
    s_ = _cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b)
    lightness = 0.2104542553 * l_ + 0.7936177850 * m_ - 0.0040720468 * s_
    a = 1.9779984951 * l_ - 2.4285922050 * m_ + 0.4505937099 * s_
    bb = 0.0259040371 * l_ + 0.7827717662 * m_ - 0.8086757660 * s_
    return lightness, math.hypot(a, bb), math.degrees(math.atan2(bb, a)) % 360.0


def _oklch_to_linear(lightness: float, chroma: float, hue: float) -> RGB:
    h = math.radians(hue)
    a, b = chroma * math.cos(h), chroma * math.sin(h)
    l_ = lightness + 0.3963377774 * a + 0.2158037573 * b
    m_ = lightness - 0.1055613458 * a - 0.0638541728 * b
    s_ = lightness - 0.0894841775 * a - 1.2914855480 * b
    lc, mc, sc = l_**3, m_**3, s_**3
    return (
        4.0767416621 * lc - 3.3077115913 * mc + 0.2309699292 * sc,
        -1.2684380046 * lc + 2.6097574011 * mc - 0.3413193965 * sc,
        -0.0041960863 * lc - 0.7034186147 * mc + 1.7076147010 * sc,
    )


def _in_gamut(linear: RGB) -> bool:
    return all(-1e-6 <= c <= 1.0 + 1e-6 for c in linear)


@lru_cache(maxsize=65536)
def oklch_to_hex(lightness: float, chroma: float, hue: float) -> str:
    """OKLCH -> '#rrggbb', reducing chroma (keeping lightness and hue) to fit sRGB."""
    lightness = min(1.0, max(0.0, lightness))
    linear = _oklch_to_linear(lightness, chroma, hue)
    if not _in_gamut(linear):
        low, high = 0.0, chroma
        for _ in range(18):
            mid = (low + high) / 2
            if _in_gamut(_oklch_to_linear(lightness, mid, hue)):
                low = mid
            else:
                high = mid
        linear = _oklch_to_linear(lightness, low, hue)
    return to_hex(tuple(_from_linear(min(1.0, max(0.0, c))) for c in linear))  # type: ignore[arg-type]


@lru_cache(maxsize=65536)
def relative_luminance(hex_colour: str) -> float:
    r, g, b = (_to_linear(c) for c in parse_hex(hex_colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio between two hex colours, in [1, 21]."""
    a, b = relative_luminance(first), relative_luminance(second)
    lighter, darker = max(a, b), min(a, b)
    return (lighter + 0.05) / (darker + 0.05)


@lru_cache(maxsize=65536)
def ensure_contrast(colour: str, against: str, minimum: float) -> str:
    """`colour`, or the nearest colour of its hue and chroma whose contrast with
    `against` is at least `minimum` (moving OKLCH lightness up or down, whichever
    is the smaller change that can reach it)."""
    if contrast_ratio(colour, against) >= minimum:
        return colour
    lightness, chroma, hue = rgb_to_oklch(parse_hex(colour))
    candidates = []
    for target in (1.0, 0.0):
        if contrast_ratio(oklch_to_hex(target, chroma, hue), against) < minimum:
            continue
        near, far = lightness, target
        for _ in range(24):
            mid = (near + far) / 2
            if contrast_ratio(oklch_to_hex(mid, chroma, hue), against) >= minimum:
                far = mid
            else:
                near = mid
        candidates.append((abs(far - lightness), oklch_to_hex(far, chroma, hue)))
    if not candidates:
        return (
            "#ffffff"
            if contrast_ratio("#ffffff", against) >= contrast_ratio("#000000", against)
            else "#000000"
        )
    return min(candidates)[1]


@lru_cache(maxsize=65536)
def shift_lightness(colour: str, shift: float) -> str:
    """The colour with its OKLCH lightness moved by `shift` (shades and highlights)."""
    lightness, chroma, hue = rgb_to_oklch(parse_hex(colour))
    return oklch_to_hex(lightness + shift, chroma, hue)
