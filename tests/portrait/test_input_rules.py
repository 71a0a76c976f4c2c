"""Input rules on real fixtures and variants derived from them: face size by height,
detection fallbacks (short-range model, photos turned without EXIF), exposure."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from generation.portrait.analysis import analyse_photo
from generation.portrait.errors import PortraitError
from generation.portrait.exposure import correct_frame, lift_face
from generation.portrait.face import (
    CHIN,
    FOREHEAD,
    FULL_RANGE,
    _run_detector,
    detect_faces,
    detect_upright,
    eye_line_degrees,
    find_faces,
)
from generation.portrait.load import DEFAULT_LIMITS
from generation.portrait.pipeline import AvatarRequest
from generation.portrait.presets import MIN_FACE_HEIGHT, MIN_FACE_PX, get_platform

from .conftest import decode, encode, photo_array, photo_bytes

# Checked by eye: head-and-shoulders or waist-up portraits, each of which must pass.
PORTRAITS = [
    "obama.jpg",  # waist-up, arms folded, face 25% of the height
    "astronaut.png",  # waist-up with helmet, 20%
    "obama2.jpg",
    "32bit.png",
    "biden2.jpg",
    "lin-manuel-miranda.png",
    "alex-lacamoire.png",
    "obama_small.jpg",
    "obama_partial_face.jpg",
    "two_people.jpg",  # two people waist-up: the larger face, 26%
]
# Full-length or distant: refused.
DISTANT = [
    "biden.jpg",  # standing, to the knees: 15%
    "obama3.jpg",  # full-length in a room: 13%
    "obama_and_biden.jpg",  # two people on a stage, arms raised: 15%
]


def analyse(data: bytes, platform: str = "linkedin", min_face_height: float | None = None):
    from generation.portrait.safety import OpenNsfwClassifier

    return analyse_photo(
        data, DEFAULT_LIMITS, OpenNsfwClassifier(), get_platform(platform), min_face_height
    )


def refusal_code(data: bytes, **options) -> str | None:
    refusal = analyse(data, **options).refusal
    return refusal.code if refusal else None


@pytest.mark.parametrize("name", PORTRAITS)
def test_every_head_and_shoulders_or_waist_up_portrait_passes(name):
    result = analyse(photo_bytes(name))
    assert result.refusal is None, result.refusal
    assert result.faces.face_height >= MIN_FACE_HEIGHT
    assert result.faces.dominant.height >= MIN_FACE_PX


def test_a_face_the_photo_cuts_is_accepted_with_a_warning():
    result = analyse(photo_bytes("obama_partial_face.jpg"))
    assert result.refusal is None
    assert "face_cut_off" in result.warnings


@pytest.mark.parametrize("name", [n for n in PORTRAITS if n != "obama_partial_face.jpg"])
def test_a_whole_face_is_not_called_cut_off(name):
    assert "face_cut_off" not in analyse(photo_bytes(name)).warnings


@pytest.mark.parametrize("name", DISTANT)
def test_full_length_and_distant_shots_are_refused(name):
    result = analyse(photo_bytes(name))
    assert result.refusal is not None and result.refusal.code == "face_too_small"
    assert result.faces.face_detected and result.faces.face_height < MIN_FACE_HEIGHT
    assert "face is" in result.refusal.message and "20%" in result.refusal.message


def test_a_wide_frame_does_not_make_a_face_too_small():
    """No area test: a portrait padded into a 3:1 landscape frame still passes."""
    portrait = photo_array("obama2.jpg")
    height, width = portrait.shape[:2]
    wide = cv2.copyMakeBorder(portrait, 0, 0, width, width, cv2.BORDER_REPLICATE)
    assert wide.shape[1] >= 3 * width
    result = analyse(encode(wide))
    assert result.refusal is None
    box = result.faces.dominant
    assert box.area / (wide.shape[0] * wide.shape[1]) < 0.06  # the old area rule's refusal


def test_a_face_shorter_than_a_fifth_of_the_photo_is_refused():
    """The same portrait with empty space added above and below it."""
    portrait = photo_array("obama2.jpg")
    pad = int(0.3 * portrait.shape[0])
    tall = cv2.copyMakeBorder(portrait, pad, pad, 0, 0, cv2.BORDER_REPLICATE)
    result = analyse(encode(tall))
    assert 0.15 < result.faces.face_height < MIN_FACE_HEIGHT
    assert result.refusal.code == "face_too_small"


def test_a_face_under_100_px_is_refused_whatever_its_share():
    small = cv2.resize(photo_array("biden2.jpg"), (216, 216), interpolation=cv2.INTER_AREA)
    result = analyse(encode(small))
    assert result.faces.face_height > 0.3 and result.faces.dominant.height < MIN_FACE_PX
    assert result.refusal.code == "face_too_small" and "100 px" in result.refusal.message


def test_a_preset_can_raise_the_floor():
    """hires (1200 px out) asks a face of 160 px: the astronaut's 104 px is refused there."""
    data = photo_bytes("astronaut.png")
    assert refusal_code(data, platform="linkedin") is None
    assert get_platform("hires").min_face_px == 160
    assert refusal_code(data, platform="hires") == "face_too_small"


