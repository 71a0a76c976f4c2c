"""PNG and WebP from the SVG through resvg (one drawing path for every format).

svg2png-py binds resvg without holding the GIL, so the ASGI server's threads
rasterise on every core. Text is already outlines, so the font database stays
empty and no system font can change the pixels.
"""

import importlib.metadata
import io

import svg2png_py
from PIL import Image

MIN_SIZE = 16
MAX_SIZE = 1024
FORMATS = ("svg", "png", "webp")
RASTERISER = f"svg2png-py-{importlib.metadata.version('svg2png-py')}"
_FONTS = svg2png_py.FontDatabase()


def _transform(svg: str, size: int) -> tuple[float, float, float, float, float, float]:
    """Scale to size x size, in affine.Affine's (a, b, c, d, e, f) layout."""
    width, height = svg2png_py.svg_intrinsic_size(svg, _FONTS)
    return (size / width, 0.0, 0.0, 0.0, size / height, 0.0)


def rasterise(svg: str, size: int, fmt: str = "png") -> bytes:
    """Render `svg` to a size x size PNG or WebP."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE}")
    if fmt not in ("png", "webp"):
        raise ValueError(f"unknown raster format {fmt!r}")
    png = svg2png_py.svg_to_png(svg, _FONTS, transform=_transform(svg, size), bg_size=(size, size))
    if fmt == "png":
        return png
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).save(out, "WEBP", quality=92, method=4)
    return out.getvalue()
