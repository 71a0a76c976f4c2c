"""Run the portrait pipeline on one photo: manage.py avatar_from_photo IN OUT --style ..."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.portrait.errors import PortraitError
from generation.portrait.pipeline import AvatarRequest, PortraitPipeline
from generation.portrait.presets import PLATFORMS
from generation.portrait.styles import STYLES


class Command(BaseCommand):
    help = "Turn a photo into a platform-ready avatar PNG (plus a 100x100 thumbnail)."

    def add_arguments(self, parser):
        parser.add_argument("input", type=Path, help="the photo (JPEG, PNG, WebP, ...)")
        parser.add_argument("output", type=Path, help="where to write the avatar PNG")
        parser.add_argument("--style", default="corporate_headshot", choices=sorted(STYLES))
        parser.add_argument("--platform", default="linkedin", choices=sorted(PLATFORMS))
        parser.add_argument("--intensity", type=float, default=AvatarRequest.style_intensity)
        parser.add_argument("--palette", help="background colours, e.g. '#dde1e6,#7c8794'")
        parser.add_argument("--hires", action="store_true", help="1200 px output")
        parser.add_argument("--request-id", help="recorded in the PNG metadata")
        parser.add_argument("--thumbnail", type=Path, help="default: OUTPUT with .thumb.png")

    def handle(self, *args, **options):
        request = AvatarRequest(
            style=options["style"],
            platform=options["platform"],
            style_intensity=options["intensity"],
            palette=tuple(options["palette"].split(",")) if options["palette"] else None,
            hires=options["hires"],
            **({"request_id": options["request_id"]} if options["request_id"] else {}),
        )
        try:
            data = options["input"].read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {options['input']}: {exc}") from exc
        try:
            result = PortraitPipeline().generate(data, request)
        except PortraitError as exc:
            raise CommandError(str(exc)) from exc

        output: Path = options["output"]
        thumbnail = options["thumbnail"] or output.with_suffix(".thumb.png")
        output.write_bytes(result.png)
        thumbnail.write_bytes(result.thumbnail)
        fields = {"output": str(output), "thumbnail": str(thumbnail), **result.summary()}
        for key, value in fields.items():
            shown = json.dumps(value) if isinstance(value, dict | list) else value
            self.stdout.write(f"{key}: {shown}")
