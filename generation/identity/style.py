"""Style definitions: declarative JSON, validated and compiled for the renderer.

A definition names its colour slots (with contrast rules) and a stack of
layers. Layer types: `variants` (weighted SVG fragments with seeded
rotate/scale/translate ranges), `grid` (identicon and pixel patterns),
`rings` (concentric arc segments) and `initials` (text drawn as glyph paths).
Fragments reference colour slots as `{slot}`. Because definitions come from
the admin and end up in public SVG, fragments are parsed and anything that can
run script or fetch a resource is refused.
"""

import re
import string
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from generation.identity.palettes import PaletteError, PaletteSpec, normalise_hex, parse_palette

MAX_DEFINITION_LAYERS = 48
MAX_VARIANTS = 200
MAX_FRAGMENT_CHARS = 8000
CONTRAST_TEXT = 4.5
CONTRAST_GRAPHICS = 3.0
_FORBIDDEN_TAGS = {
    "script",
    "foreignobject",
    "image",
    "use",
    "iframe",
    "a",
    "style",
    "animate",
    "set",
}
_SLOT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class StyleDefinitionError(ValueError):
    """A style definition that cannot be rendered; the message says what to fix."""


@dataclass(frozen=True)
class ColourSlot:
    name: str
    source: str  # "palette", "list" or "derive"
    values: tuple[str, ...] = ()
    derive_from: str | None = None
    lightness_shift: float = 0.0
    tone: str = "any"  # palette slots: "light", "dark" or "any"
    contrast_against: str | None = None
    contrast_min: float = 0.0


@dataclass(frozen=True)
class Transform:
    rotate: tuple[float, float] = (0.0, 0.0)
    scale: tuple[float, float] = (1.0, 1.0)
    translate_x: tuple[float, float] = (0.0, 0.0)
    translate_y: tuple[float, float] = (0.0, 0.0)
    origin: tuple[float, float] = (50.0, 50.0)

    @property
    def is_identity(self) -> bool:
        return self == Transform(origin=self.origin)


@dataclass(frozen=True)
class VariantsLayer:
    name: str
    probability: float
    count: tuple[int, int]
    names: tuple[str, ...]
    templates: tuple[str, ...]
    cumulative: tuple[float, ...]
    transform: Transform
    same_choice_as: str | None = None


@dataclass(frozen=True)
class GridLayer:
    name: str
    cols: int
    rows: int
    mirror: bool
    fill: float
    colours: tuple[str, ...]
    margin: float
    cell: str  # "square", "circle" or "rounded"
    min_filled: int


@dataclass(frozen=True)
class RingsLayer:
    name: str
    rings: int
    segments: int
    inner: float
    outer: float
    gap: float
    fill: float
    colours: tuple[str, ...]


@dataclass(frozen=True)
class InitialsLayer:
    name: str
    colour: str
    font_size: float
    letters: int


Layer = VariantsLayer | GridLayer | RingsLayer | InitialsLayer


@dataclass(frozen=True)
class StyleDefinition:
    name: str
    category: str
    canvas: int
    palette: PaletteSpec
    slots: tuple[ColourSlot, ...]
    layers: tuple[Layer, ...]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise StyleDefinitionError(message)


def _number_range(value: Any, where: str, low: float, high: float) -> tuple[float, float]:
    if isinstance(value, int | float):
        value = [value, value]
    _require(
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and low <= v <= high for v in value)
        and value[0] <= value[1],
        f"{where}: a [min, max] pair within [{low}, {high}].",
    )
    return float(value[0]), float(value[1])


def _check_fragment(fragment: str, where: str, slots: set[str]) -> str:
    _require(isinstance(fragment, str), f"{where}: an SVG fragment string.")
    _require(len(fragment) <= MAX_FRAGMENT_CHARS, f"{where}: over {MAX_FRAGMENT_CHARS} characters.")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(fragment) if name is not None}
    except ValueError as exc:
        raise StyleDefinitionError(f"{where}: bad {{slot}} placeholder ({exc}).") from exc
    unknown = names - slots
    _require(not unknown, f"{where}: unknown colour slot(s) {', '.join(sorted(unknown))}.")
    filled = fragment.format_map({name: "#000000" for name in names})
    try:
        root = ET.fromstring(f'<g xmlns="http://www.w3.org/2000/svg">{filled}</g>')
    except ET.ParseError as exc:
        raise StyleDefinitionError(f"{where}: not well-formed SVG ({exc}).") from exc
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1].lower()
        _require(tag not in _FORBIDDEN_TAGS, f"{where}: <{tag}> is not allowed.")
        for attribute, value in element.attrib.items():
            local = attribute.rsplit("}", 1)[-1].lower()
            _require(not local.startswith("on"), f"{where}: event attribute {local} not allowed.")
            _require(
                local != "href" and "url(" not in value.replace("url(#", ""),
                f"{where}: external references are not allowed.",
            )
    return fragment


