"""Palettes: brand palettes (fixed colours) and generated harmonious palettes.

A generated palette draws a base hue (whole degrees, inside the palette's hue
range) and places the scheme's hues around it at fixed OKLCH lightness and
chroma levels, so every generated palette is balanced whatever its hue.
"""

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from generation.identity.color import oklch_to_hex, parse_hex, rgb_to_oklch
from generation.identity.prng import Prng

SCHEMES: dict[str, tuple[float, ...]] = {
    "analogous": (0.0, 30.0, -30.0),
    "complementary": (0.0, 180.0),
    "triadic": (0.0, 120.0, 240.0),
    "monochrome": (0.0,),
}
LIGHT_TONE_MIN = 0.7
MAX_BRAND_COLOURS = 32


class PaletteError(ValueError):
    """A palette definition that cannot be used."""


@dataclass(frozen=True)
class PaletteSpec:
    kind: str = "generated"
    colors: tuple[str, ...] = ()
    scheme: str = "analogous"
    hue_range: tuple[int, int] = (0, 359)
    lightness: tuple[float, ...] = (0.9, 0.78, 0.62, 0.45, 0.32)
    chroma: float = 0.13
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "brand":
            return {"kind": "brand", "colors": list(self.colors)}
        return {
            "kind": "generated",
            "scheme": self.scheme,
            "hue_range": list(self.hue_range),
            "lightness": list(self.lightness),
            "chroma": self.chroma,
        }


def parse_palette(data: dict[str, Any]) -> PaletteSpec:
    """Validate a palette definition (as stored in the admin) into a spec."""
    if not isinstance(data, dict):
        raise PaletteError("A palette definition is a JSON object.")
    kind = data.get("kind", "generated")
    if kind == "brand":
        colours = data.get("colors")
        if not isinstance(colours, list) or not 2 <= len(colours) <= MAX_BRAND_COLOURS:
            raise PaletteError(f"A brand palette lists 2 to {MAX_BRAND_COLOURS} colours.")
        try:
            normalised = tuple(normalise_hex(c) for c in colours)
        except (ValueError, AttributeError) as exc:
            raise PaletteError(str(exc)) from exc
        return PaletteSpec(kind="brand", colors=normalised)
    if kind != "generated":
        raise PaletteError("A palette's kind is 'brand' or 'generated'.")
    scheme = data.get("scheme", "analogous")
    if scheme not in SCHEMES:
        raise PaletteError(f"Unknown scheme {scheme!r}; choose one of {', '.join(SCHEMES)}.")
    hue_range = data.get("hue_range", [0, 359])
    lightness = data.get("lightness", list(PaletteSpec.lightness))
    chroma = data.get("chroma", PaletteSpec.chroma)
    valid = (
        isinstance(hue_range, list)
        and len(hue_range) == 2
        and all(isinstance(h, int) and 0 <= h <= 720 for h in hue_range)
        and hue_range[0] <= hue_range[1]
        and isinstance(lightness, list)
        and 2 <= len(lightness) <= 8
        and all(isinstance(x, int | float) and 0.05 <= x <= 0.98 for x in lightness)
        and isinstance(chroma, int | float)
        and 0 <= chroma <= 0.37
    )
    if not valid:
        raise PaletteError(
            "A generated palette needs hue_range [low, high] in whole degrees, 2-8 lightness "
            "levels in [0.05, 0.98] and a chroma in [0, 0.37]."
        )
    return PaletteSpec(
        kind="generated",
        scheme=scheme,
        hue_range=(hue_range[0], hue_range[1]),
        lightness=tuple(float(x) for x in lightness),
        chroma=float(chroma),
    )


def normalise_hex(value: str) -> str:
    """Normalise a user-given hex colour to '#rrggbb'."""
    r, g, b = parse_hex(value)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))


@lru_cache(maxsize=8192)
def generated_colours(spec: PaletteSpec, hue: int) -> tuple[str, ...]:
    colours = []
    for offset in SCHEMES[spec.scheme]:
        for lightness in spec.lightness:
            colours.append(oklch_to_hex(lightness, spec.chroma, (hue + offset) % 360))
    return tuple(dict.fromkeys(colours))


def draw_palette(spec: PaletteSpec, prng: Prng) -> tuple[str, ...]:
    """The colours this seed gets from the palette."""
    if spec.kind == "brand":
        return spec.colors
    return generated_colours(spec, prng.integer(spec.hue_range[0], spec.hue_range[1]) % 360)


@lru_cache(maxsize=65536)
def is_light(colour: str) -> bool:
    return rgb_to_oklch(parse_hex(colour))[0] >= LIGHT_TONE_MIN
