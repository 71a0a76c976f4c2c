"""DiceBear styles as data: definitions from the `dicebear-styles` package,
drawn by `dicebear-core`, with DiceBear's HTTP query options parsed and
validated against each style's option descriptor.

Plain Python (no Django). A DiceBear definition is told from the project's
own format by its `canvas` and `components` keys; both kinds are stored as
immutable style versions the same way.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from dicebear import Avatar, OptionsDescriptor, Style
from dicebear.errors import ValidationError as DiceBearValidationError
from dicebear.validator import OptionsValidator

from generation.identity.color import contrast_ratio, ensure_contrast, relative_luminance

CORE_VERSION = f"dicebear-core-{importlib.metadata.version('dicebear-core')}"
SLUG_PREFIX = "dicebear-"
# DiceBear 9's HTTP API had these; 10 renders the same with other names.
LEGACY_BACKGROUND_TYPES = {"solid": "solid", "gradientLinear": "linear"}
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
MAX_QUERY_VALUE = 1024


class DiceBearOptionError(ValueError):
    """A query option DiceBear would refuse; `code` is the API's stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_dicebear_definition(definition: dict[str, Any]) -> bool:
    return isinstance(definition, dict) and "canvas" in definition and "components" in definition


def shipped_names() -> list[str]:
    """The DiceBear style names in the installed `dicebear-styles` package."""
    folder = files("dicebear_styles")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def shipped_definition(name: str) -> dict[str, Any]:
    return json.loads(files("dicebear_styles").joinpath(f"{name}.json").read_text("utf-8"))


@dataclass(frozen=True)
class License:
    name: str
    url: str
    attribution: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "url": self.url, "attribution": self.attribution}


def license_of(definition: dict[str, Any]) -> License | None:
    """The licence named in a definition's `meta` (DiceBear and own styles alike)."""
    meta = definition.get("meta") if isinstance(definition, dict) else None
    raw = meta.get("license") if isinstance(meta, dict) else None
    if not isinstance(raw, dict) or not raw.get("name"):
        return None
    return License(
        name=str(raw["name"]), url=str(raw.get("url", "")), attribution=str(raw.get("text", ""))
    )


def requires_credit(licence: License | None) -> bool:
    """CC BY needs its credit line shown wherever the style is shown."""
    return licence is not None and licence.name.upper().startswith("CC BY")


class PublishedStyle(Style):
    """A dicebear-core Style for a definition already validated when it was
    published: JSON Schema validation of the larger definitions takes seconds,
    and a stored version never changes. Relies on dicebear-core 10.7's
    constructor (pinned); the byte-identity tests hold it to the library's
    own output."""

    def __init__(self, data: Any) -> None:
        self._data = copy.deepcopy(data)
        self._meta = self._canvas = self._components = self._colors = None
        self._validate_aliases()


class DiceBearStyle:
    """A DiceBear definition with its option descriptor, built once.

    published: the definition was validated when it was stored (skip the
    schema check); otherwise it is validated here, as the admin does."""

    def __init__(self, definition: dict[str, Any], *, published: bool = False) -> None:
        self.definition = definition
        self.style = PublishedStyle(definition) if published else Style(definition)
        self.fields: dict[str, dict[str, Any]] = OptionsDescriptor(self.style).to_json()
        self.draws_initials = _uses_initials(definition)

    def colour_names(self) -> list[str]:
        return [name[: -len("Color")] for name in self.fields if name.endswith("Color")]

    def render(self, options: dict[str, Any]) -> str:
        """The SVG `dicebear-core` draws for these options (validated by it)."""
        try:
            return Avatar(self.style, options).to_string()
        except DiceBearValidationError as exc:
            raise DiceBearOptionError("invalid_option", str(exc)) from None

    def to_json(self, options: dict[str, Any]) -> dict[str, Any]:
        try:
            return Avatar(self.style, options).to_json()
        except DiceBearValidationError as exc:
            raise DiceBearOptionError("invalid_option", str(exc)) from None

    def parse_query(self, query: dict[str, str]) -> dict[str, Any]:
        """This style's options from DiceBear HTTP query parameters, checked
        against DiceBear's options schema."""
        options = parse_query(self.fields, query)
        try:
            OptionsValidator.validate(options)
        except DiceBearValidationError as exc:
            raise DiceBearOptionError("invalid_option", str(exc)) from None
        return options


