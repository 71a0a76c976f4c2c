"""The classic engine: photo retouching and non-photorealistic rendering on the CPU."""

from __future__ import annotations

import numpy as np

from generation.imaging.state import Portrait

from . import anime, corporate, editorial

_RENDERERS = {
    "corporate_headshot": corporate.render,
    "anime": anime.render,
    "editorial": editorial.render,
}


class ClassicEngine:
    name = "classic"
    styles = frozenset(_RENDERERS)
    synthesises_content = False  # it only retouches the (already checked) photo

    def stylise(self, style: str, portrait: Portrait, intensity: float) -> np.ndarray:
        return _RENDERERS[style](portrait, float(np.clip(intensity, 0.0, 1.0)))
