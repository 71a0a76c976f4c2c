"""anime: an illustration drawn over the face mesh, still recognisably the person.

The 478 face-mesh points (irises included) steer everything: a gentle warp
(larger eyes, softer jaw), cel-shaded skin (a base, a shadow shape away from
the light, a highlight on the nose), clothes in flat regions of a small
palette, hair in flat tones with a highlight band, drawn anime eyes (white, a
tall iris with its pupil and two catchlights, a bold upper lash line),
simplified nose and mouth, and clean line art along the jaw, brows and figure.
``intensity`` scales the warp, the eyes and how much of the illustration
covers the photo.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import cv2
import numpy as np

from generation.imaging.beside import beside
from generation.imaging.filters import blend, luminance, to_float, to_uint8
from generation.imaging.masks import FaceMasks, irises
from generation.imaging.state import Portrait

from .warp import Bulge, Pinch, warp_face

COLOURS = 10
MERGE_DISTANCE = 12.0  # 8-bit Lab, lightness at half weight: nearer shades are one paint
LAB_WEIGHTS = np.array([0.5, 1.0, 1.0], np.float32)
INK = np.array([0.16, 0.09, 0.11], np.float32)
MIN_SKIN_CHROMA = 24.0  # Lab chroma under which painted skin reads as ashen grey or muddy
SMALLEST_SHAPE = 0.01  # of the face width squared: smaller patches of shade are no shapes
FINE_FORM = 1.15  # gain on the photo's fine modelling over the skin's flat tones

# Ordered face-mesh paths (image-left eye first).
UPPER_LIDS = (
    (33, 246, 161, 160, 159, 158, 157, 173, 133),
    (263, 466, 388, 387, 386, 385, 384, 398, 362),
)
LOWER_LIDS = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133),
    (263, 249, 390, 373, 374, 380, 381, 382, 362),
)
BROWS = (
    ((70, 63, 105, 66, 107), (46, 53, 52, 65, 55)),
    ((300, 293, 334, 296, 336), (276, 283, 282, 295, 285)),
)
NOSE = (98, 97, 2)  # one short stroke under the tip, on the shadow side
MOUTH_LINE = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LIPS = MOUTH_LINE + (324, 318, 402, 317, 14, 87, 178, 88, 95)
OUTER_LIPS = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181,
              91, 146)  # fmt: skip
JAW = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288,
       361, 323, 454)  # fmt: skip
FOREHEAD, CHIN, MOUTH_TOP = 10, 152, 13
NOSE_BRIDGE = (168, 6, 197, 195, 5)
NOSTRILS, SUBNASALE, UPPER_LIP_TOP = (98, 327), 2, 0
MOUTH_CORNERS, LOWER_LIP_BOTTOM = (61, 291), 17


def render(portrait: Portrait, intensity: float) -> np.ndarray:
    """Warp, paint at half size (flat regions need no more), then draw at full size."""
    portrait = warp_features(portrait, intensity)
    masks = FaceMasks(portrait)
    smooth = _smooth_half(portrait.image)
    half = smooth.shape[:2]
    person = _half(portrait.matte, half)
    flat = beside(flat_colour, smooth, person)  # the palette, while skin and hair are painted
    skin = skin_region(portrait, masks, smooth)
    hair = hair_region(portrait, smooth, skin, person)
    hair_paint = beside(paint_hair, portrait, smooth, hair, intensity)  # while the skin is shaded
    skin_paint = cel_shade(portrait, smooth, skin)
    paint = blend(flat.result(), hair_paint.result(), hair)
    paint = blend(paint, skin_paint, skin)
    paint = blend(paint, to_float(smooth), _half(masks.features, half) * 0.6)
    paint = blend(paint, INK, line_art(smooth, person, skin + hair))
    size = portrait.size
    art = cv2.resize(to_uint8(paint), (size, size), interpolation=cv2.INTER_LINEAR)
    rows, cols = portrait.face_slice(0.25)
    offset = np.array([cols.start, rows.start], np.float32)
    face = to_float(art[rows, cols])
    face = draw_mouth(portrait, face, offset)
    face = draw_eyes(portrait, face, offset, intensity)
    face = ink_features(portrait, face, offset)
    art[rows, cols] = to_uint8(face)
    cover = min(0.5 + 0.5 * intensity, 1.0)
    return cv2.addWeighted(portrait.image, 1.0 - cover, art, cover, 0.0)


def warp_features(portrait: Portrait, intensity: float) -> Portrait:
    """Larger eyes and a softer, narrower jaw, moved by the landmarks."""
    marks = portrait.landmarks
    face_width = portrait.face_box.width
    bulges = []
    for upper, lower in zip(UPPER_LIDS, LOWER_LIDS, strict=True):
        ring = marks[list(upper + lower)]
        width = float(np.linalg.norm(marks[upper[0]] - marks[upper[-1]]))
        bulges.append(Bulge(ring.mean(axis=0), 1.7 * width, 0.16 * intensity))
    centre_x = float(marks[[FOREHEAD, CHIN], 0].mean())
    pinch = Pinch(
        centre_x,
        float(marks[MOUTH_TOP, 1]),
        float(marks[CHIN, 1]),
        face_width,
        0.09 * intensity,
    )
    rows, cols = portrait.face_slice(0.3)
    image, landmarks = warp_face(portrait.image, marks, (rows, cols), bulges, pinch)
    return replace(portrait, image=image, landmarks=landmarks)


def _smooth_half(image: np.ndarray) -> np.ndarray:
    """Edge-preserving smoothing at half size: texture goes, shapes stay."""
    size = image.shape[0]
    half = cv2.resize(image, (size // 2, size // 2), interpolation=cv2.INTER_AREA)
    return cv2.bilateralFilter(half, 9, 50, 6)


def flat_colour(smooth: np.ndarray, person: np.ndarray) -> np.ndarray:
    """A small palette (k-means in Lab), more saturated, as cel paint, in flat regions.

    The palette is learnt on the person only (``person``: the matte at the
    same size); the photo's background is replaced anyway. Shades too close to
    tell apart are one paint (a dark suit is one colour, not mottled), and each
    pixel takes its neighbourhood's commonest paint: specks go, outlines are smooth.
    """
    lab = cv2.cvtColor(smooth, cv2.COLOR_RGB2LAB)
    samples = lab[person > 0.5][::9].astype(np.float32)
    if len(samples) < COLOURS:
        samples = lab.reshape(-1, 3)[::9].astype(np.float32)
    cv2.setRNGSeed(7)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 12, 1.0)
    _, chosen, centres = cv2.kmeans(samples, COLOURS, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    centres = _merge_close(centres, np.bincount(chosen.ravel(), minlength=len(centres)))
    nearest = _nearest_centre_table(centres)
    cells = lab >> 3  # 32 levels per channel: a 32k-entry lookup instead of a distance per pixel
    labels = nearest[cells[..., 0], cells[..., 1], cells[..., 2]]
    labels = _mode_filter(labels, len(centres), 2 * (smooth.shape[0] // 80) + 1)
    centres[:, 1:] = 128 + (centres[:, 1:] - 128) * 1.1
    paint = np.clip(centres, 0, 255).astype(np.uint8)[labels]
    return to_float(cv2.cvtColor(paint, cv2.COLOR_LAB2RGB))


def _mode_filter(labels: np.ndarray, count: int, size: int) -> np.ndarray:
    """Each pixel's commonest label in the ``size`` square around it."""
    best = np.zeros(labels.shape, np.uint16)
    commonest = labels.copy()
    for label in range(count):
        votes = cv2.boxFilter(
            (labels == label).view(np.uint8), cv2.CV_16U, (size, size), normalize=False
        )
        commonest[votes > best] = label
        best = np.maximum(best, votes)
    return commonest