def parse_query(fields: dict[str, dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    """DiceBear HTTP query parameters (strings, lists comma-separated) as typed
    options, given a style's option descriptor; names it lacks are refused."""
    options: dict[str, Any] = {}
    for name, raw in query.items():
        if len(raw) > MAX_QUERY_VALUE:
            raise DiceBearOptionError("invalid_option", f"{name} is too long.")
        if "\x00" in raw or "\x00" in name:
            raise DiceBearOptionError("invalid_option", f"{name!r} contains a NUL character.")
        if name == "backgroundType":
            options["backgroundColorFill"] = _legacy_background_type(raw)
            continue
        if name == "clip":
            # DiceBear 10 always clips to the canvas; 9's switch is accepted.
            _parse_bool(name, raw)
            continue
        field = fields.get(name)
        if field is None:
            raise DiceBearOptionError("unknown_option", f"{name} is not an option of the style.")
        options[name] = _parse_value(name, raw, field)
    return options


def _uses_initials(node: Any) -> bool:
    """Whether a definition draws the seed's initials (its seed is a name)."""
    if isinstance(node, dict):
        if node.get("type") == "variable" and node.get("name") in ("initial", "initials"):
            return True
        return any(_uses_initials(v) for v in node.values())
    if isinstance(node, list):
        return any(_uses_initials(v) for v in node)
    return False


def _legacy_background_type(raw: str) -> list[str]:
    values = [v for v in raw.split(",") if v]
    unknown = [v for v in values if v not in LEGACY_BACKGROUND_TYPES]
    if unknown or not values:
        raise DiceBearOptionError(
            "invalid_option", "backgroundType takes solid or gradientLinear (comma-separated)."
        )
    return [LEGACY_BACKGROUND_TYPES[v] for v in values]


def _parse_bool(name: str, raw: str) -> bool:
    if raw in ("true", "1", ""):
        return True
    if raw in ("false", "0"):
        return False
    raise DiceBearOptionError("invalid_option", f"{name} takes true or false.")


def _parse_number(name: str, raw: str) -> int | float:
    if not _NUMBER.match(raw):
        raise DiceBearOptionError("invalid_option", f"{name} takes a number, not {raw!r}.")
    value = float(raw)
    if not math.isfinite(value):
        raise DiceBearOptionError("invalid_option", f"{name} takes a finite number.")
    return int(value) if value.is_integer() and "." not in raw else value


def _parse_value(name: str, raw: str, field: dict[str, Any]) -> Any:
    kind = field["type"]
    if kind == "string":
        return raw.split(",") if field.get("list") else raw
    if kind == "boolean":
        return _parse_bool(name, raw)
    if kind == "number":
        if field.get("list"):
            return [_parse_number(name, v) for v in raw.split(",")]
        return _parse_number(name, raw)
    if kind == "range":
        values = [_parse_number(name, v) for v in raw.split(",")]
        return values[0] if len(values) == 1 else values
    if kind == "color":
        return [v.lstrip("#") for v in raw.split(",") if v]
    if kind == "enum":
        values = [v for v in raw.split(",") if v]
        if name == "flip":
            values = [_legacy_flip(v) for v in values]
        if not field.get("open"):
            allowed = set(field["values"])
            bad = [v for v in values if v not in allowed]
            if bad:
                raise DiceBearOptionError(
                    "invalid_option",
                    f"{name} takes {', '.join(sorted(allowed))}; not {', '.join(bad)}.",
                )
        return values if field.get("list") else values[0] if values else ""
    raise DiceBearOptionError("invalid_option", f"{name} cannot be set by query.")


def _legacy_flip(value: str) -> str:
    """DiceBear 9 spelled flip as a boolean."""
    return {"true": "horizontal", "false": "none"}.get(value, value)


_COMPILED: dict[str, DiceBearStyle] = {}


def compiled(
    definition: dict[str, Any] | Callable[[], dict[str, Any]], digest: str
) -> DiceBearStyle:
    """One DiceBearStyle per definition digest (versions never change). The
    definition (or a function giving it, called only the first time) is used
    as given: DiceBear draws by the order of its keys."""
    style = _COMPILED.get(digest)
    if style is None:
        loaded = definition() if callable(definition) else definition
        style = _COMPILED[digest] = DiceBearStyle(loaded, published=True)
    return style


# Colour slots that carry a natural or structural colour (skin, hair, outlines):
# a palette never recolours them. Every other slot with a choice of colours is
# decorative and takes the palette's colours.
NATURAL_COLOURS = frozenset(
    {
        "skin", "hair", "eyes", "eyebrows", "lips", "mouth", "facialHair", "sclera", "teeth",
        "tongue", "throat", "uvula", "ink", "nose", "freckles", "outline", "earrings",
        "earring", "glasses", "eyeShadow", "glint", "stroke", "headContrast", "shade", "paperFace",
    }
)  # fmt: skip
BACKGROUND_TONES = 2


def palette_options(
    style: DiceBearStyle, colours: tuple[str, ...], background: str | None, contrast: float
) -> dict[str, list[str]]:
    """DiceBear colour options that draw this style in a palette.

    The background takes the palette's lightest colours (or `background`, a
    '#rrggbb' colour); decorative slots take the palette's colours that meet
    `contrast` against every background choice, moved in OKLCH lightness when
    none does. Slots with DiceBear's own `contrastTo` keep their candidates:
    the core already picks the one that contrasts best.
    """
    by_lightness = sorted(colours, key=relative_luminance, reverse=True)
    grounds = [background] if background else by_lightness[:BACKGROUND_TONES]
    options = {"backgroundColor": [g.lstrip("#") for g in grounds]}
    definitions = style.definition.get("colors", {})
    figures = [c for c in by_lightness if c not in grounds] or by_lightness
    fitting = [c for c in figures if all(contrast_ratio(c, g) >= contrast for g in grounds)]
    if not fitting:
        darkest = min(grounds, key=relative_luminance)
        fitting = [ensure_contrast(figures[-1], darkest, contrast)]
    for name, spec in definitions.items():
        if name == "background" or name in NATURAL_COLOURS or spec.get("contrastTo"):
            continue
        if len(spec.get("values", [])) < 2:
            continue
        options[f"{name}Color"] = [c.lstrip("#") for c in fitting]
    return options
