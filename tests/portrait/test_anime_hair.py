"""anime hair: flat tones of the person's own hair colour with a visible highlight
band (the "angel ring") across the crown, on dark hair too, scaled by intensity."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from generation.engines import get_engine
from generation.engines.classic import anime
from generation.imaging.filters import luminance, to_float
from generation.portrait.align import align_face
from generation.portrait.face import detect_faces
from generation.portrait.segment import segment_person

from .conftest import photo_array

SIZE = 512  # the working size of the gaming presets (discord)
FOREHEAD_TOP = 10  # face-mesh point at the top of the forehead


def _portrait(name: str):
    image = photo_array(name)
    return segment_person(align_face(image, detect_faces(image), SIZE))


def _crown(portrait, dark: bool) -> np.ndarray:
    """The photo's hair over the crown: the person above the forehead, across the
    face's middle, that is much darker than the face (``dark``), or lighter and
    grey (white hair; lit skin there has the face's chroma)."""
    box = portrait.face_box
    cols = slice(int(box.centre[0] - 0.3 * box.width), int(box.centre[0] + 0.3 * box.width))
    lum = luminance(to_float(portrait.image))
    face = np.median(lum[int(box.y + 0.4 * box.height) : int(box.y + 0.6 * box.height), cols])
    zone = np.zeros(lum.shape, bool)
    zone[: int(portrait.landmarks[FOREHEAD_TOP, 1]), cols] = True
    zone &= portrait.matte > 0.95
    if dark:
        return zone & (lum < 0.6 * face)
    lab = cv2.cvtColor(portrait.image, cv2.COLOR_RGB2LAB).astype(np.float32)
    return zone & (lum > 1.05 * face) & (np.hypot(lab[..., 1] - 128, lab[..., 2] - 128) < 12)


def _sheen(art: np.ndarray, crown: np.ndarray) -> tuple[float, float]:
    """The hair's base luminance and the share of it painted markedly lighter."""
    lum = luminance(to_float(art))[crown]
    base = float(np.median(lum))
    return base, float((lum > base + 0.12).mean())


@pytest.mark.parametrize("name", ["obama_small.jpg", "alex-lacamoire.png"])
def test_anime_dark_hair_gets_a_highlight_band_scaled_by_intensity(name):
    portrait = _portrait(name)
    crown = _crown(portrait, dark=True)
    assert crown.sum() > 2000
    engine = get_engine("classic")
    base, banded = _sheen(engine.stylise("anime", portrait, 0.8), crown)
    _, photo_like = _sheen(engine.stylise("anime", portrait, 0.0), crown)
    assert base < 0.35  # black hair stays dark
    assert banded > 0.15  # a band of it is much lighter: the sheen shows
    assert photo_like < 0.05  # at intensity 0 there is no band


def test_anime_white_hair_stays_light():
    portrait = _portrait("biden2.jpg")
    crown = _crown(portrait, dark=False)
    assert crown.sum() > 200
    art = get_engine("classic").stylise("anime", portrait, 0.8)
    assert np.median(luminance(to_float(art))[crown]) > 0.65  # not a beige-grey blotch


@pytest.mark.parametrize("name", ["lin-manuel-miranda.png", "obama_small.jpg", "obama2.jpg"])
def test_anime_black_hair_lifted_by_the_light_is_painted_black(name):
    """A stage light or sheen lifts black hair to a mid grey in the photo; painted
    flat at that level it read as grey hair (0.30 on lin-manuel-miranda.png, 0.32
    on obama_small.jpg). Its base is near black, the band aside."""
    portrait = _portrait(name)
    base, _ = _sheen(get_engine("classic").stylise("anime", portrait, 0.8), _crown(portrait, True))
    assert base < 0.25


def test_anime_blond_hair_keeps_its_tone():
    portrait = _portrait("astronaut.png")
    crown = _crown(portrait, dark=True)
    art = get_engine("classic").stylise("anime", portrait, 0.8)
    lightness, _, yellow = np.median(cv2.cvtColor(art, cv2.COLOR_RGB2LAB)[crown], axis=0)
    assert lightness > 100 and yellow - 128 > 15  # a mid golden blond, not deepened to black


def _hair_base(lightness: tuple[float, float], a: float, b: float) -> float:
    """The Lab lightness anime paints hair whose strands run evenly over a span of
    lightness at one colour."""
    levels = np.linspace(*lightness, 2000, dtype=np.float32)
    lab = np.stack([levels, np.full_like(levels, a), np.full_like(levels, b)], -1)[None]
    rgb = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    base = anime._hair_tones(rgb, np.ones(rgb.shape[:2], bool))[0]
    return float(cv2.cvtColor(base[None, None].astype(np.float32), cv2.COLOR_RGB2LAB)[0, 0, 0])


def test_anime_grey_hair_is_not_painted_black():
    """Salt-and-pepper hair has near-black strands too, but a light median: it stays
    a mid grey (it was painted at lightness 29, as black), while black hair lit to
    the same darkest strands and a mid-grey median is deepened."""
    assert _hair_base((30.0, 80.0), 0.0, 2.0) > 45.0
    assert _hair_base((20.0, 62.0), 4.0, -2.0) < 25.0
