"""Text as SVG paths, from a font shipped with the code.

Initials are drawn as outlines rather than <text>, so an SVG looks the same
in every browser and the rasteriser needs no system fonts: same bytes on any
machine.
"""

import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from fontTools.pens.svgPathPen import SVGPathPen
from fontTools.ttLib import TTFont
from fontTools.varLib import instancer

FONT_PATH = Path(__file__).parent / "fonts" / "DejaVuSans-Bold.ttf"
# fontTools objects are not safe to share between threads (the ASGI server
# renders in a thread pool): every use of a font goes through this lock.
_FONT_LOCK = threading.Lock()
BOLD = {"wght": 700, "wdth": 100}


def _dejavu() -> TTFont:
    """Latin, Greek, Cyrillic, Arabic and Hebrew (shipped with the code)."""
    return TTFont(FONT_PATH, lazy=False)


NOTO_DEVANAGARI = ("fontpkg_noto_sans_devanagari", "files/NotoSansDevanagari[wdth,wght].ttf")
NOTO_THAI = ("fontpkg_noto_sans_thai", "files/NotoSansThai[wdth,wght].ttf")
NOTO_CJK = ("cvttf_NotoSansCJK_Bold", "NotoSansCJKtc-Bold.otf")


def font_file(package_and_path: tuple[str, str]) -> str:
    package, path = package_and_path
    return str(files(package).joinpath(path))


def _noto_variable(package_and_path: tuple[str, str]) -> Callable[[], TTFont]:
    """A Noto variable font from a pinned PyPI package, instanced at bold."""

    def load() -> TTFont:
        return instancer.instantiateVariableFont(TTFont(font_file(package_and_path)), BOLD)

    return load


def _noto_cjk() -> TTFont:
    """Han, kana and Hangul: Noto Sans CJK Bold from a pinned PyPI package."""
    return TTFont(font_file(NOTO_CJK))


# Fallback order: the first font with a glyph for a character draws it. The
# packages are pinned, so the outlines (and so the bytes) are the same anywhere.
FONTS: tuple[Callable[[], TTFont], ...] = (
    _dejavu,
    _noto_variable(NOTO_DEVANAGARI),
    _noto_variable(NOTO_THAI),
    _noto_cjk,
)


@dataclass(frozen=True)
class Glyph:
    path: str
    advance: float  # in the first font's units
    scale: float = 1.0  # from the glyph's font units to the first font's


@lru_cache(maxsize=len(FONTS))
def _font(index: int) -> TTFont:
    return FONTS[index]()


@lru_cache(maxsize=len(FONTS))
def _cmap(index: int) -> dict[int, str]:
    return _font(index).getBestCmap()


@lru_cache(maxsize=1)
def _metrics() -> tuple[float, float]:
    with _FONT_LOCK:
        font = _font(0)
        font["glyf"]["H"].recalcBounds(font["glyf"])
        return float(font["head"].unitsPerEm), float(font["glyf"]["H"].yMax)


@lru_cache(maxsize=4096)
def glyph(char: str) -> Glyph | None:
    """The outline of one character from the first font that has it, or None."""
    with _FONT_LOCK:
        for index in range(len(FONTS)):
            name = _cmap(index).get(ord(char))
            if name is None:
                continue
            font = _font(index)
            glyph_set = font.getGlyphSet()
            pen = SVGPathPen(glyph_set, ntos=lambda n: f"{n:g}")
            glyph_set[name].draw(pen)
            scale = float(_font(0)["head"].unitsPerEm) / float(font["head"].unitsPerEm)
            return Glyph(pen.getCommands(), float(font["hmtx"][name][0]) * scale, scale)
        return None


# Thai vowels written before the consonant they follow in speech.
_THAI_LEADING_VOWELS = frozenset("\u0e40\u0e41\u0e42\u0e43\u0e44")


def _in_word(char: str) -> bool:
    """Letters, digits and the marks that combine with them (Indic vowel signs)."""
    return char.isalnum() or unicodedata.category(char).startswith("M")


def _is_han_or_hangul(char: str) -> bool:
    name = unicodedata.name(char, "")
    return name.startswith(("CJK UNIFIED IDEOGRAPH", "HANGUL SYLLABLE"))


def _first_letter(word: str) -> str | None:
    for char in word:
        if char in _THAI_LEADING_VOWELS or unicodedata.category(char) in ("Mn", "Mc"):
            continue
        if glyph(char.upper()) is not None:
            return char.upper()
    return None


def initials(name: str, letters: int = 2) -> str:
    """'ada lovelace' -> 'AL', 'grace.hopper@navy.mil' -> 'GH', '王小明' -> '小明',
    'محمد علي' -> 'عم' (drawn left to right, so read right to left); drawable
    letters only."""
    local = name.split("@", 1)[0]
    local = unicodedata.normalize("NFC", local)
    words = [w for w in "".join(c if _in_word(c) else " " for c in local).split() if w]
    if len(words) == 1 and len(words[0]) >= 2 and all(map(_is_han_or_hangul, words[0])):
        # A Chinese or Korean name without spaces: family name first, and the
        # given name (the last two syllables) is what people are called by.
        chosen = list(words[0][-letters:])
    else:
        chosen = []
        for word in words:
            first = _first_letter(word)
            if first is not None:
                chosen.append(first)
            if len(chosen) == letters:
                break
        if len(chosen) < min(letters, 2) and len(words) == 1:
            drawable = [c.upper() for c in words[0] if glyph(c.upper()) is not None]
            chosen = drawable[:letters]
    if chosen and all(unicodedata.bidirectional(c) in ("R", "AL") for c in chosen):
        chosen.reverse()
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
        if g.path and g.scale == 1.0:
            parts.append(f'<path transform="translate({x:g} 0)" d="{g.path}"/>')
        elif g.path:
            place = f"translate({x:g} 0) scale({g.scale:g})"
            parts.append(f'<path transform="{place}" d="{g.path}"/>')
        x += g.advance
    offset_y = centre_y + cap_height * scale / 2
    return (
        f'<g transform="matrix({scale:.5f} 0 0 {-scale:.5f} {centre_x:g} {offset_y:.3f})">'
        + "".join(parts)
        + "</g>"
    )
