"""Platform presets: output size and the likeness a platform's audience expects."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import PortraitError

THRESHOLDS = {"professional": 0.85, "social": 0.75, "gaming": 0.60}
HIRES_SIZE = 1200


@dataclass(frozen=True)
class Platform:
    name: str
    size: int
    audience: str

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
        Platform("hires", HIRES_SIZE, "professional"),
    )
}


def get_platform(name: str) -> Platform:
    try:
        return PLATFORMS[name]
    except KeyError:
        raise PortraitError(
            "unknown_platform", f"{name!r} is not one of {', '.join(sorted(PLATFORMS))}"
        ) from None