def _parse_slot(data: Any, index: int, known: set[str]) -> ColourSlot:
    where = f"colors[{index}]"
    _require(isinstance(data, dict), f"{where}: an object.")
    name = data.get("slot")
    _require(isinstance(name, str) and bool(_SLOT_NAME.match(name)), f"{where}: slot name.")
    _require(name not in known, f"{where}: slot {name!r} defined twice.")
    source = data.get("source", "palette")
    values: tuple[str, ...] = ()
    derive_from, shift = None, 0.0
    if source == "derive":
        derive_from = data.get("from")
        _require(derive_from in known, f"{where}.from: an earlier slot.")
        shift = data.get("lightness", 0)
        _require(isinstance(shift, int | float) and -1 <= shift <= 1, f"{where}.lightness: -1..1.")
    elif source == "list":
        raw = data.get("values")
        _require(isinstance(raw, list) and 1 <= len(raw) <= 64, f"{where}: 1-64 values.")
        try:
            values = tuple(normalise_hex(v) for v in raw)
        except (ValueError, AttributeError) as exc:
            raise StyleDefinitionError(f"{where}: {exc}") from exc
    else:
        _require(source == "palette", f"{where}: source is 'palette', 'list' or 'derive'.")
    tone = data.get("tone", "any")
    _require(tone in {"any", "light", "dark"}, f"{where}: tone is any, light or dark.")
    against, minimum = None, 0.0
    if "contrast" in data:
        rule = data["contrast"]
        _require(isinstance(rule, dict), f"{where}.contrast: an object.")
        against = rule.get("against")
        _require(against in known, f"{where}.contrast.against: an earlier slot.")
        minimum = rule.get("min")
        _require(
            isinstance(minimum, int | float) and 1 <= minimum <= 21, f"{where}.contrast.min: 1-21."
        )
    return ColourSlot(
        name=name,
        source=source,
        values=values,
        derive_from=derive_from,
        lightness_shift=float(shift),
        tone=tone,
        contrast_against=against,
        contrast_min=float(minimum),
    )


def _parse_transform(data: Any, where: str, canvas: int) -> Transform:
    if data is None:
        return Transform(origin=(canvas / 2, canvas / 2))
    _require(isinstance(data, dict), f"{where}: an object.")
    translate = data.get("translate", {})
    _require(isinstance(translate, dict), f"{where}.translate: an object with x and y.")
    origin = data.get("origin", [canvas / 2, canvas / 2])
    return Transform(
        rotate=_number_range(data.get("rotate", 0), f"{where}.rotate", -360, 360),
        scale=_number_range(data.get("scale", 1), f"{where}.scale", 0.05, 5),
        translate_x=_number_range(translate.get("x", 0), f"{where}.translate.x", -canvas, canvas),
        translate_y=_number_range(translate.get("y", 0), f"{where}.translate.y", -canvas, canvas),
        origin=_number_range(origin, f"{where}.origin", -canvas, 2 * canvas),
    )


def _slot_list(value: Any, where: str, slots: set[str]) -> tuple[str, ...]:
    _require(
        isinstance(value, list) and 1 <= len(value) <= 8 and all(v in slots for v in value),
        f"{where}: 1-8 declared colour slots.",
    )
    return tuple(value)