def test_an_account_can_raise_the_floor_but_not_lower_it():
    waist_up = photo_bytes("obama.jpg")  # 25% of the height
    assert refusal_code(waist_up, min_face_height=0.3) == "face_too_small"
    assert refusal_code(photo_bytes("lin-manuel-miranda.png"), min_face_height=0.3) is None
    assert refusal_code(photo_bytes("biden.jpg"), min_face_height=0.05) == "face_too_small"


def test_the_account_floor_reaches_generate(pipeline):
    with pytest.raises(PortraitError) as caught:
        pipeline.generate(photo_bytes("obama.jpg"), AvatarRequest(min_face_height=0.3))
    assert caught.value.code == "face_too_small"


def tight_crop(name: str, margin: float = 0.1) -> np.ndarray:
    """The face box grown by ``margin`` on each side: a close-up."""
    image = photo_array(name)
    box = find_faces(image)[0][0]
    x0, y0 = int(box.x - margin * box.width), int(box.y - margin * box.height)
    x1 = int(box.x + (1 + margin) * box.width)
    y1 = int(box.y + (1 + margin) * box.height)
    return np.ascontiguousarray(image[max(y0, 0) : y1, max(x0, 0) : x1])


@pytest.mark.parametrize("name", ["obama.jpg", "lin-manuel-miranda.png"])
def test_a_close_up_the_full_range_model_misses_is_found_by_the_short_range_one(pipeline, name):
    close_up = tight_crop(name)
    assert min(close_up.shape[:2]) >= 200
    assert _run_detector(FULL_RANGE, close_up) == []  # the premise: the long-range model misses
    analysis = detect_faces(close_up)
    assert analysis.face_count == 1 and analysis.landmarks is not None
    result = pipeline.generate(encode(close_up), AvatarRequest(request_id="close-up", seed=1))
    assert result.face_in_output and result.likeness_score >= 0.85


def assert_upright(avatar: np.ndarray) -> None:
    """The avatar's face is level and the right way up: forehead above the chin."""
    analysis = detect_faces(avatar)
    assert analysis.landmarks is not None
    assert abs(eye_line_degrees(analysis.landmarks)) <= 3.0
    assert analysis.landmarks[FOREHEAD, 1] < analysis.landmarks[CHIN, 1]
    (box,) = analysis.faces[:1]
    assert box.centre[1] < 0.6 * avatar.shape[0]  # the head in the upper part of the frame


@pytest.mark.parametrize("turns", [1, 2, 3])
@pytest.mark.parametrize("name", ["obama2.jpg", "lin-manuel-miranda.png"])
def test_a_photo_turned_without_exif_gives_the_upright_avatar(pipeline, name, turns):
    """Turned 90, 180 or 270 degrees with no orientation tag: the avatar is exactly
    the one the upright photo gives."""
    turned = np.ascontiguousarray(np.rot90(photo_array(name), turns))
    request = AvatarRequest(request_id="turned", seed=7, size=400)
    result = pipeline.generate(encode(turned), request)
    upright = pipeline.generate(encode(photo_array(name)), request)
    assert result.rotation == turns * 90 and upright.rotation == 0
    assert result.png == upright.png
    assert_upright(decode(result.png))


