"""The one renderer: a compiled style definition + a seed -> SVG text.

Every random choice comes from the seed's stream (forked per colour set and
per layer), so the same seed, style version and options give the same bytes.
"""

import math
from functools import lru_cache

from generation.identity.color import ensure_contrast, shift_lightness
from generation.identity.glyphs import initials, text_path
from generation.identity.palettes import PaletteSpec, draw_palette, is_light
from generation.identity.prng import Prng
from generation.identity.style import (
    GridLayer,
    InitialsLayer,
    Layer,
    RingsLayer,
    StyleDefinition,
    Transform,
    VariantsLayer,
)

TRANSPARENT = "transparent"


def resolve_colours(
    style: StyleDefinition, palette: PaletteSpec, prng: Prng, background: str | None = None
) -> dict[str, str]:
    """Assign a colour to every slot, in order, honouring tones and contrast rules.

    `background` forces the background slot (a '#rrggbb' colour); later slots
    still meet their contrast rules against it.
    """
    available = draw_palette(palette, prng)
    colours: dict[str, str] = {}
    used: set[str] = set()
    for slot in style.slots:
        if slot.name == "background" and background and background != TRANSPARENT:
            value = background
        elif slot.source == "list":
            value = prng.pick(slot.values)
        elif slot.source == "derive":
            value = shift_lightness(colours[slot.derive_from], slot.lightness_shift)
        else:
            toned = [
                c for c in available if slot.tone == "any" or is_light(c) == (slot.tone == "light")
            ]
            candidates = toned or list(available)
            fresh = [c for c in candidates if c not in used]
            value = prng.pick(fresh or candidates)
        if slot.contrast_against is not None:
            value = ensure_contrast(value, colours[slot.contrast_against], slot.contrast_min)
        colours[slot.name] = value
        used.add(value)
    return colours


def _matrix(transform: Transform, prng: Prng) -> str:
    angle = math.radians(prng.uniform(*transform.rotate))
    scale = prng.uniform(*transform.scale)
    tx = prng.uniform(*transform.translate_x)
    ty = prng.uniform(*transform.translate_y)
    ox, oy = transform.origin
    a, b = scale * math.cos(angle), scale * math.sin(angle)
    e = tx + ox - (a * ox - b * oy)
    f = ty + oy - (b * ox + a * oy)
    return f"matrix({a:.4f} {b:.4f} {-b:.4f} {a:.4f} {e:.2f} {f:.2f})"


def _draw_variants(
    layer: VariantsLayer, prng: Prng, colours: dict[str, str], choices: dict[str, int]
) -> str:
    if layer.probability < 1.0 and not prng.chance(layer.probability):
        return ""
    count = layer.count[0] if layer.count[0] == layer.count[1] else prng.integer(*layer.count)
    parts = []
    for _ in range(count):
        if layer.same_choice_as is not None:
            choice = choices.get(layer.same_choice_as, 0)
        else:
            choice = prng.weighted_index(layer.cumulative)
        choices[layer.name] = choice
        fragment = layer.templates[choice].format_map(colours)
        if layer.transform.is_identity:
            parts.append(fragment)
        else:
            parts.append(f'<g transform="{_matrix(layer.transform, prng)}">{fragment}</g>')
    return "".join(parts)


@lru_cache(maxsize=256)
def _grid_cells(layer: GridLayer, canvas: int) -> tuple[tuple[str, ...], ...]:
    """For each drawn cell (mirrored pairs together), its SVG with a {} colour hole."""
    size = (canvas - 2 * layer.margin) / layer.cols
    half = (layer.cols + 1) // 2 if layer.mirror else layer.cols

    def cell(row: int, col: int) -> str:
        x, y = layer.margin + col * size, layer.margin + row * size
        if layer.cell == "circle":
            return (
                f'<circle cx="{x + size / 2:.2f}" cy="{y + size / 2:.2f}" '
                f'r="{size * 0.42:.2f}" fill="{{}}"/>'
            )
        radius = f' rx="{size * 0.22:.2f}"' if layer.cell == "rounded" else ""
        inset = 0.0 if layer.cell == "square" else size * 0.06
        return (
            f'<rect x="{x + inset:.2f}" y="{y + inset:.2f}" width="{size - 2 * inset:.2f}" '
            f'height="{size - 2 * inset:.2f}"{radius} fill="{{}}"/>'
        )

    cells = []
    for row in range(layer.rows):
        for col in range(half):
            mirror = layer.cols - 1 - col
            pair = (row, col), (row, mirror)
            cells.append(
                tuple(cell(r, c) for r, c in pair[: 1 if not layer.mirror or mirror == col else 2])
            )
    return tuple(cells)


