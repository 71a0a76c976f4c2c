"""PNG and WebP from the SVG, through resvg (one drawing path for every format)."""

import io

import resvg_py
from PIL import Image

MIN_SIZE = 16
MAX_SIZE = 1024
FORMATS = ("svg", "png", "webp")


def rasterise(svg: str, size: int, fmt: str = "png") -> bytes:
    """Render `svg` to a size x size PNG or WebP."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE}")
    png = bytes(
        resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size, skip_system_fonts=True)
    )
    if fmt == "png":
        return png
    if fmt == "webp":
        out = io.BytesIO()
        Image.open(io.BytesIO(png)).save(out, "WEBP", quality=92, method=4)
        return out.getvalue()
    raise ValueError(f"unknown raster format {fmt!r}")
