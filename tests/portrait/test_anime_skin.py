"""anime skin and clothes as cel paint: skin in flat tones whose shadow is a few
clean shapes (no islands, no holes) on the side away from the light, clothes in
flat regions of a few colours (no mottled suit), and intensity 0 near the photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from generation.engines import get_engine
from generation.engines.classic import anime
from generation.imaging.filters import luminance, to_float
from generation.imaging.masks import FaceMasks

from .conftest import photo_array
from .test_looks import portrait_of


def _half_size(portrait) -> tuple[np.ndarray, np.ndarray]:
    """The photo smoothed at half size, as anime paints it, and the person there."""
    smooth = anime._smooth_half(portrait.image)
    person = cv2.resize(portrait.matte, smooth.shape[1::-1], interpolation=cv2.INTER_AREA)
    return smooth, person


def _shade(portrait) -> tuple[np.ndarray, np.ndarray, float]:
    """anime's skin shadow (half size), where the skin is, and the face width there."""
    smooth, _ = _half_size(portrait)
    on_skin = anime.skin_region(portrait, FaceMasks(portrait), smooth) > 0.8
    shade, _ = anime.shadow_shape(portrait, to_float(smooth), on_skin)
    return shade, on_skin, portrait.face_box.width * smooth.shape[0] / portrait.size


def _regions(mask: np.ndarray) -> np.ndarray:
    """Areas of the connected regions of a boolean mask."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    return stats[1:, cv2.CC_STAT_AREA]


@pytest.mark.parametrize(
    "name", ["lin-manuel-miranda.png", "alex-lacamoire.png", "biden2.jpg", "obama_small.jpg"]
)
def test_anime_skin_shadow_is_a_few_clean_shapes(name):
    shade, on_skin, width = _shade(portrait_of(photo_array(name)))
    shaded = shade > 0.5
    # Every patch of shade and every lit gap in it is big enough to be drawn on
    # purpose (half the smallest shape: smoothing rounds off its corners).
    smallest = 0.5 * anime.SMALLEST_SHAPE * width**2
    assert _regions(shaded).min() >= smallest
    assert _regions(~shaded).min() >= smallest
    # Two tones: the shadow is a real part of the skin, not all of it.
    assert 0.08 < shaded[on_skin].mean() < 0.6


@pytest.mark.parametrize("name", ["obama2.jpg", "biden2.jpg"])
def test_anime_skin_shadow_falls_on_the_darker_cheek(name):
    """The shadow shape sits on the cheek the photo's light leaves darker, in the
    photo and in its mirror image."""
    photo = photo_array(name)
    for image in (photo, np.ascontiguousarray(photo[:, ::-1])):
        portrait = portrait_of(image)
        shade, on_skin, _ = _shade(portrait)
        face = on_skin & (FaceMasks(portrait).skin[::2, ::2] > 0.5)
        right = np.arange(shade.shape[1]) > portrait.landmarks[1, 0] / 2  # of the nose tip
        lum = luminance(to_float(portrait.image[::2, ::2]))
        darker_right = np.median(lum[face & right]) < np.median(lum[face & ~right])
        shaded_right = shade[face & right].mean() - shade[face & ~right].mean()
        assert shaded_right > 0.1 if darker_right else shaded_right < -0.1


@pytest.mark.parametrize("name", ["biden2.jpg", "obama_small.jpg"])
def test_anime_clothes_are_flat_regions(name):
    """The suit is a few broad flat regions, not mottled: little boundary between
    paints for its area (the old palette filter had about twice as much)."""
    portrait = portrait_of(photo_array(name))
    smooth, person = _half_size(portrait)
    paint = anime.flat_colour(smooth, person)
    half = paint.shape[0]
    top = int((portrait.landmarks[152, 1] + 0.3 * portrait.face_box.height) * half / portrait.size)
    clothes = np.zeros((half, half), bool)
    clothes[top:] = True
    clothes &= person > 0.99
    assert clothes.sum() > 2000
    codes = np.round(paint * 255).astype(np.int32) @ np.array([65536, 256, 1])
    boundary = np.zeros_like(clothes)
    boundary[:, 1:] |= codes[:, 1:] != codes[:, :-1]
    boundary[1:] |= codes[1:] != codes[:-1]
    # Boundary pixels per 100 pixels of image width: 0.26-0.34 before, 0.16-0.17 now.
    assert boundary[clothes].mean() * half / 100 < 0.22


def test_anime_intensity_zero_stays_near_the_photo():
    portrait = portrait_of(photo_array("lin-manuel-miranda.png"))
    skin = FaceMasks(portrait).skin > 0.99
    engine = get_engine("classic")

    def change(intensity: float) -> float:
        art = engine.stylise("anime", portrait, intensity).astype(np.float32)
        return float(np.abs(art - portrait.image)[skin].mean())

    assert change(0.0) < 0.6 * change(0.8)


@pytest.mark.parametrize("name", ["lin-manuel-miranda.png", "alex-lacamoire.png", "astronaut.png"])
def test_anime_neck_is_skin_under_a_band_of_the_jaws_shadow(name):
    """The neck is painted as skin however much the jaw shades it (it was a large
    flat patch of the clothes' palette: 36-57% of it skin on alex-lacamoire.png and
    lin-manuel-miranda.png), and its shadow is a band along the jaw, not the photo's
    shade (two thirds of astronaut.png's neck further down)."""
    portrait = portrait_of(photo_array(name))
    shade, on_skin, _ = _shade(portrait)
    smooth, person = _half_size(portrait)
    half = shade.shape[0]
    scale = half / portrait.size
    jaw = portrait.landmarks[list(anime.JAW)] * scale
    x = np.arange(half) + 0.5
    jaw_y = np.interp(x, *jaw[np.argsort(jaw[:, 0])].T)
    # Depth under the jaw in face heights, between the jaw's corners.
    depth = (np.arange(half)[:, None] + 0.5 - jaw_y) / (portrait.face_box.height * scale)
    depth[:, (x < jaw[3, 0]) | (x > jaw[-4, 0])] = -1.0
    # The neck: the photo's pixels there of the face's hue and chroma, not too dark.
    lab = cv2.cvtColor(smooth, cv2.COLOR_RGB2LAB).astype(np.float32)
    face = cv2.resize(FaceMasks(portrait).skin, (half, half), interpolation=cv2.INTER_AREA) > 0.9
    tone = np.median(lab[face], axis=0)
    like_face = (np.hypot(*(lab[..., 1:] - tone[1:]).transpose(2, 0, 1)) < 6) & (
        lab[..., 0] > 0.4 * tone[0]
    )
    neck = (depth > 0.03) & (depth < 0.3) & (person > 0.9) & like_face
    assert neck.sum() > 500
    assert on_skin[neck].mean() > 0.85
    shaded = shade > 0.5
    assert shaded[(depth > 0.01) & (depth < 0.06) & on_skin].mean() > 0.8  # the band
    assert shaded[(depth > 0.16) & on_skin].mean() < 0.1  # and nothing further down
