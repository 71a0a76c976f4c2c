"""Draw a contact sheet: fixture photos down, portrait styles across."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from PIL import Image, ImageDraw

from generation.portrait.errors import PortraitError
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


class Command(BaseCommand):
    help = "Render fixture photos in every portrait style into one PNG."

    def add_arguments(self, parser):
        root = Path(settings.BASE_DIR)
        parser.add_argument("--photos", type=Path, default=root / "tests" / "fixtures" / "photos")
        parser.add_argument("--names", nargs="*", default=list(DEFAULT_PHOTOS))
        parser.add_argument(
            "--out", type=Path, default=root / "docs" / "portrait" / "contact_sheet.png"
        )
        parser.add_argument("--tile", type=int, default=320)

    def handle(self, *args, **options):
        tile = options["tile"]
        pipeline = PortraitPipeline()
        columns = ["photo"] + [style for style, _ in STYLE_PLATFORMS]
        rows = []
        for name in options["names"]:
            path = options["photos"] / name
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc}") from exc
            original = Image.open(path).convert("RGB")
            original.thumbnail((tile, tile))
            cells = [_letterbox(original, tile)]
            for style, platform in STYLE_PLATFORMS:
                request = AvatarRequest(style=style, platform=platform, request_id="contact-sheet")
                try:
                    result = pipeline.generate(data, request)
                except PortraitError as exc:
                    cells.append(_note(tile, exc.code))
                    continue
                avatar = Image.open(io.BytesIO(result.png)).convert("RGB").resize((tile, tile))
                caption = f"likeness {result.likeness_score:.2f}"
                if result.validation_warnings:
                    caption += " " + ",".join(result.validation_warnings)
                cells.append(_captioned(avatar, caption))
                self.stdout.write(f"{name} {style}: {caption} ({result.latency_ms:.0f} ms)")
            rows.append(np.concatenate([np.asarray(c) for c in cells], axis=1))

        header = Image.new("RGB", (tile * len(columns), LABEL_HEIGHT), "white")
        draw = ImageDraw.Draw(header)
        for i, column in enumerate(columns):
            draw.text((i * tile + 8, 8), column, fill="black")
        sheet = np.concatenate([np.asarray(header), *rows], axis=0)
        options["out"].parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet).save(options["out"], optimize=True)
        self.stdout.write(f"wrote {options['out']}")


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
