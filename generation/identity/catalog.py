"""The styles and palettes that ship with the code (the defaults admins start from)."""

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from generation.identity.style import StyleDefinition, compile_definition

STYLES_DIR = Path(__file__).parent / "styles"

DEFAULT_PALETTES: dict[str, dict[str, Any]] = {
    "vivid": {"kind": "generated", "scheme": "triadic"},
    "harmony": {"kind": "generated", "scheme": "analogous"},
    "contrast": {"kind": "generated", "scheme": "complementary"},
    "blue": {"kind": "generated", "scheme": "analogous", "hue_range": [225, 265], "chroma": 0.12},
    "green": {"kind": "generated", "scheme": "analogous", "hue_range": [135, 165], "chroma": 0.12},
    "grey": {
        "kind": "generated",
        "scheme": "monochrome",
        "hue_range": [0, 359],
        "chroma": 0.012,
        "lightness": [0.94, 0.84, 0.72, 0.58, 0.44, 0.3],
    },
}
DEFAULT_ROLE_PALETTES = {"admin": "blue", "user": "green", "guest": "grey"}


def shipped_style_slugs() -> list[str]:
    return sorted(p.stem for p in STYLES_DIR.glob("*.json"))


def shipped_definition(slug: str) -> dict[str, Any]:
    return json.loads((STYLES_DIR / f"{slug}.json").read_text())


@lru_cache(maxsize=64)
def shipped_style(slug: str) -> StyleDefinition:
    return compile_definition(shipped_definition(slug))


# How the gallery groups DiceBear's styles, in the own styles' categories.
DICEBEAR_CATEGORIES: dict[str, tuple[str, ...]] = {
    "faces": (
        "adventurer", "adventurer-neutral", "avataaars", "avataaars-neutral", "big-ears",
        "big-ears-neutral", "big-smile", "croodles", "croodles-neutral", "cutouts", "dylan",
        "fun-emoji", "initial-face", "line-face", "lorelei", "lorelei-neutral", "micah",
        "miniavs", "notionists", "notionists-neutral", "open-peeps", "personas", "pixel-art",
        "pixel-art-neutral", "shadows", "toon-head", "voxel-art",
    ),
    "characters": (
        "bottts", "bottts-neutral", "cameo", "clay", "critters", "gaze", "marbles", "moods",
        "pixelbot", "sprouts", "thumbs", "voxel-bot",
    ),
    "geometric": (
        "identicon", "rings", "shape-grid", "shapes", "squircles", "stripes", "triangles",
    ),
    "icons": ("icons", "glyphs"),
    "initials": ("initials",),
}  # fmt: skip


def dicebear_category(name: str) -> str:
    for category, names in DICEBEAR_CATEGORIES.items():
        if name in names:
            return category
    return "abstract"


def dicebear_style_name(name: str, definition: dict[str, Any]) -> str:
    source = definition.get("meta", {}).get("source", {}).get("name")
    return str(source or name.replace("-", " ").title())[:80]
