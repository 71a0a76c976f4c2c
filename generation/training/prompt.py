"""What the CPU engine can honour in a prompt: a small vocabulary of style, scene, palette,
lighting and mood, and the list of every other term it could not honour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from generation.imaging.filters import apply_curves, luminance, to_float, to_uint8, tone_axis

STYLES = {
    "corporate_headshot": (
        "corporate",
        "headshot",
        "professional",
        "business",
        "linkedin",
        "office",
        "formal",
    ),
    "anime": ("anime", "manga", "cartoon", "cel", "comic", "illustration", "illustrated", "toon"),
    "editorial": ("editorial", "cinematic", "film", "magazine", "movie", "vogue", "fashion"),
}
SCENES = {
    "studio": ("studio", "plain background", "clean background", "backdrop", "seamless"),
    "neon": ("neon", "cyberpunk", "synthwave", "retrowave", "futuristic", "gaming", "arcade"),
    "bokeh": ("bokeh", "city lights", "night city", "fairy lights", "lights", "city", "night"),
}
PALETTES = {  # backdrop colours: light/base, dark, then accents
    "red": ("#f2c4c4", "#5e1414", "#ff4d4d", "#ffb199"),
    "orange": ("#f7d9bd", "#5c2e0b", "#ff9a3c", "#ffd07a"),
    "yellow": ("#f5ecc2", "#5a4a0c", "#ffd23f", "#fff1a8"),
    "gold": ("#efe0b9", "#3d2e10", "#e0b04a", "#ffe3a3"),
    "green": ("#cfe8d2", "#173d21", "#4cc76a", "#b8f0a0"),
    "teal": ("#c4e6e4", "#0d3a3a", "#22c1b5", "#8ff0e6"),
    "blue": ("#cddcf2", "#14284d", "#4f8fe0", "#9fd0ff"),
    "navy": ("#c2cbe0", "#0b1530", "#3656a8", "#7f9be0"),
    "purple": ("#ddd0f0", "#24103f", "#9a5cf0", "#d6a8ff"),
    "pink": ("#f7d4e6", "#4a1030", "#ff5fa8", "#ffb3d9"),
    "white": ("#f7f7f5", "#c9ccd1", "#ffffff", "#e3e6ea"),
    "black": ("#3a3b3f", "#050506", "#8a8d94", "#c9ccd1"),
    "grey": ("#d9dbde", "#54585f", "#9aa0a8", "#c3c7cc"),
    "gray": ("#d9dbde", "#54585f", "#9aa0a8", "#c3c7cc"),
    "pastel": ("#f4e3ec", "#b9c6e4", "#ffd6e8", "#c8f0e0"),
    "beige": ("#efe6d8", "#8a7a62", "#d9c3a0", "#f5ecdc"),
}
# Lighting and mood: (exposure, contrast, warmth, saturation), each about -1..1.
GRADES = {
    "bright": (0.5, 0.0, 0.0, 0.1),
    "high key": (0.7, -0.3, 0.0, 0.0),
    "soft light": (0.2, -0.4, 0.0, 0.0),
    "soft lighting": (0.2, -0.4, 0.0, 0.0),
    "soft": (0.15, -0.3, 0.0, 0.0),
    "dramatic": (-0.2, 0.6, 0.0, 0.0),
    "dramatic lighting": (-0.3, 0.7, 0.0, 0.0),
    "low key": (-0.6, 0.5, 0.0, -0.1),
    "dark": (-0.5, 0.2, 0.0, -0.1),
    "moody": (-0.4, 0.4, -0.2, -0.3),
    "golden hour": (0.2, 0.1, 0.8, 0.2),
    "sunset": (0.1, 0.2, 0.7, 0.2),
    "warm": (0.0, 0.0, 0.6, 0.1),
    "cool": (0.0, 0.0, -0.6, 0.0),
    "cold": (0.0, 0.0, -0.7, -0.1),
    "happy": (0.3, 0.1, 0.3, 0.3),
    "cheerful": (0.3, 0.1, 0.3, 0.3),
    "joyful": (0.3, 0.1, 0.3, 0.3),
    "serious": (-0.1, 0.3, -0.1, -0.3),
    "calm": (0.1, -0.3, -0.2, -0.2),
    "serene": (0.1, -0.3, -0.2, -0.2),
    "vibrant": (0.1, 0.3, 0.0, 0.6),
    "colorful": (0.1, 0.2, 0.0, 0.6),
    "colourful": (0.1, 0.2, 0.0, 0.6),
    "energetic": (0.2, 0.4, 0.1, 0.5),
    "muted": (0.0, -0.2, 0.0, -0.6),
    "vintage": (0.05, -0.2, 0.4, -0.4),
    "monochrome": (0.0, 0.2, 0.0, -1.0),
    "black and white": (0.0, 0.3, 0.0, -1.0),
}
SMILING = ("smiling", "smile", "smiles", "grinning", "laughing")
# Words that carry no instruction (articles, framing, the subject itself).
FILLER = frozenset(
    """a an the of in on at with and or to for by as is my me this that photo photograph picture
    portrait image avatar profile shot style styled background backdrop lighting light look
    looking colors colours color colour tones tone mood high quality detailed best realistic
    person man woman men women couple people dog puppy cat kitten pet face sks zwx very""".split()  # noqa: SIM905
)
_WORD = re.compile(r"[a-z][a-z'-]*")
_CLAUSE = re.compile(r"[,.;:!?()\n]+")
_MAX_WORDS = 3


@dataclass
class PromptPlan:
    """What a prompt asks of the CPU engine, and what it asks that the engine cannot do."""

    style: str | None = None
    scene: str | None = None
    palette: tuple[str, ...] | None = None
    grade: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    smiling: bool = False
    style_terms: list[str] = field(default_factory=list)  # the words that named ``style``
    backdrop_terms: list[str] = field(default_factory=list)  # the words for scene and palette
    honoured: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _lookup(phrase: str) -> tuple[str, object] | None:
    for style, words in STYLES.items():
        if phrase in words:
            return "style", style
    for scene, words in SCENES.items():
        if phrase in words:
            return "scene", scene
    if phrase in PALETTES:
        return "palette", PALETTES[phrase]
    if phrase in GRADES:
        return "grade", GRADES[phrase]
    if phrase in SMILING:
        return "smiling", True
    return None


def _phrases(text: str) -> list[tuple[str, tuple[str, object] | None]]:
    """Known phrases (longest first) and runs of unknown words, in order, clause by clause."""
    found: list[tuple[str, tuple[str, object] | None]] = []
    for clause in _CLAUSE.split(text.lower()):
        words = _WORD.findall(clause)
        unknown: list[str] = []
        i = 0
        while i < len(words):
            for length in range(min(_MAX_WORDS, len(words) - i), 0, -1):
                phrase = " ".join(words[i : i + length])
                meaning = _lookup(phrase)
                if meaning:
                    _flush(unknown, found)
                    found.append((phrase, meaning))
                    i += length
                    break
                if length == 1:
                    unknown.append(words[i])
                    i += 1
        _flush(unknown, found)
    return found


def _flush(unknown: list[str], found: list) -> None:
    """Close a run of unknown words as one term ("wearing a tuxedo"), less filler at its ends."""
    while unknown and unknown[0] in FILLER:
        unknown.pop(0)
    while unknown and unknown[-1] in FILLER:
        unknown.pop()
    if unknown:
        found.append((" ".join(unknown), None))
    unknown.clear()


def plan_prompt(prompt: str, negative_prompt: str = "") -> PromptPlan:
    """Map a prompt (and its negative) onto the engine's vocabulary.

    A lighting or mood term in the negative prompt pulls the grade the other way, at half
    strength; any other term the engine does not know is listed in ``ignored``.
    """
    plan = PromptPlan()
    grade = np.zeros(4)
    for text, sign in ((prompt, 1.0), (negative_prompt, -0.5)):
        for phrase, meaning in _phrases(text):
            if meaning is None:
                if phrase not in plan.ignored:
                    plan.ignored.append(phrase)
                continue
            kind, value = meaning
            if kind == "grade":
                grade += sign * np.array(value)
            elif sign < 0:
                plan.ignored.append(phrase)  # "not anime" cannot be drawn; say so
                continue
            elif kind == "style":
                plan.style = plan.style or str(value)
                plan.style_terms.append(phrase)
            elif kind == "scene":
                plan.scene = plan.scene or str(value)
                plan.backdrop_terms.append(phrase)
            elif kind == "palette":
                plan.palette = plan.palette or value  # type: ignore[assignment]
                plan.backdrop_terms.append(phrase)
            elif kind == "smiling":
                plan.smiling = True
            plan.honoured.append(phrase)
    plan.grade = tuple(float(v) for v in np.clip(grade, -1.0, 1.0))  # type: ignore[assignment]
    return plan


def apply_grade(image: np.ndarray, grade: tuple[float, float, float, float]) -> np.ndarray:
    """Exposure, contrast, warmth and saturation (each about -1..1) on an RGB uint8 image."""
    exposure, contrast, warmth, saturation = grade
    if not any(grade):
        return image
    x = tone_axis()
    lifted = 1.0 - (1.0 - x) ** (2.0 ** (0.8 * exposure))
    s_curve = lifted * lifted * (3.0 - 2.0 * lifted)
    toned = lifted + (s_curve - lifted) * np.clip(contrast, -1.0, 1.0)
    tint = np.array([1.0 + 0.06 * warmth, 1.0 + 0.01 * warmth, 1.0 - 0.07 * warmth], np.float32)
    curves = np.clip(toned[:, None] * tint, 0.0, 1.0)
    graded = apply_curves(image, curves)
    if saturation:
        rgb = to_float(graded)
        grey = luminance(rgb)[..., None]
        graded = to_uint8(grey + (rgb - grey) * (1.0 + 0.6 * saturation))
    return graded
