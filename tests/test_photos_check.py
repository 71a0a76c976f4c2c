"""POST /v1/photos/check: the real analysis generate runs, free and stored nowhere."""

import base64
import io
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from accounts.credits import balance
from accounts.models import CreditEntry
from generation.models import Job
from tests.service_helpers import (
    PHOTOS,
    PhotoServer,
    client_for,
    make_account,
    photo_b64,
    photo_server,
    post_json,
)

pytestmark = pytest.mark.django_db(transaction=True)
CHECK = "/v1/photos/check"


def b64(image: np.ndarray, fmt: str = "PNG") -> str:
    out = io.BytesIO()
    Image.fromarray(image).save(out, fmt)
    return base64.b64encode(out.getvalue()).decode()


def photo(name: str) -> np.ndarray:
    return np.asarray(Image.open(PHOTOS / name).convert("RGB"))


@pytest.fixture
def acme():
    account, key = make_account(credits=3)
    return account, client_for(key)


def stored_nothing(account, settings) -> bool:
    media = Path(settings.MEDIA_ROOT)
    files = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
    return (
        not Job.objects.exists()
        and CreditEntry.objects.filter(account=account).exclude(reason="grant").count() == 0
        and balance(account) == 3
        and files == []
    )


def check(api, **body):
    response = post_json(api, CHECK, body)
    assert response.headers["Content-Type"].startswith("application/json")
    return response


def test_a_waist_up_portrait_passes_and_costs_nothing(acme, settings):
    account, api = acme
    response = check(api, image_base64=photo_b64("obama.jpg"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["accepted"] is True and body["refusal"] is None
    assert body["platform"] == "linkedin"  # the account's default
    assert body["face_detected"] is True and body["face_count"] == 1
    box = body["dominant_face"]
    assert 200 < box["height"] < 400 and 0 < box["x"] < 910 and 0 < box["y"] < 1137
    assert 0.2 < body["face_height"] < 0.3 and body["rotation"] == 0
    assert 0.5 < body["input_quality_score"] <= 1
    assert body["validation_warnings"] == []
    assert stored_nothing(account, settings)


def test_an_account_without_credit_may_still_check(settings):
    account, key = make_account("broke", credits=0)
    response = check(client_for(key), image_base64=photo_b64())
    assert response.status_code == 200 and response.json()["accepted"] is True
    assert not Job.objects.exists() and balance(account) == 0


@pytest.mark.parametrize(
    ("name", "code", "face_detected"),
    [("coffee.png", "no_face", False), ("biden.jpg", "face_too_small", True)],
)
def test_a_photo_generate_would_refuse_answers_its_code(acme, settings, name, code, face_detected):
    account, api = acme
    response = check(api, image_base64=photo_b64(name))
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] is False and body["refusal"]["code"] == code
    assert body["refusal"]["message"]
    assert body["face_detected"] is face_detected and body["input_quality_score"] is None
    assert stored_nothing(account, settings)


def test_warnings_generate_would_give(acme, settings):
    account, api = acme
    group = check(api, image_base64=photo_b64("two_people.jpg")).json()
    assert group["accepted"] is True and group["face_count"] == 2
    assert group["validation_warnings"] == ["multiple_faces"]
    clean = check(api, image_base64=b64(photo("obama2.jpg"))).json()
    dark = check(api, image_base64=b64((photo("obama2.jpg") * 0.12).astype(np.uint8))).json()
    assert dark["accepted"] is True and dark["validation_warnings"] == ["low_light"]
    assert dark["input_quality_score"] < clean["input_quality_score"] - 0.3
    cut = check(api, image_base64=photo_b64("obama_partial_face.jpg")).json()
    assert cut["accepted"] is True and cut["validation_warnings"] == ["face_cut_off"]
    assert stored_nothing(account, settings)


def test_a_photo_on_its_side_is_turned_upright(acme):
    turned = np.ascontiguousarray(np.rot90(photo("obama2.jpg")))  # 90 degrees anticlockwise
    body = check(acme[1], image_base64=b64(turned, "JPEG")).json()
    assert body["accepted"] is True and body["rotation"] == 90
    upright = check(acme[1], image_base64=photo_b64("obama2.jpg")).json()
    assert body["dominant_face"]["height"] == pytest.approx(
        upright["dominant_face"]["height"], abs=8
    )


def test_platform_and_account_floors_apply(acme, settings):
    _, api = acme
    astronaut = photo_b64("astronaut.png")  # a 104 px face: hires asks 160
    assert check(api, image_base64=astronaut).json()["accepted"] is True
    hires = check(api, image_base64=astronaut, platform="hires").json()
    assert hires["platform"] == "hires" and hires["refusal"]["code"] == "face_too_small"
    strict, key = make_account("strict", credits=0, min_face_height=0.3)
    body = check(client_for(key), image_base64=photo_b64("obama.jpg")).json()
    assert body["refusal"]["code"] == "face_too_small"


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a size it does not carry."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def truncated_jpeg() -> bytes:
    data = (PHOTOS / "obama2.jpg").read_bytes()
    return data[: len(data) // 3]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "missing_image"),
        ({"image_base64": photo_b64(), "image_url": "http://x/y.jpg"}, 400, "missing_image"),
        ({"image_base64": "this is not base64!"}, 400, "invalid_base64"),
        ({"image_base64": base64.b64encode(b"plain text, no photo").decode()}, 400, "not_an_image"),
        ({"image_base64": base64.b64encode(b"<svg/>").decode()}, 400, "not_an_image"),
        ({"image_base64": b64(np.zeros((64, 64, 3), np.uint8))}, 400, "image_too_small"),
        ({"image_base64": base64.b64encode(png_claiming(60000, 60000)).decode()}, 413,
         "image_too_large"),
        ({"image_base64": "A" * (28 * 1024 * 1024)}, 413, "file_too_large"),
        ({"image_base64": base64.b64encode(truncated_jpeg()).decode()}, 422, "truncated_image"),
        ({"image_url": "http://169.254.169.254/latest/meta-data/"}, 400, None),
        ({"image_url": "file:///etc/passwd"}, 400, None),
        ({"image_base64": photo_b64(), "platform": "myspace"}, 400, "unknown_platform"),
        ({"image_base64": 12}, 422, "invalid_request"),
    ],
    ids=["nothing", "both", "bad-base64", "text", "svg", "tiny", "bomb", "oversized",
         "truncated", "metadata-address", "file-url", "bad-platform", "wrong-type"],
)  # fmt: skip
def test_broken_oversized_and_hostile_input_is_refused_with_a_code(
    acme, settings, body, status, code
):
    account, api = acme
    response = check(api, **body)
    assert response.status_code == status, response.content
    error = response.json()
    assert error["message"] and (code is None or error["code"] == code)
    assert stored_nothing(account, settings)
    # and the service keeps serving
    assert check(api, image_base64=photo_b64("obama2.jpg")).json()["accepted"] is True