def _draw_grid(layer: GridLayer, prng: Prng, colours: dict[str, str], canvas: int) -> str:
    cells = _grid_cells(layer, canvas)
    palette = [colours[name] for name in layer.colours]
    filled = [prng.chance(layer.fill) for _ in cells]
    while sum(filled) < min(layer.min_filled, len(cells)):
        filled[prng.integer(0, len(cells) - 1)] = True
    parts = []
    for cell, on in zip(cells, filled, strict=True):
        colour = prng.pick(palette) if len(palette) > 1 else palette[0]
        if on:
            parts.extend(shape.format(colour) for shape in cell)
    return "".join(parts)


def _arc(cx: float, cy: float, radius: float, start: float, end: float) -> str:
    a0, a1 = math.radians(start), math.radians(end)
    large = 1 if end - start > 180 else 0
    return (
        f"M{cx + radius * math.cos(a0):.2f} {cy + radius * math.sin(a0):.2f}"
        f"A{radius:.2f} {radius:.2f} 0 {large} 1 {cx + radius * math.cos(a1):.2f} "
        f"{cy + radius * math.sin(a1):.2f}"
    )


def _draw_rings(layer: RingsLayer, prng: Prng, colours: dict[str, str], canvas: int) -> str:
    centre = canvas / 2
    band = (layer.outer - layer.inner) / layer.rings
    step = 360.0 / layer.segments
    parts = []
    for ring in range(layer.rings):
        radius = layer.inner + band * (ring + 0.5)
        colour = colours[prng.pick(layer.colours)]
        offset = prng.integer(0, layer.segments - 1) * step + prng.uniform(0, step)
        on = [prng.chance(layer.fill) for _ in range(layer.segments)]
        if not any(on):
            on[0] = True
        width = f'stroke-width="{band - layer.gap:.2f}"'
        if all(on):
            parts.append(
                f'<circle cx="{centre:g}" cy="{centre:g}" r="{radius:.2f}" fill="none" '
                f'stroke="{colour}" {width}/>'
            )
            continue
        first_off = on.index(False)
        runs, start = [], None
        for k in range(first_off, first_off + layer.segments + 1):
            lit = k < first_off + layer.segments and on[k % layer.segments]
            if lit and start is None:
                start = k
            elif not lit and start is not None:
                runs.append((start, k))
                start = None
        path = "".join(
            _arc(centre, centre, radius, offset + a * step, offset + b * step - 0.01)
            for a, b in runs
        )
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" {width}/>')
    return "".join(parts)


def _draw_initials(layer: InitialsLayer, colours: dict[str, str], canvas: int, text: str) -> str:
    letters = initials(text, layer.letters)
    size = layer.font_size * (1.0 if len(letters) < 3 else 0.78)
    return (
        f'<g fill="{colours[layer.colour]}">{text_path(letters, size, canvas / 2, canvas / 2)}</g>'
    )


def _draw(
    layer: Layer,
    prng: Prng,
    colours: dict[str, str],
    canvas: int,
    text: str,
    choices: dict[str, int],
) -> str:
    if isinstance(layer, VariantsLayer):
        return _draw_variants(layer, prng, colours, choices)
    if isinstance(layer, GridLayer):
        return _draw_grid(layer, prng, colours, canvas)
    if isinstance(layer, RingsLayer):
        return _draw_rings(layer, prng, colours, canvas)
    return _draw_initials(layer, colours, canvas, text)


def render_svg(
    style: StyleDefinition,
    seed: bytes,
    palette: PaletteSpec | None = None,
    *,
    size: int | None = None,
    background: str | None = None,
    text: str = "",
) -> str:
    """SVG text for `seed` in `style`.

    palette: overrides the style's default palette. background: None for the
    palette's, 'transparent', or a '#rrggbb' colour. text: the name initials
    are taken from.
    """
    prng = Prng(seed)
    colours = resolve_colours(style, palette or style.palette, prng.fork("colors"), background)
    canvas = style.canvas
    side = size or canvas
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {canvas} {canvas}" '
        f'width="{side}" height="{side}">'
    ]
    if background != TRANSPARENT:
        parts.append(f'<rect width="{canvas}" height="{canvas}" fill="{colours["background"]}"/>')
    choices: dict[str, int] = {}
    for layer in style.layers:
        parts.append(_draw(layer, prng.fork(layer.name), colours, canvas, text, choices))
    parts.append("</svg>")
    return "".join(parts)
