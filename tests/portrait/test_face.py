"""FaceDetect and alignment on real photos with the real MediaPipe models."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from generation.portrait.align import align_face
from generation.portrait.background import place_on_background
from generation.portrait.errors import PortraitError
from generation.portrait.face import (
    CHIN,
    FOREHEAD,
    LEFT_CHEEK,
    RIGHT_CHEEK,
    detect_faces,
    eye_line_degrees,
    key_points,
    require_usable_face,
)
from generation.portrait.pipeline import AvatarRequest
from generation.portrait.presets import MIN_FACE_HEIGHT, MIN_FACE_PX
from generation.portrait.segment import segment_person
from generation.portrait.styles import STYLES, backdrop_for

from .conftest import decode, encode, photo_array


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def test_one_face_is_found_and_measured():
    analysis = detect_faces(photo_array("biden2.jpg"))
    assert analysis.face_detected and analysis.face_count == 1
    assert analysis.landmarks is not None and analysis.landmarks.shape == (478, 2)
    box = analysis.dominant
    assert 300 < box.width < 700 and 0.3 < box.centre[0] / 1200 < 0.7
    assert 0.35 < analysis.face_height < 0.5
    points = key_points(analysis.landmarks)
    assert points["image_left_eye"][0] < points["nose_tip"][0] < points["image_right_eye"][0]
    assert points["image_left_eye"][1] < points["nose_tip"][1] < points["chin"][1]


@pytest.mark.parametrize("name", ["coffee.png", "chelsea.png"])
def test_no_human_face_is_rejected(name):
    analysis = detect_faces(photo_array(name))
    assert not analysis.face_detected and analysis.face_count == 0
    with pytest.raises(PortraitError) as caught:
        require_usable_face(analysis, MIN_FACE_HEIGHT, MIN_FACE_PX)
    assert caught.value.code == "no_face"


def test_a_small_face_in_a_big_frame_is_rejected():
    analysis = detect_faces(photo_array("biden.jpg"))
    assert analysis.face_count == 1 and analysis.face_height < MIN_FACE_HEIGHT
    with pytest.raises(PortraitError) as caught:
        require_usable_face(analysis, MIN_FACE_HEIGHT, MIN_FACE_PX)
    assert caught.value.code == "face_too_small"


def test_group_photo_reports_every_face_largest_first():
    analysis = detect_faces(photo_array("two_people.jpg"))
    assert analysis.face_count == 2
    first, second = analysis.faces
    assert first.area >= second.area


def group_photo() -> tuple[np.ndarray, float]:
    """A large face beside a smaller one; returns the image and the large face's centre x."""
    big = photo_array("lin-manuel-miranda.png")
    small = cv2.resize(photo_array("biden2.jpg"), (300, 300), interpolation=cv2.INTER_AREA)
    canvas = np.full((big.shape[0], big.shape[1] + 300, 3), 255, np.uint8)
    canvas[:, :-300] = big
    canvas[150:450, -300:] = small
    return canvas, big.shape[1] / 2


def test_several_faces_proceed_on_the_dominant_one_with_a_warning(pipeline):
    image, big_centre_x = group_photo()
    result = pipeline.generate(
        encode(image), AvatarRequest(style="editorial", platform="portfolio", request_id="g")
    )
    assert result.face_count == 2
    assert "multiple_faces" in result.validation_warnings
    assert abs(result.dominant_face.centre[0] - big_centre_x) < 120
    assert result.likeness_score >= 0.85  # the avatar is of the dominant face


def test_group_photo_proceeds_on_the_larger_face(pipeline):
    """two_people.jpg: two people waist-up, the larger face 26% of the photo's height."""
    result = pipeline.generate(
        encode(photo_array("two_people.jpg")),
        AvatarRequest(style="corporate_headshot", platform="twitter", request_id="pair"),
    )
    faces = detect_faces(photo_array("two_people.jpg")).faces
    assert result.face_count == 2 and "multiple_faces" in result.validation_warnings
    assert result.dominant_face == faces[0] and faces[0].area >= faces[1].area


@pytest.mark.parametrize("degrees", [15, 30])
@pytest.mark.parametrize("name", ["lin-manuel-miranda.png", "biden2.jpg"])
def test_output_eye_line_is_level(pipeline, name, degrees):
    tilted = rotated(photo_array(name), degrees)
    assert abs(eye_line_degrees(detect_faces(tilted).landmarks)) > degrees - 8
    result = pipeline.generate(
        encode(tilted), AvatarRequest(style="corporate_headshot", request_id="tilt")
    )
    output = detect_faces(decode(result.png))
    assert output.landmarks is not None
    assert abs(eye_line_degrees(output.landmarks)) <= 2.0


def test_crop_is_square_and_centred_with_headroom():
    analysis = detect_faces(photo_array("obama2.jpg"))
    portrait = align_face(photo_array("obama2.jpg"), analysis, 800)
    assert portrait.image.shape == (800, 800, 3)
    cx, _ = portrait.face_box.centre
    assert abs(cx - 400) < 800 * 0.12
    assert 0.08 * 800 < portrait.face_box.y < 0.3 * 800  # room above the head, not too much
    assert portrait.face_box.height / 800 > 0.35


def test_past_the_photo_edge_shows_generated_background_only():
    """A photo cut to the cheeks, narrower than any square that holds the face from the
    forehead to the chin: the square reaches past the photo's sides."""
    whole = photo_array("obama2.jpg")
    marks = detect_faces(whole).landmarks
    face_height = marks[CHIN, 1] - marks[FOREHEAD, 1]
    rows = slice(
        int(marks[FOREHEAD, 1] - 0.3 * face_height), int(marks[CHIN, 1] + 0.6 * face_height)
    )
    columns = slice(int(marks[RIGHT_CHEEK, 0]), int(marks[LEFT_CHEEK, 0]))
    image = np.ascontiguousarray(whole[rows, columns])
    portrait = segment_person(align_face(image, detect_faces(image), 600))
    outside = portrait.inside == 0.0
    assert outside.mean() > 0.05  # the square really does reach past the edge
    assert portrait.matte[outside].max() == 0.0
    style = STYLES["corporate_headshot"]
    backdrop = backdrop_for(style, style.palette, 600)
    composite = place_on_background(portrait, backdrop).image
    assert np.abs(composite[outside].astype(int) - backdrop[outside]).max() <= 1
    assert composite[outside].mean() > 60  # no black fill


def test_framing_keeps_face_and_shoulders_inside_a_tight_photo():
    """Only headroom may come from past the photo's edge; the body is never cut by it."""
    image = photo_array("lin-manuel-miranda.png")
    portrait = align_face(image, detect_faces(image), 800)
    assert portrait.inside[int(0.3 * 800) :].mean() > 0.999
    assert abs(portrait.face_box.centre[0] - 400) < 800 * 0.12
