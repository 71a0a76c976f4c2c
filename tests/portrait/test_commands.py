"""The management commands, end to end through Django's call_command."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from .conftest import PHOTOS


def test_avatar_from_photo_writes_the_avatar_and_prints_the_fields(tmp_path):
    out = tmp_path / "avatar.png"
    stdout = io.StringIO()
    call_command(
        "avatar_from_photo",
        str(PHOTOS / "obama2.jpg"),
        str(out),
        style="editorial",
        platform="twitter",
        request_id="cli-1",
        stdout=stdout,
    )
    avatar = Image.open(out)
    assert avatar.size == (400, 400)
    assert avatar.text["request_id"] == "cli-1" and avatar.text["style"] == "editorial"
    assert Image.open(tmp_path / "avatar.thumb.png").size == (100, 100)
    printed = dict(line.split(": ", 1) for line in stdout.getvalue().splitlines())
    assert printed["face_count"] == "1"
    assert float(printed["likeness_score"]) >= 0.75
    assert printed["validation_warnings"] == "[]"


def test_avatar_from_photo_reports_the_reject_code(tmp_path):
    with pytest.raises(CommandError, match="no_face"):
        call_command("avatar_from_photo", str(PHOTOS / "coffee.png"), str(tmp_path / "x.png"))
    assert not (tmp_path / "x.png").exists()


def test_a_text_file_named_jpg_is_not_an_image(tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("not a photo at all\n" * 100)
    with pytest.raises(CommandError, match="not_an_image"):
        call_command("avatar_from_photo", str(fake), str(tmp_path / "y.png"))
    assert not (tmp_path / "y.png").exists()


def test_contact_sheet_has_a_tile_per_photo_and_style(tmp_path):
    from generation.management.commands.portrait_contact_sheet import HARD_CASES

    out, hard = tmp_path / "sheet.png", tmp_path / "hard.png"
    call_command(
        "portrait_contact_sheet",
        photos=PHOTOS,
        names=["obama_small.jpg", "coffee.png"],
        out=out,
        hard_out=hard,
        tile=120,
        stdout=io.StringIO(),
    )
    sheet = Image.open(out)
    assert sheet.size == (4 * 120, 28 + 2 * 120)
    assert Image.open(hard).size == (4 * 120, 28 + len(HARD_CASES) * 120)
