"""The three portrait styles: which background, palette and finishing pass each uses."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from generation.imaging.filters import to_uint8
from generation.imaging.state import Portrait

from .background import Background, deep_bokeh, neon_geometric, parse_palette, studio_gradient
from .enhance import enhance_anime, enhance_corporate, enhance_editorial
from .errors import PortraitError


@dataclass(frozen=True)
class Style:
    name: str
    version: str
    background: Background
    palette: tuple[str, ...]  # light/base, dark, then accents
    enhance: Callable[[Portrait], Portrait]
    shadow: float = 0.0  # how dark the person's soft shadow falls on the backdrop


STYLES = {
    s.name: s
    for s in (
        Style(
            "corporate_headshot",
            "1",
            studio_gradient,
            ("#dde1e6", "#7c8794"),
            enhance_corporate,
            shadow=0.28,
        ),
        Style(
            "anime",
            "1",
            neon_geometric,
            ("#2b1160", "#0a0620", "#ff3cac", "#00e5ff", "#ffd23f", "#7c4dff"),
            enhance_anime,
        ),
        Style(
            "editorial",
            "1",
            deep_bokeh,
            ("#3b2c22", "#07090d", "#ffb45e", "#ffd9a0", "#6fa8dc"),
            enhance_editorial,
        ),
    )
}


def get_style(name: str) -> Style:
    try:
        return STYLES[name]
    except KeyError:
        raise PortraitError(
            "unknown_style", f"{name!r} is not one of {', '.join(sorted(STYLES))}"
        ) from None


BACKGROUNDS: dict[str, Background] = {
    "studio": studio_gradient,
    "neon": neon_geometric,
    "bokeh": deep_bokeh,
}


def get_background(name: str | None, style: Style) -> Background:
    """The named background kind, or the style's own when `name` is None."""
    if name is None:
        return style.background
    try:
        return BACKGROUNDS[name]
    except KeyError:
        raise PortraitError(
            "bad_background", f"background is one of {', '.join(sorted(BACKGROUNDS))}"
        ) from None


@lru_cache(maxsize=8)
def backdrop_for(
    style: Style,
    palette: tuple[str, ...],
    size: int,
    background: str | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The style's background (or the named kind) in ``palette``, laid out by ``seed``.

    One seed gives one backdrop (a team sharing a seed matches; a repeat
    costs nothing); another seed gives another layout in the same palette.
    The array is shared; treat it as read-only.
    """
    draw = get_background(background, style)
    key = f"{style.name}:{style.version}:{background}:{palette}:{seed}"
    seed = int(hashlib.sha256(key.encode()).hexdigest()[:16], 16)
    backdrop = to_uint8(draw(size, parse_palette(palette), np.random.default_rng(seed)))
    backdrop.setflags(write=False)
    return backdrop
