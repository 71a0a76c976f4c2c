"""How the avatars look: framing where the photo ends, one person per matte, seeded
backgrounds, and each style's defining property, measured on fixtures and variants."""

from __future__ import annotations

import numpy as np
import pytest

from generation.imaging.state import Box
from generation.management.commands.portrait_contact_sheet import (
    cut_at_chin,
    on_stage,
    side_by_side,
    tight_crop,
)
from generation.portrait.align import align_face, clothes_below
from generation.portrait.face import CHIN, FOREHEAD, RIGHT_CHEEK, detect_faces
from generation.portrait.segment import segment_person
from generation.portrait.styles import STYLES, backdrop_for

from .conftest import PHOTOS, photo_array

SIZE = 600
SEAM = 450  # side_by_side's splice: columns left of it are the other man's photo


def portrait_of(image: np.ndarray):
    return segment_person(align_face(image, detect_faces(image), SIZE))


def test_photo_cut_at_the_chin_tightens_instead_of_a_floating_head():
    portrait = portrait_of(cut_at_chin(PHOTOS))
    rows_with_person = (portrait.matte > 0.5).any(axis=1)
    assert rows_with_person[-int(SIZE * 0.03) :].all()  # no empty band under the head
    face_height = portrait.face_box.height / SIZE
    assert face_height > 0.5  # a tight head shot, not a small head over an empty frame


@pytest.mark.parametrize("make", [cut_at_chin, tight_crop], ids=["chin", "tight"])
def test_where_the_photo_ends_the_person_fades_out_softly(make):
    portrait = portrait_of(make(PHOTOS))
    # The person never shows more than the fall-off towards the photo's end lets through,
    # and that fall-off is gentle (at most 3% per pixel): no hard cut, no smear.
    assert (portrait.matte <= portrait.inside + 1e-6).all()
    for axis in (0, 1):
        assert np.abs(np.diff(portrait.inside, axis=axis)).max() < 0.03


def _box_mask(box: Box, size: int) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    x0, y0 = max(int(box.x), 0), max(int(box.y), 0)
    x1, y1 = min(int(box.x + box.width), size), min(int(box.y + box.height), size)
    mask[y0:y1, x0:x1] = True
    return mask


def test_group_photo_keeps_only_the_chosen_person():
    image = side_by_side(PHOTOS)
    analysis = detect_faces(image)
    assert analysis.face_count == 2
    portrait = portrait_of(image)
    (other,) = portrait.others
    where_other_was = _box_mask(other, SIZE)
    assert where_other_was.mean() > 0.02  # the other face really is inside the square
    assert portrait.matte[where_other_was].max() < 0.05
    own_face = _box_mask(portrait.face_box, SIZE)
    assert portrait.matte[own_face].mean() > 0.95


def test_shoulder_to_shoulder_the_neighbours_clothes_are_left_out():
    """Bodies that touch: the matte keeps the subject's jacket and drops the neighbour's."""
    image = side_by_side(PHOTOS)
    analysis = detect_faces(image)
    portrait = segment_person(align_face(image, analysis, SIZE))
    # Where each pixel of the square came from: the same framing over an image of x.
    height, width = image.shape[:2]
    columns = np.broadcast_to(np.arange(width, dtype=np.float32)[None, :, None], (height, width, 3))
    source_x = align_face(np.ascontiguousarray(columns), analysis, SIZE).image[..., 0]
    neighbours = source_x < SEAM - 10  # left of the splice: the other man, and his side
    subjects_jacket = (source_x > SEAM + 40) & (np.arange(SIZE)[:, None] > SIZE * 0.75)
    assert neighbours.mean() > 0.15 and subjects_jacket.mean() > 0.05
    assert (portrait.matte[neighbours] > 0.5).mean() < 0.03
    assert (portrait.matte[subjects_jacket] > 0.5).mean() > 0.9


def test_a_bigger_neighbour_off_the_frame_does_not_take_the_subjects_far_shoulder():
    """On the stage both men wear dark suits, so colour cannot part them there: the
    nearer figure does, and the subject keeps his jacket beyond his shirt."""
    portrait = portrait_of(on_stage(PHOTOS))
    assert len(portrait.others) == 1
    bottom = portrait.matte[int(0.85 * SIZE) :]
    shirt, jacket = (
        bottom[:, int(0.7 * SIZE) : int(0.8 * SIZE)],
        bottom[:, int(0.8 * SIZE) : int(0.88 * SIZE)],
    )
    assert (shirt > 0.5).mean() > 0.95
    assert (jacket > 0.5).mean() > 0.8


def test_other_peoples_clothes_are_sampled_below_their_faces():
    image = np.zeros((400, 300, 3), np.uint8)
    image[180:, :150] = (20, 30, 120)  # the other man's navy jacket, under his face
    samples = clothes_below(image, (Box(40, 60, 80, 100),))
    assert samples is not None and len(samples) > 100
    assert (samples == (20, 30, 120)).all()
    assert clothes_below(image, (Box(40, 350, 80, 100),)) is None  # chest below the photo


