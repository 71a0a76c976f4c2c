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