def test_an_upside_down_portrait_is_not_meshed_as_it_stands():
    """The full-range model "finds" an upside-down face; the orientation judge turns it."""
    flipped = np.ascontiguousarray(np.rot90(photo_array("biden2.jpg"), 2))
    assert _run_detector(FULL_RANGE, flipped)  # found as it stands, wrongly oriented
    result = analyse(encode(flipped))
    assert result.rotation == 180 and result.refusal is None
    assert result.faces.landmarks[FOREHEAD, 1] < result.faces.landmarks[CHIN, 1]


@pytest.mark.parametrize("name", ["coffee.png", "chelsea.png"])
def test_no_face_in_any_orientation_is_no_face(name):
    result = analyse(photo_bytes(name))
    assert result.refusal.code == "no_face"
    assert not result.faces.face_detected and result.rotation == 0


def face_lightness(image: np.ndarray) -> float:
    """Median L* (0-100) of the middle of the dominant face."""
    box = find_faces(image)[0][0]
    x0, y0 = int(box.x + 0.25 * box.width), int(box.y + 0.25 * box.height)
    x1, y1 = int(box.x + 0.75 * box.width), int(box.y + 0.75 * box.height)
    lab = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2LAB)
    return float(np.median(lab[..., 0])) * 100 / 255


@pytest.mark.parametrize("name", PORTRAITS + DISTANT)
def test_well_exposed_photos_are_left_alone(name):
    image = photo_array(name)
    corrected, warnings = correct_frame(image)
    assert corrected is image and warnings == ()
    face = find_faces(image)[0][0]
    lifted, warnings = lift_face(image, face)
    assert lifted is image and warnings == ()


def test_a_photo_darkened_to_012_is_corrected_and_warned(pipeline):
    photo = photo_array("obama2.jpg")
    dark = (photo * 0.12).astype(np.uint8)
    request = AvatarRequest(request_id="dark", seed=3)
    result = pipeline.generate(encode(dark), request)
    clean = pipeline.generate(encode(photo), request)
    assert "low_light" in result.validation_warnings
    assert result.input_quality_score < clean.input_quality_score - 0.3
    assert result.likeness_score >= 0.85 and result.face_in_output
    avatar, reference = decode(result.png), decode(clean.png)
    assert face_lightness(dark) < 10  # a silhouette, as it came
    assert abs(face_lightness(avatar) - face_lightness(reference)) < 6  # not one now
    assert abs(float(avatar.mean()) - float(reference.mean())) < 10


def test_a_dim_photo_is_corrected_without_a_warning(pipeline):
    photo = photo_array("biden2.jpg")
    dim = (photo * 0.35).astype(np.uint8)
    result = pipeline.generate(encode(dim), AvatarRequest(request_id="dim", seed=3))
    clean = pipeline.generate(encode(photo), AvatarRequest(request_id="dim", seed=3))
    assert result.validation_warnings == ()
    assert result.input_quality_score < clean.input_quality_score
    assert abs(face_lightness(decode(result.png)) - face_lightness(decode(clean.png))) < 6


def test_a_washed_out_photo_gets_its_blacks_back():
    photo = photo_array("biden2.jpg")
    washed = (photo * 0.45 + 135).astype(np.uint8)  # lifted, grey blacks
    corrected, warnings = correct_frame(washed)
    assert warnings == ()
    assert np.percentile(washed.min(axis=2), 0.5) > 130
    assert np.percentile(corrected.min(axis=2), 0.5) < 20
    assert corrected.std() > 1.8 * washed.std()