def test_a_close_up_is_framed_inside_the_photo_with_the_face_whole():
    """A photo cut close around the face: the framing tightens to the photo (no strip
    where it ends), cutting the forehead before a cheek or the chin."""
    portrait = portrait_of(tight_crop(PHOTOS))
    assert portrait.inside.min() == 1.0
    # The photo itself cuts the face at one cheek; the other and the chin stay in.
    assert portrait.landmarks[RIGHT_CHEEK, 0] >= 0
    assert portrait.landmarks[CHIN, 1] <= SIZE
    assert portrait.landmarks[FOREHEAD, 1] < SIZE * 0.1  # the forehead gives way first


def test_a_face_cut_by_the_photo_sits_against_that_edge_without_a_strip():
    portrait = portrait_of(photo_array("obama_partial_face.jpg"))
    assert portrait.inside.min() == 1.0  # the square ends where the photo does
    assert portrait.landmarks[:, 0].min() < 0  # so the face runs off it, as in the photo
    assert portrait.landmarks[CHIN, 1] <= SIZE


@pytest.mark.parametrize("name", ["obama_and_biden.jpg", "two_people.jpg"])
def test_group_matte_is_one_figure_without_ghost_blobs(name):
    import cv2

    portrait = portrait_of(photo_array(name))
    count, _, stats, _ = cv2.connectedComponentsWithStats((portrait.matte > 0.1).astype(np.uint8))
    areas = sorted(stats[1:, cv2.CC_STAT_AREA], reverse=True)
    assert areas[0] > 0.1 * SIZE * SIZE
    assert sum(areas[1:]) < 0.002 * SIZE * SIZE  # nothing but specks beside the subject


@pytest.mark.parametrize("style", sorted(STYLES))
def test_same_seed_same_backdrop_other_seeds_other_layouts(style):
    recipe = STYLES[style]
    first = backdrop_for(recipe, recipe.palette, 400, None, 11)
    backdrop_for.cache_clear()
    again = backdrop_for(recipe, recipe.palette, 400, None, 11)
    assert np.array_equal(first, again)
    others = [backdrop_for(recipe, recipe.palette, 400, None, seed) for seed in (12, 13, 14)]
    for other in others:
        difference = np.abs(first.astype(int) - other).mean()
        assert difference > 2.0


def test_studio_backdrops_are_soft_gradients_in_the_palette():
    recipe = STYLES["corporate_headshot"]
    for seed in range(4):
        backdrop = backdrop_for(recipe, recipe.palette, 400, None, seed).astype(np.float32)
        step = np.abs(np.diff(backdrop, axis=0)).max()
        assert step <= 4  # no edges: light falls off smoothly
        assert backdrop.max(axis=(0, 1)).max() - backdrop.min(axis=(0, 1)).min() > 20  # a fall-off
        light, dark = (np.array([0xDD, 0xE1, 0xE6]), np.array([0x7C, 0x87, 0x94]))
        assert (backdrop.reshape(-1, 3) >= dark - 6).all() and (backdrop <= light + 6).all()


def _redness(image: np.ndarray) -> np.ndarray:
    return image[..., 0].astype(np.float32) - image[..., 1]


def test_edges_lose_the_old_background_colour():
    """obama2.jpg stands before a red-striped flag: its red must not fringe his dark hair."""
    import cv2

    from generation.portrait.background import place_on_background

    portrait = portrait_of(photo_array("obama2.jpg"))
    solid = (portrait.matte > 0.95).astype(np.float32)
    spread = cv2.GaussianBlur(portrait.image * solid[..., None], (0, 0), 6)
    person_nearby = spread / np.maximum(cv2.GaussianBlur(solid, (0, 0), 6), 1e-3)[..., None]
    beside_hair = person_nearby.mean(axis=2) < 90
    edge = (portrait.matte > 0.02) & (portrait.matte < 0.98) & beside_hair
    assert edge.sum() > 500
    flag = edge & (_redness(portrait.image) > 80)
    assert flag.sum() > 100  # the flag's red really reaches the edge
    grey = np.full_like(portrait.image, 200)
    cleaned = place_on_background(portrait, grey).image
    # Hair and grey mixed are never redder than the hair itself.
    hair_red = _redness(person_nearby)[flag].mean()
    assert _redness(cleaned)[flag].mean() < hair_red


# --- anime: an illustration drawn over the face mesh ---------------------------------


@pytest.fixture(scope="module")
def lin():
    return portrait_of(photo_array("lin-manuel-miranda.png"))


def _stylise(portrait, style: str, intensity: float = 0.8) -> np.ndarray:
    from generation.engines import get_engine

    return get_engine("classic").stylise(style, portrait, intensity)


def _cheeks(portrait) -> np.ndarray:
    from generation.imaging.masks import FaceMasks

    return FaceMasks(portrait).skin > 0.99