def test_a_key_is_needed(client):
    response = post_json(client, CHECK, {"image_base64": photo_b64()})
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_a_photo_by_url_is_checked_and_not_kept(acme, settings):
    account, api = acme
    with photo_server(settings) as server:
        response = check(api, image_url=f"http://127.0.0.1:{server.server_port}/me.jpg")
        assert response.status_code == 200 and response.json()["accepted"] is True
        assert PhotoServer.requests == 1
    assert stored_nothing(account, settings)


def test_an_admin_sets_an_accounts_face_floor(admin_client):
    from django.core.exceptions import ValidationError

    account, _ = make_account("floored", credits=0)
    page = admin_client.get(f"/admin/accounts/platformaccount/{account.pk}/change/")
    assert page.status_code == 200 and b'name="min_face_height"' in page.content
    account.min_face_height = 0.1  # below the presets' 20%: it may only raise the floor
    with pytest.raises(ValidationError, match="min_face_height"):
        account.full_clean()
    account.min_face_height = 0.35
    account.full_clean()


def test_an_account_with_too_many_downloads_in_flight_waits_then_gets_429(acme, settings):
    account, api = acme
    settings.FETCH_CONCURRENCY_PER_ACCOUNT = 0  # every slot of the account taken
    response = check(api, image_url="http://127.0.0.1:9/me.jpg")
    assert response.status_code == 429 and response.json()["code"] == "too_many_fetches"
    assert response["Retry-After"]
    assert stored_nothing(account, settings)


def test_the_pages_have_words_for_every_input_warning():
    from generation.web.words import warnings_in_words

    words = warnings_in_words(["multiple_faces", "face_cut_off", "low_light", "overexposed"])
    assert len(set(words)) == 4
    assert not any("did not pass every check" in w for w in words)


class ThreadRecorder:
    """The content check as a spy: which thread ran the analysis (the real model judges)."""

    def __init__(self, real) -> None:
        self.real, self.threads = real, []

    def check(self, image):
        self.threads.append(threading.current_thread().name)
        return self.real.check(image)


def test_checks_run_in_their_own_pool_and_a_flood_is_refused(acme, settings, monkeypatch):
    from generation.api import photos
    from generation.jobs.worker import pipeline

    account, api = acme
    recorder = ThreadRecorder(pipeline().safety)
    monkeypatch.setattr(pipeline(), "safety", recorder)
    assert check(api, image_base64=photo_b64()).json()["accepted"] is True
    assert recorder.threads and recorder.threads[0].startswith("photo-check")
    monkeypatch.setattr(photos, "MAX_WAITING_CHECKS", 0)  # the pool full of waiting checks
    response = check(api, image_base64=photo_b64())
    assert response.status_code == 429 and response.json()["code"] == "busy"
    assert response["Retry-After"] and len(recorder.threads) == 1
    assert stored_nothing(account, settings)