def backlit(photo: np.ndarray, factor: float) -> np.ndarray:
    """The person darkened to ``factor`` in a frame that stays bright (light behind them)."""
    box = find_faces(photo)[0][0]
    rows, cols = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]]
    cx, cy = box.centre
    spot = np.exp(
        -(((cols - cx) / (1.2 * box.width)) ** 2 + ((rows - cy) / (1.5 * box.height)) ** 2)
    )
    return (photo * (1 - (1 - factor) * spot)[..., None]).astype(np.uint8)


def test_a_backlit_face_is_lifted():
    photo = photo_array("obama2.jpg")
    dark = backlit(photo, 0.25)
    framed, warnings = correct_frame(dark)
    assert framed is dark and warnings == ()  # the frame itself is well exposed
    lifted, warnings = lift_face(dark, find_faces(dark)[0][0])
    assert warnings == ()
    assert face_lightness(dark) < 25 < face_lightness(lifted)
    assert np.percentile(lifted, 1) <= np.percentile(dark, 1) + 3  # black stays black


def test_a_face_too_dark_to_lift_is_warned():
    photo = photo_array("obama2.jpg")
    lifted, warnings = lift_face(backlit(photo, 0.04), find_faces(photo)[0][0])
    assert warnings == ("low_light",)


def test_a_face_clipped_to_white_is_overexposed():
    photo = photo_array("biden2.jpg")
    face = find_faces(photo)[0][0]
    blown = np.clip(photo.astype(np.int32) * 3, 0, 255).astype(np.uint8)
    _, warnings = lift_face(blown, face)
    assert warnings == ("overexposed",)


def test_a_big_photo_is_searched_small_and_measured_full_size():
    """A 13 MP photo on its side: faces are looked for on a copy, reported at full size."""
    photo = photo_array("biden2.jpg")
    (box,), _ = find_faces(photo)
    big = cv2.resize(photo, (3600, 3600), interpolation=cv2.INTER_CUBIC)
    turned, analysis, turns = detect_upright(np.ascontiguousarray(np.rot90(big)))
    assert turns == 3 and turned.shape == big.shape
    assert analysis.dominant.height == pytest.approx(3 * box.height, rel=0.03)
    assert analysis.dominant.centre[0] == pytest.approx(3 * box.centre[0], rel=0.03)
    assert analysis.landmarks is not None
    assert analysis.landmarks[FOREHEAD, 1] < analysis.landmarks[CHIN, 1]


@pytest.mark.parametrize("name", PORTRAITS + DISTANT)
def test_every_fixture_on_its_side_or_upside_down_is_turned_upright(name):
    photo = photo_array(name)
    for turns in (1, 2, 3):
        turned, analysis, back = detect_upright(np.ascontiguousarray(np.rot90(photo, turns)))
        assert analysis.face_detected and (turns + back) % 4 == 0, (name, turns)
        assert np.array_equal(turned, photo)


@pytest.mark.parametrize("name", PORTRAITS)
def test_every_portrait_darkened_to_012_is_accepted_with_a_warning(name):
    dark = (photo_array(name) * 0.12).astype(np.uint8)
    result = analyse(encode(dark))
    assert result.refusal is None, result.refusal
    assert "low_light" in result.warnings
    assert result.input_quality_score < analyse(photo_bytes(name)).input_quality_score


def test_the_check_gives_what_generate_gives(pipeline):
    """PortraitPipeline.analyse (the photo check) and generate run the same analysis."""
    for name, code in (("coffee.png", "no_face"), ("biden.jpg", "face_too_small")):
        assert pipeline.analyse(photo_bytes(name), "linkedin").refusal.code == code
        with pytest.raises(PortraitError) as caught:
            pipeline.generate(photo_bytes(name), AvatarRequest())
        assert caught.value.code == code
    dark = encode((photo_array("two_people.jpg") * 0.12).astype(np.uint8))
    check = pipeline.analyse(dark, "linkedin")
    result = pipeline.generate(dark, AvatarRequest(request_id="same", seed=2))
    assert check.warnings == ("multiple_faces", "low_light")
    assert result.validation_warnings[: len(check.warnings)] == check.warnings
    assert result.input_quality_score == check.input_quality_score
    assert result.dominant_face == check.faces.dominant
