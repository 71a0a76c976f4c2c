"""Style engines: turn an aligned portrait into a styled one.

An engine is anything with this small interface, so a ``diffusion`` engine
(torch + diffusers) can sit beside ``classic`` without touching the pipeline.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from generation.imaging.state import Portrait


class StyleEngine(Protocol):
    name: str
    styles: frozenset[str]
    synthesises_content: bool  # True: the output gets its own content-safety check

    def stylise(self, style: str, portrait: Portrait, intensity: float) -> np.ndarray:
        """Return the styled person as an HxWx3 uint8 RGB image the size of ``portrait``.

        ``intensity`` in [0, 1]: 0 leaves the photo almost as it is.
        The background is replaced afterwards, so only the person matters.
        """
        ...


def get_engine(name: str) -> StyleEngine:
    """The engine called ``name``; only ``classic`` ships without weights."""
    if name == "classic":
        from .classic import ClassicEngine

        return ClassicEngine()
    raise KeyError(f"unknown style engine {name!r}")
