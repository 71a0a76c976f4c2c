"""PNG, WebP and JPEG from the SVG through resvg (one drawing path for every format).

svg2png-py binds resvg without holding the GIL, so the ASGI server's threads
rasterise on every core. The own styles draw text as outlines; DiceBear's
styles that draw <text> are rasterised with the fonts shipped with the code
(their font-family is replaced in the copy that is rasterised, never in the
SVG served), so no system font can change the pixels.
"""

import importlib.metadata
import io
import re
from functools import cache

import svg2png_py
from PIL import Image

from generation.identity.glyphs import FONT_PATH, NOTO_CJK, NOTO_DEVANAGARI, NOTO_THAI, font_file

MIN_SIZE = 16
MAX_SIZE = 1024
FORMATS = ("svg", "png", "webp", "jpg")
RASTERISER = f"svg2png-py-{importlib.metadata.version('svg2png-py')}"
_FONTS = svg2png_py.FontDatabase()
FONT_FAMILY = "DejaVu Sans"
_FONT_FAMILY = re.compile(r'font-family="[^"]*"')


@cache
def _text_fonts() -> svg2png_py.FontDatabase:
    fonts = svg2png_py.FontDatabase()
    fonts.load_font_file(str(FONT_PATH))
    for noto in (NOTO_DEVANAGARI, NOTO_THAI, NOTO_CJK):  # fallbacks for other scripts
        fonts.load_font_file(font_file(noto))
    return fonts


def _fonts_for(svg: str) -> tuple[str, svg2png_py.FontDatabase]:
    if "<text" not in svg:
        return svg, _FONTS
    return _FONT_FAMILY.sub(f'font-family="{FONT_FAMILY}"', svg), _text_fonts()


def _transform(
    svg: str, size: int, fonts: svg2png_py.FontDatabase
) -> tuple[float, float, float, float, float, float]:
    """Scale to size x size, in affine.Affine's (a, b, c, d, e, f) layout."""
    width, height = svg2png_py.svg_intrinsic_size(svg, fonts)
    return (size / width, 0.0, 0.0, 0.0, size / height, 0.0)


def rasterise(svg: str, size: int, fmt: str = "png") -> bytes:
    """Render `svg` to a size x size PNG, WebP or JPEG (on white: JPEG has no alpha)."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE}")
    if fmt not in FORMATS[1:]:
        raise ValueError(f"unknown raster format {fmt!r}")
    svg, fonts = _fonts_for(svg)
    transform = _transform(svg, size, fonts)
    png = svg2png_py.svg_to_png(svg, fonts, transform=transform, bg_size=(size, size))
    if fmt == "png":
        return png
    out = io.BytesIO()
    image = Image.open(io.BytesIO(png))
    if fmt == "webp":
        image.save(out, "WEBP", quality=92, method=4)
    else:
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A") if image.mode == "RGBA" else None)
        flat.save(out, "JPEG", quality=90, optimize=True)
    return out.getvalue()
