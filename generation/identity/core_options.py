"""DiceBear's core options (flip, rotate, scale, translate, border radius,
gradient backgrounds) for the project's own styles.

Applied around the drawn layers in DiceBear's order: scale and flip about the
centre, then rotate, then translate, and the border radius clips everything,
background included. A range draws its value from the seed's own stream, so
the same seed and options give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generation.identity.color import shift_lightness
from generation.identity.prng import Prng

FLIPS = ("none", "horizontal", "vertical", "both")
FILLS = ("solid", "linear", "radial")
Range = tuple[float, float]

# The option descriptor of the own styles, in dicebear's OptionsDescriptor form,
# so one query parser serves both kinds of style.
OWN_STYLE_FIELDS: dict[str, dict[str, Any]] = {
    "seed": {"type": "string"},
    "size": {"type": "number", "min": 1, "max": 4096},
    "flip": {"type": "enum", "values": list(FLIPS), "list": True},
    "scale": {"type": "range", "min": 0, "max": 10},
    "borderRadius": {"type": "range", "min": 0, "max": 50},
    "rotate": {"type": "range", "min": -360, "max": 360},
    "translateX": {"type": "range", "min": -1000, "max": 1000},
    "translateY": {"type": "range", "min": -1000, "max": 1000},
    "backgroundColor": {"type": "color", "list": True},
    "backgroundColorFill": {"type": "enum", "values": list(FILLS), "list": True},
    "backgroundColorAngle": {"type": "range", "min": -360, "max": 360},
}


class CoreOptionError(ValueError):
    """A value outside what the option takes."""


@dataclass(frozen=True)
class CoreOptions:
    flip: tuple[str, ...] = ()
    scale: Range | None = None
    border_radius: Range | None = None
    rotate: Range | None = None
    translate_x: Range | None = None
    translate_y: Range | None = None
    background_fill: tuple[str, ...] = ()
    background_angle: Range | None = None

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> CoreOptions:
        """From parsed DiceBear-style options (numbers or [min, max] lists)."""

        def span(name: str) -> Range | None:
            value = options.get(name)
            if value is None:
                return None
            values = value if isinstance(value, list) else [value]
            if not values:
                return None
            low, high = float(min(values)), float(max(values))
            field = OWN_STYLE_FIELDS[name]
            if low < field["min"] or high > field["max"]:
                raise CoreOptionError(f"{name} takes {field['min']} to {field['max']}.")
            return (low, high)

        flip = tuple(options.get("flip", ()))
        fill = tuple(options.get("backgroundColorFill", ()))
        if any(f not in FLIPS for f in flip) or any(f not in FILLS for f in fill):
            raise CoreOptionError("flip or backgroundColorFill has an unknown value.")
        return cls(
            flip=flip,
            scale=span("scale"),
            border_radius=span("borderRadius"),
            rotate=span("rotate"),
            translate_x=span("translateX"),
            translate_y=span("translateY"),
            background_fill=fill,
            background_angle=span("backgroundColorAngle"),
        )

    @property
    def is_default(self) -> bool:
        return self == CoreOptions()


def _draw(prng: Prng, value: Range | None, default: float) -> float:
    return default if value is None else prng.uniform(*value)


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def background_paint(options: CoreOptions, prng: Prng, colour: str, canvas: int) -> tuple[str, str]:
    """(defs, fill) for the background: a solid colour, or a linear or radial
    gradient from it to a lighter tone of itself."""
    fill = prng.pick(options.background_fill) if options.background_fill else "solid"
    if fill == "solid":
        return "", colour
    end = shift_lightness(colour, 0.12)
    stops = f'<stop offset="0" stop-color="{colour}"/><stop offset="1" stop-color="{end}"/>'
    if fill == "radial":
        return f'<radialGradient id="bg">{stops}</radialGradient>', "url(#bg)"
    angle = _draw(prng, options.background_angle, 0.0)
    return (
        f'<linearGradient id="bg" gradientTransform="rotate({_number(angle)} 0.5 0.5)">'
        f"{stops}</linearGradient>",
        "url(#bg)",
    )


def wrap_body(options: CoreOptions, prng: Prng, body: str, canvas: int) -> str:
    """The layers wrapped in the option's transforms (DiceBear's order)."""
    centre = canvas / 2
    scale = _draw(prng, options.scale, 1.0)
    if scale != 1.0:
        body = (
            f'<g transform="translate({_number(centre)} {_number(centre)}) '
            f'scale({_number(scale)}) translate({_number(-centre)} {_number(-centre)})">'
            f"{body}</g>"
        )
    flip = prng.pick(options.flip) if options.flip else "none"
    if flip != "none":
        sx = -1 if flip in ("horizontal", "both") else 1
        sy = -1 if flip in ("vertical", "both") else 1
        tx = canvas if sx < 0 else 0
        ty = canvas if sy < 0 else 0
        body = f'<g transform="translate({tx} {ty}) scale({sx} {sy})">{body}</g>'
    rotate = _draw(prng, options.rotate, 0.0)
    if rotate:
        body = (
            f'<g transform="rotate({_number(rotate)} {_number(centre)} {_number(centre)})">'
            f"{body}</g>"
        )
    tx = _draw(prng, options.translate_x, 0.0) * canvas / 100
    ty = _draw(prng, options.translate_y, 0.0) * canvas / 100
    if tx or ty:
        body = f'<g transform="translate({_number(tx)} {_number(ty)})">{body}</g>'
    return body


def clip(options: CoreOptions, prng: Prng, content: str, canvas: int) -> tuple[str, str]:
    """(defs, content) with the content clipped to the canvas, rounded by the
    border radius (a percentage of the side, as in DiceBear)."""
    radius = _draw(prng, options.border_radius, 0.0) * canvas / 100
    rect = f'<rect width="{canvas}" height="{canvas}" rx="{_number(radius)}"/>'
    return f'<clipPath id="clip">{rect}</clipPath>', f'<g clip-path="url(#clip)">{content}</g>'