def _parse_layer(
    data: Any, index: int, slots: set[str], canvas: int, earlier: dict[str, "Layer"]
) -> Layer:
    where = f"layers[{index}]"
    _require(isinstance(data, dict), f"{where}: an object.")
    name = str(data.get("name", f"layer{index}"))
    kind = data.get("type", "variants")
    if kind == "variants":
        variants = data.get("variants")
        _require(
            isinstance(variants, list) and 1 <= len(variants) <= MAX_VARIANTS,
            f"{where}.variants: 1-{MAX_VARIANTS} variants.",
        )
        names, templates, weights = [], [], []
        for i, variant in enumerate(variants):
            vwhere = f"{where}.variants[{i}]"
            _require(isinstance(variant, dict), f"{vwhere}: an object.")
            weight = variant.get("weight", 1)
            _require(isinstance(weight, int | float) and weight > 0, f"{vwhere}.weight: > 0.")
            names.append(str(variant.get("name", i)))
            templates.append(_check_fragment(variant.get("svg", ""), f"{vwhere}.svg", slots))
            weights.append(float(weight))
        low, high = _number_range(data.get("count", 1), f"{where}.count", 1, 12)
        same = data.get("same_choice_as")
        if same is not None:
            leader = earlier.get(same)
            _require(
                isinstance(leader, VariantsLayer) and len(leader.names) == len(names),
                f"{where}.same_choice_as: an earlier variants layer with as many variants.",
            )
        return VariantsLayer(
            name=name,
            probability=_number_range(data.get("probability", 1), f"{where}.probability", 0, 1)[0],
            count=(int(low), int(high)),
            names=tuple(names),
            templates=tuple(templates),
            cumulative=tuple(accumulate(weights)),
            transform=_parse_transform(data.get("transform"), f"{where}.transform", canvas),
            same_choice_as=same,
        )
    if kind == "grid":
        cols, rows = data.get("cols", 5), data.get("rows", 5)
        _require(
            isinstance(cols, int) and isinstance(rows, int) and 2 <= cols <= 16 and 2 <= rows <= 16,
            f"{where}: cols and rows 2-16.",
        )
        cell = data.get("cell", "square")
        _require(cell in {"square", "circle", "rounded"}, f"{where}.cell: square/circle/rounded.")
        return GridLayer(
            name=name,
            cols=cols,
            rows=rows,
            mirror=bool(data.get("mirror", True)),
            fill=_number_range(data.get("fill", 0.5), f"{where}.fill", 0.05, 1)[0],
            colours=_slot_list(data.get("colors"), f"{where}.colors", slots),
            margin=_number_range(data.get("margin", 0), f"{where}.margin", 0, canvas / 3)[0],
            cell=cell,
            min_filled=int(
                _number_range(data.get("min_filled", 1), f"{where}.min_filled", 0, 64)[0]
            ),
        )
    if kind == "rings":
        rings, segments = data.get("rings", 3), data.get("segments", 8)
        _require(
            isinstance(rings, int)
            and isinstance(segments, int)
            and 1 <= rings <= 8
            and 2 <= segments <= 24,
            f"{where}: rings 1-8 and segments 2-24.",
        )
        inner, outer = _number_range(data.get("radius", [10, 45]), f"{where}.radius", 1, canvas)
        return RingsLayer(
            name=name,
            rings=rings,
            segments=segments,
            inner=inner,
            outer=outer,
            gap=_number_range(data.get("gap", 2), f"{where}.gap", 0, canvas / 4)[0],
            fill=_number_range(data.get("fill", 0.6), f"{where}.fill", 0.05, 1)[0],
            colours=_slot_list(data.get("colors"), f"{where}.colors", slots),
        )
    if kind == "initials":
        colour = data.get("color")
        _require(colour in slots, f"{where}.color: a declared colour slot.")
        letters = data.get("letters", 2)
        _require(isinstance(letters, int) and 1 <= letters <= 3, f"{where}.letters: 1-3.")
        return InitialsLayer(
            name=name,
            colour=colour,
            font_size=_number_range(data.get("font_size", 42), f"{where}.font_size", 4, canvas)[0],
            letters=letters,
        )
    raise StyleDefinitionError(f"{where}.type: variants, grid, rings or initials.")


def compile_definition(data: Any) -> StyleDefinition:
    """Validate a style definition and compile it for the renderer."""
    _require(isinstance(data, dict), "A style definition is a JSON object.")
    canvas = (
        data.get("canvas", {}).get("size", 100) if isinstance(data.get("canvas"), dict) else 100
    )
    _require(isinstance(canvas, int) and 16 <= canvas <= 1024, "canvas.size: 16-1024.")
    try:
        palette = parse_palette(data.get("palette", {"kind": "generated"}))
    except PaletteError as exc:
        raise StyleDefinitionError(f"palette: {exc}") from exc
    raw_slots = data.get("colors")
    _require(isinstance(raw_slots, list) and 1 <= len(raw_slots) <= 16, "colors: 1-16 slots.")
    slots: list[ColourSlot] = []
    for index, raw in enumerate(raw_slots):
        slots.append(_parse_slot(raw, index, {s.name for s in slots}))
    names = {s.name for s in slots}
    _require("background" in names, "colors: a 'background' slot is required.")
    raw_layers = data.get("layers")
    _require(
        isinstance(raw_layers, list) and 1 <= len(raw_layers) <= MAX_DEFINITION_LAYERS,
        f"layers: 1-{MAX_DEFINITION_LAYERS} layers.",
    )
    layers: dict[str, Layer] = {}
    for index, raw in enumerate(raw_layers):
        layer = _parse_layer(raw, index, names, canvas, layers)
        _require(layer.name not in layers, f"layers[{index}]: name {layer.name!r} used twice.")
        layers[layer.name] = layer
    return StyleDefinition(
        name=str(data.get("name", "")),
        category=str(data.get("category", "abstract")),
        canvas=canvas,
        palette=palette,
        slots=tuple(slots),
        layers=tuple(layers.values()),
    )
