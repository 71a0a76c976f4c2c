"""Person/background separation: MediaPipe selfie segmentation, refined into a soft matte
that holds only the chosen person."""

from __future__ import annotations

import threading
from dataclasses import replace
from functools import cache

import cv2
import numpy as np

from generation.imaging.beside import beside
from generation.imaging.filters import (
    guided_filter,
    luminance,
    pixel_norm,
    polygon_mask,
    to_float,
)
from generation.imaging.state import Box, Portrait

_lock = threading.Lock()
WORK = 256  # side of the grid the person is separated from everyone else on
NEUTRAL = 128  # grey shown to the network where the square reaches past the photo
# Half-widths of a figure below the face, in face widths: the subject's own may
# reach as far as arms do; another person claims only to their shoulders, so a
# subject's shoulder is not given away to a bigger neighbour off the frame.
ARMS = 2.8
FACE_SURE = 0.94  # of the face mesh's hull, drawn in about its centre, is always kept
SHOULDERS = 1.4
CONTESTED = 1.25  # another's figure this near, relative to ours: the clothes decide
ALIKE = 2.0  # a log-likelihood ratio under which the two colour models cannot tell a pixel


@cache
def _segmenter():
    import mediapipe as mp

    return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)


def segment_person(portrait: Portrait) -> Portrait:
    """Attach a feathered matte of the chosen person only.

    The network's coarse mask holds everyone; the chosen person is cut out of
    it (``keep_subject``), then the mask is refined against the photo with a
    colour-guided filter on a trimap (hair and shoulders keep a soft, natural
    edge, the solid body stays solid). The face itself is always kept, and
    the matte falls off with ``Portrait.inside`` where the photo ends.
    """
    seen = portrait.image
    if portrait.inside.min() < 1.0:
        # The stretched edge pixels there look like a body to the network.
        seen = np.where(portrait.inside[..., None] > 0, seen, np.uint8(NEUTRAL))
    with _lock:
        coarse = _segmenter().process(seen).segmentation_mask.astype(np.float32)
    coarse = cv2.resize(coarse, (WORK, WORK), interpolation=cv2.INTER_AREA)
    coarse *= keep_subject(coarse, portrait)
    matte = refine(portrait.image, coarse)
    # The mesh's outline can sit a little outside the cheek (a turned head, a backdrop
    # stripe beside the jaw): only the hull drawn in from it is surely face.
    centre = portrait.landmarks.mean(axis=0)
    inner = centre + (portrait.landmarks - centre) * FACE_SURE
    face = polygon_mask(portrait.size, inner, blur=portrait.size / 200)
    matte = np.maximum(matte, face)
    return replace(portrait, matte=matte * portrait.inside)


def keep_subject(mask: np.ndarray, portrait: Portrait) -> np.ndarray:
    """A soft 0/1 map (mask's size) of the region that belongs to the chosen person.

    The chosen person's figure (head and hair around the face, shoulders
    widening below it) is kept where no other face lies nearer; of that, only
    the part connected to the face, which drops strangers whose faces were not
    found, and other people's arms and shoulders reaching into the frame.
    """
    side = mask.shape[0]
    scale = side / portrait.size
    own = _figure(side, portrait.face_box, scale)
    # Where another person is nearly as near, the body fades out rather than being cut.
    share = np.ones((side, side), np.float32)
    for other in portrait.others:
        margin = _figure(side, other, scale, SHOULDERS) - own
        share = np.minimum(share, np.clip(margin / 0.3 + 0.5, 0.0, 1.0))
    share = np.minimum(share, np.clip((1.12 - own) / 0.24, 0.0, 1.0))  # no hard edge either
    ours = ((mask > 0.5) & (own <= 1.0) & (share > 0.5)).astype(np.uint8)
    if portrait.others:
        ours &= apart_by_colour(mask, portrait)
    count, labels = cv2.connectedComponents(cv2.dilate(ours, np.ones((3, 3), np.uint8)))
    cx, cy = (min(max(int(v * scale), 0), side - 1) for v in portrait.face_box.centre)
    if count > 1 and labels[cy, cx]:
        ours &= (labels == labels[cy, cx]).astype(np.uint8)
    region = cv2.dilate(ours.astype(np.float32), np.ones((5, 5), np.uint8))
    return cv2.GaussianBlur(region, (0, 0), 1.5) * cv2.GaussianBlur(share, (0, 0), 2.0)


