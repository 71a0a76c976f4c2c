"""Draw contact sheets: fixture photos down, portrait styles across; and the same for
hard cases derived from the fixtures (dark, group, tight crop, cut at the chin, a face
the photo cuts, busy background, rotated)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from PIL import Image, ImageDraw

from generation.portrait.errors import PortraitError
from generation.portrait.face import CHIN, FOREHEAD, detect_faces
from generation.portrait.pipeline import AvatarRequest, PortraitPipeline

DEFAULT_PHOTOS = (
    "lin-manuel-miranda.png",
    "alex-lacamoire.png",
    "biden2.jpg",
    "obama2.jpg",
    "obama_small.jpg",
)
# Each style on the kind of platform it is made for.
STYLE_PLATFORMS = (
    ("corporate_headshot", "linkedin"),
    ("anime", "discord"),
    ("editorial", "portfolio"),
)
LABEL_HEIGHT = 28


def _photo(photos: Path, name: str) -> np.ndarray:
    try:
        return np.asarray(Image.open(photos / name).convert("RGB"))
    except OSError as exc:
        raise CommandError(f"cannot read {photos / name}: {exc}") from exc


def dark(photos: Path) -> np.ndarray:
    """obama2.jpg at an eighth of its exposure (x0.12)."""
    return (_photo(photos, "obama2.jpg") * 0.12).astype(np.uint8)


def cut_at_chin(photos: Path, name: str = "biden2.jpg") -> np.ndarray:
    """The photo stopped just below the chin: no neck, no shoulders."""
    image = _photo(photos, name)
    marks = detect_faces(image).landmarks
    if marks is None:
        raise CommandError(f"no face in {name} to cut at")
    bottom = marks[CHIN, 1] + 0.05 * (marks[CHIN, 1] - marks[FOREHEAD, 1])
    return np.ascontiguousarray(image[: int(bottom)])


def tight_crop(photos: Path) -> np.ndarray:
    """A close-up of lin-manuel-miranda.png leaving little beyond the face."""
    image = _photo(photos, "lin-manuel-miranda.png")
    height, width = image.shape[:2]
    return np.ascontiguousarray(
        image[int(height * 0.1) : int(height * 0.85), int(width * 0.25) : int(width * 0.75)]
    )


def side_by_side(photos: Path) -> np.ndarray:
    """two_people.jpg with the gap between them taken out: shoulder to shoulder."""
    image = _photo(photos, "two_people.jpg")
    return np.ascontiguousarray(np.concatenate([image[:, :450], image[:, 770:]], axis=1))


def on_stage(photos: Path) -> np.ndarray:
    """obama_and_biden.jpg cropped to the waist: two people, arms raised, side by side."""
    image = _photo(photos, "obama_and_biden.jpg")
    return np.ascontiguousarray(image[250:1250])


def rotated(photos: Path) -> np.ndarray:
    """obama2.jpg turned 90 degrees with no EXIF tag to say so (a phone's sideways photo)."""
    return np.ascontiguousarray(np.rot90(_photo(photos, "obama2.jpg")))


HARD_CASES: tuple[tuple[str, Callable[[Path], np.ndarray]], ...] = (
    ("dark x0.12", dark),
    ("group on a stage", on_stage),
    ("shoulder to shoulder", side_by_side),
    ("tight crop", tight_crop),
    ("cut at the chin", cut_at_chin),
    ("face cut by the edge", lambda photos: _photo(photos, "obama_partial_face.jpg")),
    ("busy background", lambda photos: _photo(photos, "astronaut.png")),
    ("rotated 90, no EXIF", rotated),
)


class Command(BaseCommand):
    help = "Render fixture photos, and hard cases derived from them, in every portrait style."

    def add_arguments(self, parser):
        root = Path(settings.BASE_DIR)
        docs = root / "docs" / "portrait"
        parser.add_argument("--photos", type=Path, default=root / "tests" / "fixtures" / "photos")
        parser.add_argument("--names", nargs="*", default=list(DEFAULT_PHOTOS))
        parser.add_argument("--out", type=Path, default=docs / "contact_sheet.png")
        parser.add_argument("--hard-out", type=Path, default=docs / "hard_cases.png")
        parser.add_argument("--no-hard", action="store_true", help="skip the hard-case sheet")
        parser.add_argument("--tile", type=int, default=320)

    def handle(self, *args, **options):
        self.pipeline = PortraitPipeline()
        self.tile = options["tile"]
        photos = options["photos"]
        clean = [(name, _photo(photos, name)) for name in options["names"]]
        if clean:  # `--names` with none: only the hard cases
            self._sheet(clean, options["out"])
        if not options["no_hard"]:
            hard = [(label, derive(photos)) for label, derive in HARD_CASES]
            self._sheet(hard, options["hard_out"])

    def _sheet(self, rows: list[tuple[str, np.ndarray]], out: Path) -> None:
        tile = self.tile
        columns = ["photo"] + [style for style, _ in STYLE_PLATFORMS]
        drawn = []
        for seed, (label, image) in enumerate(rows, start=1):
            data = _png(image)
            original = Image.fromarray(image)
            original.thumbnail((tile, tile))
            cells = [_captioned(_letterbox(original, tile), label)]
            for style, platform in STYLE_PLATFORMS:
                request = AvatarRequest(
                    style=style, platform=platform, seed=seed, request_id="contact-sheet"
                )
                try:
                    result = self.pipeline.generate(data, request)
                except PortraitError as exc:
                    cells.append(_note(tile, exc.code))
                    self.stdout.write(f"{label} {style}: refused, {exc.code}")
                    continue
                avatar = Image.open(io.BytesIO(result.png)).convert("RGB")
                avatar = avatar.resize((tile, tile), Image.Resampling.LANCZOS)
                caption = f"likeness {result.likeness_score:.2f}"
                if result.validation_warnings:
                    caption += " " + ",".join(result.validation_warnings)
                cells.append(_captioned(avatar, caption))
                self.stdout.write(f"{label} {style}: {caption} ({result.latency_ms:.0f} ms)")
            drawn.append(np.concatenate([np.asarray(c) for c in cells], axis=1))

        header = Image.new("RGB", (tile * len(columns), LABEL_HEIGHT), "white")
        draw = ImageDraw.Draw(header)
        for i, column in enumerate(columns):
            draw.text((i * tile + 8, 8), column, fill="black")
        sheet = np.concatenate([np.asarray(header), *drawn], axis=0)
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet).save(out, optimize=True)
        self.stdout.write(f"wrote {out}")


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


def _letterbox(image: Image.Image, tile: int) -> Image.Image:
    canvas = Image.new("RGB", (tile, tile), "white")
    canvas.paste(image, ((tile - image.width) // 2, (tile - image.height) // 2))
    return canvas


def _captioned(image: Image.Image, caption: str) -> Image.Image:
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, image.height - 18, image.width, image.height), fill="black")
    draw.text((6, image.height - 15), caption, fill="white")
    return image


def _note(tile: int, text: str) -> Image.Image:
    image = Image.new("RGB", (tile, tile), (235, 235, 235))
    ImageDraw.Draw(image).text((12, tile // 2), text, fill="black")
    return image
