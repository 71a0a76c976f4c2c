"""The one renderer: a compiled style definition + a seed -> SVG text.

Every random choice comes from the seed's stream (forked per colour set and
per layer), so the same seed, style version and options give the same bytes.
"""

import math
from functools import lru_cache

from generation.identity.color import contrast_ratio, ensure_contrast, shift_lightness
from generation.identity.core_options import CoreOptions, background_paint, clip, wrap_body
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


@lru_cache(maxsize=65536)
def _candidates(
    available: tuple[str, ...], tone: str, ground: str | None, minimum: float
) -> tuple[str, ...]:
    """The palette colours of the tone that meet the contrast rule (or, when
    none does, all of that tone, to be adjusted)."""
    toned = tuple(c for c in available if tone == "any" or is_light(c) == (tone == "light"))
    toned = toned or available
    if ground is None:
        return toned
    return tuple(c for c in toned if contrast_ratio(c, ground) >= minimum) or toned


def resolve_colours(
    style: StyleDefinition, palette: PaletteSpec, prng: Prng, background: str | None = None
) -> dict[str, str]:
    """Assign a colour to every slot, in order, honouring tones and contrast rules.

    A palette slot with a contrast rule picks among the palette colours that
    already meet it (staying on-palette); only when none does is a colour's
    lightness moved until it does. `background` forces the background slot (a
    '#rrggbb' colour); later slots still meet their rules against it.
    """
    available = draw_palette(palette, prng)
    colours: dict[str, str] = {}
    used: set[str] = set()
    for slot in style.slots:
        ground = colours[slot.contrast_against] if slot.contrast_against else None
        if slot.name == "background" and background and background != TRANSPARENT:
            value = background
        elif slot.source == "list":
            value = prng.pick(slot.values)
        elif slot.source == "derive":
            value = shift_lightness(colours[slot.derive_from], slot.lightness_shift)
        else:
            candidates = _candidates(available, slot.tone, ground, slot.contrast_min)
            fresh = [c for c in candidates if c not in used]
            value = prng.pick(fresh or candidates)
        if ground is not None:
            value = ensure_contrast(value, ground, slot.contrast_min)
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


@lru_cache(maxsize=64)
def _ring_geometry(layer: RingsLayer, canvas: int) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Per ring: its radius and the point at every whole degree, as SVG text."""
    centre = canvas / 2
    band = (layer.outer - layer.inner) / layer.rings
    rings = []
    for ring in range(layer.rings):
        radius = layer.inner + band * (ring + 0.5)
        points = tuple(
            f"{centre + radius * math.cos(math.radians(d)):.2f} "
            f"{centre + radius * math.sin(math.radians(d)):.2f}"
            for d in range(360)
        )
        rings.append((f"{radius:.2f}", points))
    return tuple(rings)


def _draw_rings(layer: RingsLayer, prng: Prng, colours: dict[str, str], canvas: int) -> str:
    """Concentric rings of arc segments; runs of lit segments become one arc."""
    segments = layer.segments
    step = 360 / segments
    width = f'stroke-width="{(layer.outer - layer.inner) / layer.rings - layer.gap:.2f}"'
    parts = []
    for radius, points in _ring_geometry(layer, canvas):
        colour = colours[prng.pick(layer.colours)]
        offset = prng.integer(0, 359)
        on = [prng.chance(layer.fill) for _ in range(segments)]
        if not any(on):
            on[0] = True
        if all(on):
            centre = f"{canvas / 2:g}"
            parts.append(
                f'<circle cx="{centre}" cy="{centre}" r="{radius}" fill="none" '
                f'stroke="{colour}" {width}/>'
            )
            continue
        first_off = on.index(False)
        path, start = [], None
        for k in range(first_off, first_off + segments + 1):
            lit = k < first_off + segments and on[k % segments]
            if lit and start is None:
                start = k
            elif not lit and start is not None:
                a = (offset + round(start * step)) % 360
                b = (offset + round(k * step)) % 360
                large = 1 if (k - start) * step > 180 else 0
                path.append(f"M{points[a]}A{radius} {radius} 0 {large} 1 {points[b]}")
                start = None
        parts.append(f'<path d="{"".join(path)}" fill="none" stroke="{colour}" {width}/>')
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
    core: CoreOptions | None = None,
) -> str:
    """SVG text for `seed` in `style`.

    palette: overrides the style's default palette. background: None for the
    palette's, 'transparent', or a '#rrggbb' colour. text: the name initials
    are taken from. core: DiceBear's core options (flip, rotate, scale,
    translate, border radius, gradient background); None draws exactly as
    before they existed.
    """
    prng = Prng(seed)
    colours = resolve_colours(style, palette or style.palette, prng.fork("colors"), background)
    canvas = style.canvas
    side = size or canvas
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {canvas} {canvas}" '
        f'width="{side}" height="{side}">'
    )
    choices: dict[str, int] = {}
    body = "".join(
        _draw(layer, prng.fork(layer.name), colours, canvas, text, choices)
        for layer in style.layers
    )
    if core is None or core.is_default:
        ground = ""
        if background != TRANSPARENT:
            ground = f'<rect width="{canvas}" height="{canvas}" fill="{colours["background"]}"/>'
        return f"{head}{ground}{body}</svg>"
    core_prng = prng.fork("core")
    defs, ground = "", ""
    if background != TRANSPARENT:
        paint_defs, paint = background_paint(core, core_prng, colours["background"], canvas)
        defs += paint_defs
        ground = f'<rect width="{canvas}" height="{canvas}" fill="{paint}"/>'
    clip_defs, content = clip(
        core, core_prng, ground + wrap_body(core, core_prng, body, canvas), canvas
    )
    return f"{head}<defs>{defs}{clip_defs}</defs>{content}</svg>"