def apart_by_colour(mask: np.ndarray, portrait: Portrait) -> np.ndarray:
    """Which of the people in ``mask`` (0/1, a grid over the portrait) the chosen person
    is, by colour.

    Bodies that touch (shoulder to shoulder, an arm across a neighbour) share
    the region geometry gives the subject; their clothes tell them apart.
    OpenCV's GrabCut learns the subject's colours from the core of their
    figure (face, chest), everyone else's from their clothes (sampled in the
    photo, below their faces), the parts of the frame nearest them, and the
    background; then it decides the pixels between by colour and edges (on a
    grid half the mask's side: clothes are large, and the cut is 4x cheaper).
    """
    side = mask.shape[0]
    cut = side // 2
    scale = cut / portrait.size
    small = cv2.resize(portrait.image, (cut, cut), interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(mask, (cut, cut), interpolation=cv2.INTER_AREA)
    person = coarse > 0.5
    own = _figure(cut, portrait.face_box, scale)
    theirs = np.min([_figure(cut, other, scale, SHOULDERS) for other in portrait.others], axis=0)
    seeds = np.full((cut, cut), cv2.GC_PR_BGD, np.uint8)
    # Likely ours unless about as near to someone else: then colour decides.
    seeds[person & ((theirs >= 1.0) | (theirs > CONTESTED * own))] = cv2.GC_PR_FGD
    seeds[coarse < 0.2] = cv2.GC_BGD
    seeds[person & (theirs < 0.5 * own)] = cv2.GC_BGD  # far nearer someone else
    seeds[person & _core(cut, portrait.face_box, scale) & (own < 0.6 * theirs)] = cv2.GC_FGD
    if portrait.others_clothes is not None:
        # Their clothes join the picture as extra rows, all known not to be ours.
        rows = -(-len(portrait.others_clothes) // cut)
        band = np.resize(portrait.others_clothes, (rows * cut, 3)).reshape(rows, cut, 3)
        small = np.concatenate([small, band.astype(np.uint8)])
        seeds = np.concatenate([seeds, np.full((rows, cut), cv2.GC_BGD, np.uint8)])
    if not (seeds == cv2.GC_BGD).any() or not (seeds == cv2.GC_FGD).any():
        return np.ones((side, side), np.uint8)
    background, foreground = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)  # GrabCut's colour models start from k-means: the same cut every time
    cv2.grabCut(small, seeds, None, background, foreground, 2, cv2.GC_INIT_WITH_MASK)
    ours = (seeds[:cut] == cv2.GC_FGD) | (seeds[:cut] == cv2.GC_PR_FGD)
    # Where the two people's clothes look alike, colour cannot tell: the nearer figure does.
    pixels = small[:cut].reshape(-1, 3)
    lean = _log_likelihood(foreground, pixels) - _log_likelihood(background, pixels)
    alike = (np.abs(lean) < ALIKE).reshape(cut, cut) & person & (theirs > own)
    ours = (ours | alike).astype(np.uint8)
    return cv2.resize(ours, (side, side), interpolation=cv2.INTER_NEAREST)


def _log_likelihood(model: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Each RGB pixel's log-likelihood under a GrabCut colour model (OpenCV's layout:
    five component weights, then their means, then their 3x3 covariances)."""
    weights, means = model[0, :5], model[0, 5:20].reshape(5, 3)
    covariances = model[0, 20:65].reshape(5, 3, 3)
    x = pixels.astype(np.float64)
    density = np.zeros(len(x))
    for weight, mean, covariance in zip(weights, means, covariances, strict=True):
        if weight <= 0:
            continue
        d = x - mean
        inverse = np.linalg.inv(covariance)
        mahalanobis = np.einsum("ni,ij,nj->n", d, inverse, d)
        norm = weight / np.sqrt((2 * np.pi) ** 3 * np.linalg.det(covariance))
        density += norm * np.exp(-0.5 * mahalanobis)
    return np.log(density + 1e-300)


def _core(side: int, face: Box, scale: float) -> np.ndarray:
    """Where a person surely is: the face, and a column down the middle of the chest."""
    axis = np.arange(side, dtype=np.float32) + 0.5
    x, y = axis[None, :], axis[:, None]
    cx, cy = (v * scale for v in face.centre)
    fw, fh = face.width * scale, face.height * scale
    in_face = ((x - cx) / (0.45 * fw)) ** 2 + ((y - cy) / (0.5 * fh)) ** 2 < 1.0
    chest = (np.abs(x - cx) < 0.35 * fw) & (y > cy + 0.6 * fh)
    return in_face | chest


def _figure(side: int, face: Box, scale: float, widest: float = ARMS) -> np.ndarray:
    """How far each pixel of a ``side`` grid lies from a person's figure: <= 1 inside.

    The head is an egg around the face, with room for big hair above the eyes
    and narrowing to the ears and jaw (a neighbour's head beside the cheek is
    not ours); below the chin the body widens quickly, to ``widest`` face widths
    either side.
    """
    axis = np.arange(side, dtype=np.float32) + 0.5
    x, y = axis[None, :], axis[:, None]
    cx, cy = (v * scale for v in face.centre)
    fw, fh = max(face.width, 1.0) * scale, max(face.height, 1.0) * scale
    narrowing = np.clip((y - (cy - 0.3 * fh)) / (0.45 * fh), 0.0, 1.0)
    half_width = fw * (0.82 - 0.16 * narrowing)
    head = np.sqrt(((x - cx) / half_width) ** 2 + ((y - cy + 0.15 * fh) / (1.05 * fh)) ** 2)
    below = np.maximum(y - (cy + 0.55 * fh), 0.0) / fh
    reach = fw * np.minimum(0.6 + 2.8 * below, widest)
    body = np.where(below > 0, np.abs(x - cx) / reach, np.inf)
    return np.minimum(head, body)


def refine(image: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """Full-size matte from a coarse one, on a trimap: solid inside, zero outside, and
    in the band between, the coarse mask filtered under the photo's colours (He et
    al.'s guided filter with a colour guide, at half size: the "fast guided filter")."""
    size = image.shape[0]
    half = size // 2
    small = cv2.resize(image, (half, half), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(coarse, (half, half), interpolation=cv2.INTER_LINEAR)
    radius = max(half // 60, 3)
    band = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    sure = cv2.erode((mask > 0.5).astype(np.uint8), band) > 0
    never = cv2.dilate((mask > 0.5).astype(np.uint8), band) == 0
    limit = beside(_colour_limit, small, sure, never)  # while the guided filter runs
    guided = _guided(small, mask, radius)
    guided = np.clip((guided - 0.5) * 1.6 + 0.5, 0.0, 1.0)
    guided = np.minimum(guided, limit.result())
    matte = np.where(sure, 1.0, np.where(never, 0.0, guided)).astype(np.float32)
    matte = cv2.GaussianBlur(matte, (0, 0), 1.0)
    return cv2.resize(matte, (size, size), interpolation=cv2.INTER_LINEAR)


def _guided(image: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """The guided filter with the photo's colours as guide (opencv-contrib's, which
    mediapipe installs); with only plain OpenCV active, its luminance as guide."""
    contrib = getattr(cv2, "ximgproc", None)
    if contrib is not None:
        return contrib.guidedFilter(image, mask, radius, 60.0)
    return guided_filter(luminance(to_float(image)), mask, radius, 1e-3)


def _colour_limit(image: np.ndarray, person: np.ndarray, background: np.ndarray) -> np.ndarray:
    """At most how much of each pixel can be person, judged by colour.

    The nearby person and background colours are spread in from the sure
    regions; a pixel that matches the background and not the person (a red
    flag beside dark hair) is pulled out of the matte. Where the two colours
    are alike, or no background is near, colour says nothing and the limit is 1.
    """
    pixels = image.astype(np.float32) / 255.0
    side = image.shape[0]
    small = side // 2  # the spread colours are smooth: estimated at half this size
    shrunk = cv2.resize(pixels, (small, small), interpolation=cv2.INTER_AREA)

    def spread(where: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
        weight = cv2.resize(where.astype(np.float32), (small, small), interpolation=cv2.INTER_AREA)
        total = cv2.GaussianBlur(shrunk * weight[..., None], (0, 0), sigma)
        seen = cv2.GaussianBlur(weight, (0, 0), sigma)
        colour = total / np.maximum(seen, 1e-4)[..., None]
        grow = (side, side)
        return cv2.resize(colour, grow), cv2.resize(seen, grow)

    back, seen = spread(background, small / 50)
    fore, _ = spread(person, small / 100)
    to_back = pixel_norm(pixels - back)
    to_fore = pixel_norm(pixels - fore)
    lean = (to_back - to_fore) / np.maximum(to_back + to_fore, 1e-4)  # -1 background, +1 person
    by_colour = np.clip(0.5 + 1.5 * lean, 0.0, 1.0)
    apart = np.clip((pixel_norm(fore - back) - 0.1) / 0.15, 0.0, 1.0)
    trust = apart * (seen > 0.01)
    return 1.0 + (by_colour - 1.0) * trust