def _merge_close(centres: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Palette centres (8-bit Lab) with each pair nearer than MERGE_DISTANCE merged
    into their count-weighted mean, nearest pair first. Lightness counts half: the
    shading across one cloth is mostly lightness."""
    centres, counts = list(centres), list(counts.astype(np.float32) + 1.0)
    while len(centres) > 2:
        points = np.array(centres)
        gaps = np.linalg.norm((points[:, None] - points[None]) * LAB_WEIGHTS, axis=-1)
        np.fill_diagonal(gaps, np.inf)
        i, j = np.unravel_index(gaps.argmin(), gaps.shape)
        if gaps[i, j] >= MERGE_DISTANCE:
            break
        weight = counts[i] + counts[j]
        centres[i] = (centres[i] * counts[i] + centres[j] * counts[j]) / weight
        counts[i] = weight
        del centres[j], counts[j]
    return np.array(centres, np.float32)


@cache
def _cell_centres() -> np.ndarray:
    axis = np.arange(32, dtype=np.float32) * 8 + 4
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)


def _nearest_centre_table(centres: np.ndarray) -> np.ndarray:
    """For every 8x8x8 Lab cell, the index of the nearest palette centre."""
    # |g - c|^2 = |g|^2 - 2 g.c + |c|^2, and |g|^2 does not change the argmin.
    distances = (centres**2).sum(1)[None, :] - 2.0 * _cell_centres() @ centres.T
    return distances.argmin(1).astype(np.uint8).reshape(32, 32, 32)


def _half(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return cv2.resize(mask, shape[1::-1], interpolation=cv2.INTER_AREA)


def skin_region(portrait: Portrait, masks: FaceMasks, smooth: np.ndarray) -> np.ndarray:
    """Face skin plus all of the person in its colour (neck, ears, hands), at half size."""
    assert portrait.matte is not None
    face = _half(masks.skin, smooth.shape)
    lab = cv2.cvtColor(smooth, cv2.COLOR_RGB2LAB).astype(np.float32)
    tone = np.median(lab[face > 0.9], axis=0)
    distance = np.sqrt(
        0.15 * (lab[..., 0] - tone[0]) ** 2 + 1.5 * ((lab[..., 1:] - tone[1:]) ** 2).sum(-1)
    )
    similar = np.clip((19.0 - distance) / 7.0, 0.0, 1.0)
    sample = face[::4, ::4] > 0.9
    face_tone = np.median(lab[::4, ::4][sample], axis=0) if sample.any() else None
    # So is the neck in the jaw's shade (of the face's hue, however much darker): left
    # out, it was painted as a large flat patch of the clothes' palette.
    neck = _skin_like(lab, face_tone, _neck_zone(portrait, smooth.shape), darker=0.55) > 0.5
    similar = np.maximum(similar, neck.astype(np.float32))
    similar = cv2.morphologyEx(similar, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    similar = cv2.GaussianBlur(similar, (0, 0), 1.2) * _half(portrait.matte, smooth.shape)
    # Skin the photo lights brighter (a forehead, a cheekbone) is skin too, not an island.
    near = _half(masks.region("FACEMESH_FACE_OVAL", grow=1.25), smooth.shape) > 0.5
    lit = _skin_like(lab, face_tone, near.astype(np.uint8))
    keep_out = _half(masks.features, smooth.shape)
    return np.clip(np.maximum(np.maximum(face, similar), lit) - keep_out, 0.0, 1.0)


def _skin_tones(rgb: np.ndarray, on_skin: np.ndarray) -> tuple[np.ndarray, ...]:
    """Base, shadow and light paint for the skin: the person's own tone, a little
    lighter and never greyer than a healthy minimum chroma (no ashen or muddy skin)."""
    lab = cv2.cvtColor(rgb[None, on_skin][:, ::7], cv2.COLOR_RGB2LAB).reshape(-1, 3)
    lightness, a, b = np.median(lab, axis=0)
    chroma = float(np.hypot(a, b))
    if chroma < MIN_SKIN_CHROMA:
        # Grey skin gets the chroma of a skin hue (warm: a:b about 0.6).
        hue = np.array([0.55, 0.83], np.float32) if chroma < 2 else np.array([a, b]) / chroma
        a, b = hue * MIN_SKIN_CHROMA
    lightness = lightness + (100.0 - lightness) * 0.12

    def tone(d_light: float, chroma_gain: float, d_hue: float) -> np.ndarray:
        angle = np.arctan2(b, a) + d_hue
        c = np.hypot(a, b) * chroma_gain
        pixel = np.array([[[lightness + d_light, c * np.cos(angle), c * np.sin(angle)]]])
        return cv2.cvtColor(pixel.astype(np.float32), cv2.COLOR_LAB2RGB)[0, 0]

    return tone(0.0, 1.1, 0.0), tone(-13.0, 1.25, 0.1), tone(7.0, 0.85, -0.04)


def cel_shade(portrait: Portrait, smooth: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Skin in flat tones with clean edges: the base, one shadow shape on the side
    away from the light and a small highlight down the nose's bridge, with the
    photo's finest modelling over them."""
    rgb = to_float(smooth)
    on_skin = skin > 0.8
    if on_skin.sum() < 20:
        return rgb
    # The tones are the face's own: a neck in shade would darken and grey them.
    base, shadow, light = _skin_tones(rgb, _above(on_skin, _below_jaw(portrait, on_skin.shape)))
    shade, far = shadow_shape(portrait, rgb, on_skin)
    glint = _nose_highlight(portrait, far, smooth.shape) * (1.0 - shade)
    tones = base + (shadow - base) * shade[..., None]
    return _with_fine_form(blend(tones, light, glint), rgb)


def _with_fine_form(paint: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """The photo's fine modelling (creases, the nose's edges, nostrils) over flat
    paint, a little deepened: without it a face's likeness falls from about 0.75
    to 0.45. Only detail finer than a few pixels passes; broader blotches are left
    to the flat tones."""
    size = rgb.shape[0]
    form = cv2.GaussianBlur(luminance(rgb), (0, 0), size / 300)
    form = form / np.maximum(cv2.GaussianBlur(form, (0, 0), size / 60), 1e-3)
    return np.clip(paint * (1.0 + FINE_FORM * (form - 1.0))[..., None], 0.0, 1.0)


def shadow_shape(
    portrait: Portrait, rgb: np.ndarray, on_skin: np.ndarray
) -> tuple[np.ndarray, float]:
    """Where the skin is in shade (half size, anti-aliased), and how much darker the
    image-right cheek is than the left (``far``, + : the light comes from the left).

    The shade is a crescent along the far cheek and the jaw, the photo's own broad
    shade above the jaw, shapes under the nose and the lower lip, and a band under
    the jaw (its cast shadow).
    Shapes too small to be drawn on purpose are dropped, holes filled and outlines
    smoothed: cel paint has no islands."""
    shape = rgb.shape[:2]
    scale = shape[0] / portrait.size
    marks = portrait.landmarks * scale
    width = portrait.face_box.width * scale
    lum = cv2.GaussianBlur(luminance(rgb), (0, 0), max(width / 16, 1.0))
    far = _far_side(marks, lum, on_skin)
    below = _below_jaw(portrait, shape)
    face = _above(on_skin, below)
    level = float(np.median(lum[face]))
    spread = float(np.std(lum[face])) + 1e-3
    dark = ((lum < level - 0.7 * spread) & on_skin).astype(np.uint8)
    # The face lit from one side: its oval (the mesh's outline; the irises are the
    # last points) less itself moved towards the light.
    oval = cv2.convexHull(marks[:468].astype(np.float32))
    side = 1.0 if far >= 0 else -1.0
    reach = 0.08 + 0.6 * min(abs(far), 0.2)
    crescent = np.zeros(shape, np.uint8)
    cv2.fillPoly(crescent, [_fixed(oval)], 1, cv2.LINE_8, 2)
    cv2.fillPoly(crescent, [_fixed(oval + np.array([-side * reach, -0.05]) * width)], 0,
                 cv2.LINE_8, 2)  # fmt: skip
    dark |= crescent
    # Under the nose and the lower lip, a little towards the far side.
    nose = float(np.linalg.norm(marks[NOSTRILS[0]] - marks[NOSTRILS[1]]))
    lip_gap = marks[UPPER_LIP_TOP] - marks[SUBNASALE]
    under_nose = marks[SUBNASALE] + 0.35 * lip_gap + np.array([side * 0.08 * nose, 0.0])
    _ellipse(dark, under_nose, (0.32 * nose, 0.2 * float(np.linalg.norm(lip_gap))))
    chin_gap = marks[CHIN] - marks[LOWER_LIP_BOTTOM]
    mouth = float(np.linalg.norm(marks[MOUTH_CORNERS[0]] - marks[MOUTH_CORNERS[1]]))
    under_lip = marks[LOWER_LIP_BOTTOM] + 0.22 * chin_gap
    _ellipse(dark, under_lip, (0.28 * mouth, 0.13 * float(np.linalg.norm(chin_gap))))
    # Under the jaw only its cast shadow, a band along it: the photo's shade there
    # (a neck in shadow, a hand) made a large blob.
    dark &= 1 - below
    dark |= (_neck_shadow(portrait, shape) > 0.5).astype(np.uint8)
    soft = cv2.GaussianBlur(dark.astype(np.float32), (0, 0), max(width / 40, 1.0))
    smallest = max(int(SMALLEST_SHAPE * width * width), 4)
    dark = _without_specks(_without_specks((soft > 0.5).astype(np.uint8), smallest), smallest, 0)
    return cv2.GaussianBlur(dark.astype(np.float32), (0, 0), 0.7), far


def _far_side(marks: np.ndarray, lum: np.ndarray, on_skin: np.ndarray) -> float:
    """The left cheek's light less the right's, over the brighter (0 if unseen)."""
    middle = float(marks[list(NOSE_BRIDGE), 0].mean())
    top, bottom = int(marks[FOREHEAD, 1]), int(marks[CHIN, 1])
    rows = on_skin[top:bottom]
    x = np.arange(on_skin.shape[1])
    left, right = rows & (x < middle), rows & (x >= middle)
    if left.sum() < 10 or right.sum() < 10:
        return 0.0
    face = lum[top:bottom]
    lit_left, lit_right = float(np.median(face[left])), float(np.median(face[right]))
    return (lit_left - lit_right) / max(lit_left, lit_right, 1e-3)


def _without_specks(mask: np.ndarray, smallest: int, value: int = 1) -> np.ndarray:
    """``mask`` (0/1) with the regions of ``value`` smaller than ``smallest`` pixels
    given the other value: islands go (value 1) or holes are filled (value 0)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(
        (mask == value).astype(np.uint8), connectivity=4
    )
    small = stats[:, cv2.CC_STAT_AREA] < smallest
    small[0] = False
    out = mask.copy()
    out[small[labels]] = 1 - value
    return out


def _nose_highlight(portrait: Portrait, far: float, shape: tuple[int, ...]) -> np.ndarray:
    """A slim highlight down the nose's bridge, towards the light (half size)."""
    scale = shape[0] / portrait.size
    top, bottom = portrait.landmarks[[NOSE_BRIDGE[1], NOSE_BRIDGE[-1]]] * scale
    width = portrait.face_box.width * scale
    side = 1.0 if far >= 0 else -1.0
    centre = (top + bottom) / 2 - np.array([side * 0.025 * width, 0.0])
    length = float(np.linalg.norm(bottom - top))
    angle = float(np.degrees(np.arctan2(bottom[1] - top[1], bottom[0] - top[0])))
    glint = np.zeros(shape[:2], np.float32)
    cv2.ellipse(glint, _pt(centre), _pt((0.42 * length, 0.03 * width)), angle, 0, 360, 1.0,
                -1, cv2.LINE_AA, shift=2)  # fmt: skip
    return glint


def _ellipse(mask: np.ndarray, centre: np.ndarray, axes: tuple[float, float]) -> None:
    cv2.ellipse(mask, _pt(centre), _pt(axes), 0, 0, 360, 1, -1, cv2.LINE_8, shift=2)


def _fixed(points: np.ndarray) -> np.ndarray:
    """Points with 2 bits of subpixel precision, for OpenCV's drawing with shift=2."""
    return np.round(points.reshape(-1, 2) * 4).astype(np.int32)


def _neck_shadow(portrait: Portrait, shape: tuple[int, ...]) -> np.ndarray:
    """The cast shadow under the jaw that cel art always draws."""
    scale = shape[0] / portrait.size
    jaw = portrait.landmarks[list(JAW)] * scale
    drop = np.array([0.0, 0.09 * portrait.face_box.height * scale])
    shade = np.zeros(shape[:2], np.float32)
    shape_points = np.concatenate([jaw, (jaw + drop)[::-1]]).astype(np.int32)
    cv2.fillPoly(shade, [shape_points], 1.0, cv2.LINE_AA)
    return cv2.GaussianBlur(shade * _below_jaw(portrait, shape), (0, 0), 1.0)


def _below_jaw(portrait: Portrait, shape: tuple[int, ...]) -> np.ndarray:
    """1 under the jaw's line, and beyond its ends under their height (0/1, uint8)."""
    jaw = portrait.landmarks[list(JAW)] * (shape[0] / portrait.size)
    end = shape[0] * 2  # well outside the image
    sides = [[end, jaw[-1, 1]], [end, end], [-end, end], [-end, jaw[0, 1]]]
    below = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(below, [np.concatenate([jaw, sides]).astype(np.int32)], 1)
    return below


def _above(on_skin: np.ndarray, below: np.ndarray) -> np.ndarray:
    """The skin outside ``below`` (the face's own), or all of it where that is too little."""
    face = on_skin & (below == 0)
    return face if face.sum() >= 20 else on_skin


def _neck_zone(portrait: Portrait, shape: tuple[int, ...]) -> np.ndarray:
    """Under the jaw, down to half a face below the chin: the neck, and a hand
    there (0/1, uint8)."""
    zone = _below_jaw(portrait, shape)
    foot = (portrait.landmarks[CHIN, 1] + 0.5 * portrait.face_box.height) * shape[0] / portrait.size
    zone[max(int(foot), 0) :] = 0
    return zone


def hair_region(
    portrait: Portrait, smooth: np.ndarray, skin: np.ndarray, person: np.ndarray
) -> np.ndarray:
    """The person above and beside the face that is not skin: hair (half size)."""
    scale = smooth.shape[0] / portrait.size
    box = portrait.face_box
    cx, cy = (v * scale for v in box.centre)
    width, height = box.width * scale, box.height * scale
    axis = np.arange(smooth.shape[0], dtype=np.float32) + 0.5
    x, y = axis[None, :], axis[:, None]
    head = np.sqrt(((x - cx) / (0.85 * width)) ** 2 + ((y - cy + 0.2 * height) / height) ** 2)
    zone = np.clip((1.05 - head) / 0.1, 0.0, 1.0) * (y < cy + 0.35 * height)
    masks = FaceMasks(portrait)
    face = _half(masks.region("FACEMESH_FACE_OVAL", grow=1.02), smooth.shape)
    hair = zone * person * (1.0 - np.clip(skin * 2.0, 0.0, 1.0)) * (1.0 - face)
    hair = cv2.morphologyEx(hair, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return cv2.GaussianBlur(hair, (0, 0), 1.0)


def _skin_like(
    lab: np.ndarray, tone: np.ndarray | None, near: np.ndarray, darker: float = 0.0
) -> np.ndarray:
    """How much each pixel in ``near`` is skin that the face mask missed (a forehead
    lit brighter): of the face's hue and chroma (``tone``, Lab like ``lab``; None when
    no face skin was seen) and about as light or lighter, or down to ``darker`` (a
    share of the face's lightness) below it. Hair by the face is darker or of another
    chroma (white hair is grey)."""
    like = np.zeros(near.shape, np.float32)
    x, y, w, h = cv2.boundingRect(near)
    if w == 0 or tone is None:
        return like
    rows, cols = slice(y, y + h), slice(x, x + w)
    offset = lab[rows, cols] - tone
    gap = cv2.magnitude(np.ascontiguousarray(offset[..., 1]), np.ascontiguousarray(offset[..., 2]))
    # L runs 0-255 here: at most about 6 lightness below the skin's median (and
    # ``darker`` more), or lighter.
    lit = np.clip((offset[..., 0] + 30.0 + darker * float(tone[0])) / 15.0, 0.0, 1.0)
    like[rows, cols] = np.clip((12.0 - gap) / 4.0, 0.0, 1.0) * lit * near[rows, cols]
    return like


def paint_hair(
    portrait: Portrait, smooth: np.ndarray, hair: np.ndarray, intensity: float
) -> np.ndarray:
    """Hair in three flat tones of its own colour: base, a shadow under its lower
    edges and in the photo's shade, and a highlight band (the "angel ring") across
    the crown, its lower edge cut in points. The band scales with ``intensity``."""
    rgb = to_float(smooth)
    on_hair = hair > 0.7
    if on_hair.sum() < 30:
        return rgb
    scale = smooth.shape[0] / portrait.size
    # Its colour is read over the crown where there is enough hair: beside the face
    # the region can hold skin in shade.
    crown = on_hair.copy()
    crown[int(portrait.landmarks[FOREHEAD, 1] * scale) :] = False
    base, shadow, light = _hair_tones(rgb, crown if crown.sum() * 4 > on_hair.sum() else on_hair)
    width = portrait.face_box.width * scale
    lum = cv2.GaussianBlur(luminance(rgb), (0, 0), smooth.shape[0] / 40)
    shade = (lum < 0.75 * float(np.median(lum[on_hair]))).astype(np.uint8)
    shade = cv2.morphologyEx(shade, cv2.MORPH_OPEN, np.ones((7, 7), np.uint8))
    # The hair's lower edges (over the forehead, at the tips) lie in its own shadow.
    drop = max(int(0.035 * width), 2)
    edge = on_hair.copy()
    edge[:-drop] &= ~on_hair[drop:]
    shade = cv2.GaussianBlur(np.maximum(shade, edge).astype(np.float32), (0, 0), 0.8)
    ring = _angel_ring(portrait, hair > 0.5, scale) * min(1.25 * intensity, 1.0)
    return blend(base + (shadow - base) * shade[..., None], light, ring)


def _hair_tones(rgb: np.ndarray, on_hair: np.ndarray) -> tuple[np.ndarray, ...]:
    """Base, shadow and highlight paint for the hair, in its own hue. Dark hair is
    deepened towards anime's blue-black and gets a cooler, much lighter sheen;
    light hair a brighter, whiter one."""
    lab = cv2.cvtColor(rgb[None, on_hair][:, ::5], cv2.COLOR_RGB2LAB).reshape(-1, 3)
    lightness, a, b = np.median(lab, axis=0)
    dark = float(np.clip((62.0 - lightness) / 30.0, 0.0, 1.0))  # 1: dark hair, 0: fair
    grey = float(np.clip(1.0 - np.hypot(a, b) / 20.0, 0.0, 1.0))
    # Black hair (near grey, its darkest strands near black, its median below a mid
    # grey) is deepened towards anime's blue-black: sheen or a stage light lifts its
    # median to lightness 40-45 that, painted flat, reads as grey hair; its body is
    # the darker part. Grey hair (salt and pepper, median 55 or more) stays grey;
    # white hair's body is its lighter part (shade lowers the median). Brown, blond
    # or red hair keeps its tone.
    strands = np.clip((48.0 - np.percentile(lab[:, 0], 10)) / 15.0, 0.0, 1.0)
    median = np.clip((58.0 - lightness) / 10.0, 0.0, 1.0)
    cool = grey * float(strands * median)
    share = 50.0 - 30.0 * cool + 15.0 * (1.0 - dark) * grey
    lightness = float(np.percentile(lab[:, 0], share)) * (1.0 - 0.5 * cool)
    a, b = a * (1.0 - 0.6 * cool), b * (1.0 - 0.6 * cool)  # the light's warm cast goes

    def tone(d_light: float, chroma: float, d_b: float) -> np.ndarray:
        level = np.clip(lightness + d_light, 3.0, 97.0)
        pixel = np.array([[[level, a * chroma, b * chroma + d_b]]])
        return cv2.cvtColor(pixel.astype(np.float32), cv2.COLOR_LAB2RGB)[0, 0]

    return (
        tone(0.0, 1.0, -5.0 * cool),
        tone(-min(8.0 + 10.0 * (1.0 - dark), 0.45 * lightness), 1.1, -7.0 * cool),
        tone(18.0 + 9.0 * dark, 0.8, -10.0 * cool - 2.0),
    )


def _angel_ring(portrait: Portrait, hair: np.ndarray, scale: float) -> np.ndarray:
    """A band of sheen following the crown's outline a little below it, tapering to
    points at the sides, its lower edge cut in teeth (weights, half size)."""
    box = portrait.face_box
    cx, width = box.centre[0] * scale, box.width * scale
    crown = hair[: max(int(portrait.landmarks[FOREHEAD, 1] * scale), 1)]
    depth = crown.sum(0).astype(np.float32)  # hair over the forehead, per column
    top = crown.argmax(0).astype(np.float32)
    seen = (depth >= 3).astype(np.float32)
    sigma = max(width / 25, 1.0)

    def along(values: np.ndarray) -> np.ndarray:  # smoothed across columns, gaps ignored
        total = cv2.GaussianBlur((values * seen)[None], (0, 0), sigma)[0]
        return total / np.maximum(cv2.GaussianBlur(seen[None], (0, 0), sigma)[0], 1e-3)

    depth, top = along(depth), along(top)
    x = np.arange(hair.shape[1], dtype=np.float32) + 0.5
    reach = np.clip((0.55 - np.abs(x - cx) / width) / 0.25, 0.0, 1.0) * (seen > 0)
    upper = top + 0.28 * depth
    height = np.minimum(np.maximum(0.32 * depth, 0.06 * width), 0.6 * depth) * np.sqrt(reach)
    teeth = np.abs(((x - cx) / (width / 7.0)) % 1.0 - 0.5) * 2.0  # 0 at each point
    lower = upper + height * (1.0 - 0.5 * teeth)
    y = np.arange(hair.shape[0], dtype=np.float32)[:, None] + 0.5
    ring = np.clip(y - upper + 0.5, 0.0, 1.0) * np.clip(lower - y + 0.5, 0.0, 1.0)
    return ring * (reach > 0) * hair


def line_art(smooth: np.ndarray, person: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Ink along the figure's outline and the strong folds of hair and clothes (half
    size); none on skin, and no specks: strokes shorter than a few pixels are dropped."""
    grey = luminance(to_float(smooth))
    dog = cv2.GaussianBlur(grey, (0, 0), 1.0) - cv2.GaussianBlur(grey, (0, 0), 2.0)
    ink = np.clip((-dog - 0.012) * 30.0, 0.0, 1.0) * person
    ink *= 1.0 - np.clip(cv2.GaussianBlur(np.minimum(flat, 1.0), (0, 0), 2.0) * 1.5, 0, 1) * 0.9
    strokes = (ink > 0.3).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(strokes, connectivity=8)
    long_enough = stats[:, cv2.CC_STAT_AREA] >= max(smooth.shape[0] // 40, 6)
    long_enough[0] = False
    ink *= long_enough[labels]
    edge = cv2.morphologyEx(person, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    outline = np.clip(cv2.GaussianBlur(edge, (0, 0), 0.7) * 1.6, 0.0, 1.0)
    return np.maximum(ink * 0.8, outline) * 0.9


def _path(portrait: Portrait, indices: tuple[int, ...], offset: np.ndarray) -> np.ndarray:
    return _fixed(portrait.landmarks[list(indices)] - offset)


def _around(
    portrait: Portrait, indices: tuple[int, ...], shape: tuple[int, ...], offset: np.ndarray,
    pad: float,
) -> tuple[slice, slice]:  # fmt: skip
    """Rows and columns of a crop of ``shape`` (at ``offset``) around some landmarks."""
    points = portrait.landmarks[list(indices)] - offset
    (x0, y0), (x1, y1) = points.min(axis=0) - pad, points.max(axis=0) + pad
    rows = slice(max(int(y0), 0), min(int(y1) + 2, shape[0]))
    cols = slice(max(int(x0), 0), min(int(x1) + 2, shape[1]))
    return rows, cols


def draw_mouth(portrait: Portrait, face: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Flat lips of one tone and an open mouth as a dark shape (teeth left light)."""
    rows, cols = _around(portrait, OUTER_LIPS, face.shape, offset, 4.0)
    part = face[rows, cols]
    at = offset + np.array([cols.start, rows.start], np.float32)
    lips = np.zeros(part.shape[:2], np.float32)
    cv2.fillPoly(lips, [_path(portrait, OUTER_LIPS, at)], 1.0, cv2.LINE_AA, shift=2)
    inner = np.zeros_like(lips)
    cv2.fillPoly(inner, [_path(portrait, INNER_LIPS, at)], 1.0, cv2.LINE_AA, shift=2)
    lips = np.clip(lips - inner, 0.0, 1.0)
    if (lips > 0.8).sum() > 4:
        tone = np.median(part[lips > 0.8], axis=0)
        part = blend(part, tone, cv2.GaussianBlur(lips, (0, 0), 0.8) * 0.85)
    if inner.sum() > 4:
        open_mouth = part.copy()
        bright = luminance(part) > 0.55  # teeth stay as they are, the rest is shade
        open_mouth[~bright] = INK * 1.6
        part = blend(part, open_mouth, cv2.GaussianBlur(inner, (0, 0), 0.8) * 0.8)
    face[rows, cols] = part
    return face


def draw_eyes(
    portrait: Portrait, face: np.ndarray, offset: np.ndarray, intensity: float
) -> np.ndarray:
    """Anime eyes in each eye opening: a bright white, a tall iris darkening to its
    top with a pupil, and two catchlights. ``face`` is a crop at ``offset``."""
    for (centre, radius), upper, lower in zip(
        irises(portrait), UPPER_LIDS, LOWER_LIDS, strict=True
    ):
        rows, cols = _around(portrait, upper + lower, face.shape, offset, 2.0 * radius)
        part = face[rows, cols]
        at = offset + np.array([cols.start, rows.start], np.float32)
        opening = np.zeros(part.shape[:2], np.float32)
        cv2.fillPoly(opening, [_path(portrait, upper + lower[::-1], at)], 1.0, cv2.LINE_AA,
                     shift=2)  # fmt: skip
        if (opening > 0.5).sum() < 4:
            continue
        iris_colour = np.median(part[opening > 0.5], axis=0) * 0.55
        part = blend(part, np.array([0.96, 0.96, 0.99], np.float32), opening * 0.9)
        c = centre - at
        grow = 1.0 + 0.15 * intensity
        rx, ry = radius * 1.05 * grow, radius * 1.25 * grow
        iris = np.zeros_like(opening)
        cv2.ellipse(iris, _pt(c), _pt((rx, ry)), 0, 0, 360, 1.0, -1, cv2.LINE_AA, shift=2)
        ys = (np.arange(part.shape[0], dtype=np.float32)[:, None] - (c[1] - ry)) / (2 * ry)
        gradient = np.clip(ys, 0.0, 1.0)[..., None]
        lit = np.clip(iris_colour * 1.9 + 0.08, 0.0, 1.0)
        colour = INK * (1 - gradient) + lit * gradient
        part = blend(part, colour, iris * opening)
        pupil = np.zeros_like(opening)
        cv2.ellipse(pupil, _pt(c), _pt((rx * 0.42, ry * 0.5)), 0, 0, 360, 1.0, -1, cv2.LINE_AA,
                    shift=2)  # fmt: skip
        part = blend(part, INK * 0.6, pupil * opening)
        lights = np.zeros_like(opening)
        cv2.circle(lights, _pt(c + np.array([-0.4 * rx, -0.45 * ry])), int(4 * radius * 0.38),
                   1.0, -1, cv2.LINE_AA, shift=2)  # fmt: skip
        cv2.circle(lights, _pt(c + np.array([0.35 * rx, 0.4 * ry])), int(4 * radius * 0.16),
                   1.0, -1, cv2.LINE_AA, shift=2)  # fmt: skip
        face[rows, cols] = blend(
            part, np.ones(3, np.float32), lights * np.clip(opening * 1.5, 0, 1)
        )
    return face


def _pt(point) -> tuple[int, int]:
    return int(round(point[0] * 4)), int(round(point[1] * 4))


def ink_features(portrait: Portrait, face: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Line art over the face: a bold upper lash line with a flick at the outer corner,
    a fine lower lid, tapered brows, the jaw, a hint of nose and the mouth's line."""
    width = portrait.face_box.width
    strokes = np.zeros(face.shape[:2], np.float32)

    def line(indices: tuple[int, ...], weight: float, value: float = 1.0) -> None:
        thickness = max(int(round(width * weight)), 1)
        path = _path(portrait, indices, offset)
        cv2.polylines(strokes, [path], False, value, thickness, cv2.LINE_AA, shift=2)

    for upper, lower in zip(UPPER_LIDS, LOWER_LIDS, strict=True):
        line(upper, 1 / 42)
        line(upper[:4], 1 / 30)  # heavier at the outer corner, where the lashes gather
        outer = portrait.landmarks[upper[0]]
        inner = portrait.landmarks[upper[-1]]
        flick = (
            outer + (outer - inner) * 0.18 + np.array([0.0, -0.06]) * np.linalg.norm(outer - inner)
        )
        cv2.line(strokes, _pt(outer - offset), _pt(flick - offset), 1.0,
                 max(int(width / 40), 1), cv2.LINE_AA, shift=2)  # fmt: skip
        line(lower[:5], 1 / 140, 0.7)
    brows = np.zeros_like(strokes)
    for upper, lower in BROWS:
        cv2.fillPoly(brows, [_path(portrait, upper + lower[::-1], offset)], 1.0,
                     cv2.LINE_AA, shift=2)  # fmt: skip
    line(JAW[3:-3], 1 / 150, 0.75)
    line(NOSE, 1 / 140, 0.6)
    line(MOUTH_LINE, 1 / 110, 0.85)
    strokes = cv2.GaussianBlur(strokes, (0, 0), max(portrait.size / 1600, 0.5))
    # Brows are painted in their own colour, deepened: blond brows stay blond.
    brows = cv2.GaussianBlur(brows, (0, 0), 0.8)
    own = np.median(face[brows > 0.8], axis=0) if (brows > 0.8).any() else INK
    # Only within the brows' box: elsewhere their weight is 0 and the face unchanged.
    x, y, w, h = cv2.boundingRect((brows > 0).astype(np.uint8))
    rows, cols = slice(y, y + h), slice(x, x + w)
    face[rows, cols] = blend(face[rows, cols], own * 0.7 + INK * 0.15, brows[rows, cols] * 0.85)
    return blend(face, INK, np.clip(strokes, 0.0, 1.0))
