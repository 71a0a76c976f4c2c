"""Text as SVG paths, from a font shipped with the code.

Initials are drawn as outlines rather than <text>, so an SVG looks the same
in every browser and the rasteriser needs no system fonts: same bytes on any
machine.
"""

import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.pens.svgPathPen import SVGPathPen
from fontTools.ttLib import TTFont

FONT_PATH = Path(__file__).parent / "fonts" / "DejaVuSans-Bold.ttf"
# fontTools objects are not safe to share between threads (the ASGI server
# renders in a thread pool): every use of the font goes through this lock.
_FONT_LOCK = threading.Lock()


@dataclass(frozen=True)
class Glyph:
    path: str
    advance: float


@lru_cache(maxsize=1)
def _font() -> TTFont:
    return TTFont(FONT_PATH, lazy=False)


@lru_cache(maxsize=1)
def _metrics() -> tuple[float, float]:
    with _FONT_LOCK:
        font = _font()
        font["glyf"]["H"].recalcBounds(font["glyf"])
        return float(font["head"].unitsPerEm), float(font["glyf"]["H"].yMax)


@lru_cache(maxsize=4096)
def glyph(char: str) -> Glyph | None:
    """The outline of one character, or None when the font has no glyph for it."""
    with _FONT_LOCK:
        font = _font()
        name = font.getBestCmap().get(ord(char))
        if name is None:
            return None
        glyph_set = font.getGlyphSet()
        pen = SVGPathPen(glyph_set, ntos=lambda n: f"{n:g}")
        glyph_set[name].draw(pen)
        return Glyph(pen.getCommands(), float(font["hmtx"][name][0]))


def initials(name: str, letters: int = 2) -> str:
    """'ada lovelace' -> 'AL', 'grace.hopper@navy.mil' -> 'GH'; drawable letters only."""
    local = name.split("@", 1)[0]
    words = [w for w in "".join(c if c.isalnum() else " " for c in local).split() if w]
    chosen: list[str] = []
    for word in words:
        for char in unicodedata.normalize("NFC", word):
            if glyph(char.upper()) is not None:
                chosen.append(char.upper())
                break
        if len(chosen) == letters:
            break
    if len(chosen) < min(letters, 2) and len(words) == 1:
        drawable = [c.upper() for c in words[0] if glyph(c.upper()) is not None]
        chosen = drawable[:letters]
    return "".join(chosen) or "?"


def text_path(text: str, font_size: float, centre_x: float, centre_y: float) -> str:
    """SVG path data and transform attributes for `text`, centred on the point,
    with capital letters vertically centred."""
    units, cap_height = _metrics()
    shapes = [g for g in (glyph(c) for c in text) if g is not None]
    width = sum(g.advance for g in shapes)
    scale = font_size / units
    parts = []
    x = -width / 2
    for g in shapes:
        if g.path:
            parts.append(f'<path transform="translate({x:g} 0)" d="{g.path}"/>')
        x += g.advance
    offset_y = centre_y + cap_height * scale / 2
    return (
        f'<g transform="matrix({scale:.5f} 0 0 {-scale:.5f} {centre_x:g} {offset_y:.3f})">'
        + "".join(parts)
        + "</g>"
    )
