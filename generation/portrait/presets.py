"""Platform presets: output size, the likeness a platform's audience expects, and
the smallest face a photo may have."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import PortraitError

THRESHOLDS = {"professional": 0.85, "social": 0.75, "gaming": 0.60}
HIRES_SIZE = 1200
# The dominant face's box must be at least this tall, as a fraction of the
# photo's height and in pixels: every head-and-shoulders or waist-up portrait
# passes, full-length and distant shots do not. A preset or an account may
# raise either floor, never lower it.
MIN_FACE_HEIGHT = 0.20
MIN_FACE_PX = 100


@dataclass(frozen=True)
class Platform:
    name: str
    size: int
    audience: str
    min_face_height: float = MIN_FACE_HEIGHT
    min_face_px: int = MIN_FACE_PX

    @property
    def likeness_threshold(self) -> float:
        return THRESHOLDS[self.audience]


PLATFORMS = {
    p.name: p
    for p in (
        Platform("linkedin", 800, "professional"),
        Platform("portfolio", 800, "professional"),
        Platform("twitter", 400, "social"),
        Platform("instagram", 320, "social"),
        Platform("discord", 512, "gaming"),
        Platform("twitch", 256, "gaming"),
        # 1200 px out: a face under 160 px would be enlarged past what it holds.
        Platform("hires", HIRES_SIZE, "professional", min_face_px=160),
    )
}


def get_platform(name: str) -> Platform:
    try:
        return PLATFORMS[name]
    except KeyError:
        raise PortraitError(
            "unknown_platform", f"{name!r} is not one of {', '.join(sorted(PLATFORMS))}"
        ) from None