def _colours_covering(pixels: np.ndarray, share: float = 0.9) -> int:
    """How many colours (16 levels a channel) it takes to cover ``share`` of the pixels."""
    codes = (pixels // 16).astype(np.int32) @ np.array([256, 16, 1])
    counts = np.sort(np.bincount(codes))[::-1]
    return int(np.searchsorted(np.cumsum(counts), share * counts.sum()) + 1)


@pytest.mark.parametrize("name", ["lin-manuel-miranda.png", "biden2.jpg", "alex-lacamoire.png"])
def test_anime_skin_is_painted_in_few_tones(name):
    portrait = portrait_of(photo_array(name))
    skin = _cheeks(portrait)
    painted = _colours_covering(_stylise(portrait, "anime")[skin])
    assert painted * 1.5 <= _colours_covering(portrait.image[skin])


def test_anime_draws_a_bold_upper_lash_line(lin):
    from generation.engines.classic.anime import UPPER_LIDS, warp_features

    art = _stylise(lin, "anime")
    moved = warp_features(lin, 0.8).landmarks
    for lid in UPPER_LIDS:
        points = moved[list(lid)].round().astype(int)
        lum = art[points[:, 1], points[:, 0]].mean(axis=1)
        assert np.median(lum) < 40  # ink all along the lid


def test_anime_enlarges_the_eyes_and_scales_with_intensity(lin):
    from generation.engines.classic.anime import UPPER_LIDS, warp_features

    def eye_width(landmarks: np.ndarray) -> float:
        lid = UPPER_LIDS[0]
        return float(np.linalg.norm(landmarks[lid[0]] - landmarks[lid[-1]]))

    before = eye_width(lin.landmarks)
    gentle, strong = (eye_width(warp_features(lin, i).landmarks) for i in (0.3, 1.0))
    assert before < gentle < strong and strong > 1.08 * before


def test_anime_skin_is_never_ashen_grey():
    """A black-and-white photo: the painted skin still has a skin hue."""
    import cv2

    grey = cv2.cvtColor(
        cv2.cvtColor(photo_array("biden2.jpg"), cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB
    )
    portrait = portrait_of(grey)
    art = _stylise(portrait, "anime")
    lab = cv2.cvtColor(art, cv2.COLOR_RGB2LAB).astype(np.float32)[_cheeks(portrait)]
    chroma = np.hypot(lab[:, 1] - 128, lab[:, 2] - 128)
    assert np.median(chroma) > 10


# --- corporate and editorial: studio light shaped by the face mesh -------------------


def _cheek_light(image: np.ndarray, portrait) -> tuple[float, float]:
    """Mean luminance of the image-left and image-right cheeks."""
    marks = portrait.landmarks
    r = int(portrait.face_box.width * 0.08)
    values = []
    for cheek in (234, 454):
        x, y = (marks[cheek] * 0.55 + marks[1] * 0.45).astype(int)
        values.append(float(image[y - r : y + r, x - r : x + r].mean()))
    return values[0], values[1]


@pytest.mark.parametrize("name", ["biden2.jpg", "obama2.jpg", "alex-lacamoire.png"])
def test_editorial_key_light_has_a_visible_direction(name):
    from generation.imaging.lighting import lit_side

    portrait = portrait_of(photo_array(name))
    side = lit_side(portrait)
    left, right = _cheek_light(portrait.image, portrait)
    styled_left, styled_right = _cheek_light(_stylise(portrait, "editorial"), portrait)
    lit, shade = (right, left) if side > 0.2 else (left, right)
    styled_lit, styled_shade = (
        (styled_right, styled_left) if side > 0.2 else (styled_left, styled_right)
    )
    assert styled_lit / styled_shade > 1.15 * (lit / shade)


def test_corporate_models_the_face_without_flattening_it():
    portrait = portrait_of(photo_array("biden2.jpg"))
    left, right = _cheek_light(portrait.image, portrait)
    styled_left, styled_right = _cheek_light(_stylise(portrait, "corporate_headshot"), portrait)
    contrast, styled = (
        abs(left - right) / (left + right),
        abs(styled_left - styled_right) / (styled_left + styled_right),
    )
    assert styled > 0.02 and styled > 0.8 * contrast  # modelled, still lit from one side


def test_matte_holds_with_plain_opencv_too(monkeypatch):
    """Without opencv-contrib's guided filter the matte is refined on luminance."""
    import cv2

    monkeypatch.delattr(cv2, "ximgproc")
    portrait = portrait_of(photo_array("biden2.jpg"))
    assert portrait.matte[_box_mask(portrait.face_box, SIZE)].mean() > 0.95
    assert portrait.matte[:40, :40].max() < 0.05 and portrait.matte[:40, -40:].max() < 0.05


def test_editorial_vignette_darkens_the_corners():
    from dataclasses import replace

    from generation.portrait.enhance import enhance_editorial

    portrait = portrait_of(photo_array("biden2.jpg"))
    flat = replace(portrait, image=np.full_like(portrait.image, 160))
    finished = enhance_editorial(flat).image.astype(np.float32).mean(axis=2)
    corner, centre = finished[:40, :40].mean(), finished[280:320, 280:320].mean()
    assert corner < 0.75 * centre
