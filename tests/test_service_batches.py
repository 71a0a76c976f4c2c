"""POST /v1/avatar/batch, GET /v1/batches/{id}, the results zip; seats and credits."""

import io
import json
import time
import zipfile

import pytest

from accounts.credits import balance
from accounts.models import Seat
from generation.models import Batch, Job
from tests.service_helpers import (
    PHOTOS,
    client_for,
    make_account,
    photo_b64,
    post_json,
    zip_of,
)

pytestmark = pytest.mark.django_db(transaction=True)
BATCH = "/v1/avatar/batch"


def wait_done(api, batch_id: str, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    while (status := api.get(f"/v1/batches/{batch_id}").json())["state"] != "done":
        assert time.monotonic() < deadline, status
        time.sleep(0.25)
    return status


def test_json_batch_with_credits_results_and_zip(settings):
    account, key = make_account(credits=5)
    api = client_for(key)
    items = [
        {"external_id": "jane.doe", "image_base64": photo_b64("obama2.jpg")},
        {"external_id": "john", "image_base64": photo_b64("biden2.jpg")},
        {"external_id": "mug", "image_base64": photo_b64("coffee.png")},
    ]
    response = post_json(api, BATCH, {"style": "corporate_headshot", "items": items})
    assert response.status_code == 202, response.content
    assert response.json()["total"] == 3 and balance(account) == 2  # three reserved
    status = wait_done(api, response.json()["id"])
    by_id = {item["external_id"]: item for item in status["items"]}
    assert by_id["jane.doe"]["state"] == "done" and by_id["jane.doe"]["likeness_score"] >= 0.85
    assert by_id["mug"]["state"] == "failed" and by_id["mug"]["error"]["code"] == "no_face"
    assert status["done"] == 2 and status["failed"] == 1 and status["progress"] == 1.0
    assert balance(account) == 3  # the failed photo's credit came back
    seeds = {job.params["seed"] for job in Job.objects.filter(batch_id=status["id"])}
    assert len(seeds) == 1 and None not in seeds  # one backdrop layout for the whole team

    download = api.get(f"/v1/batches/{status['id']}/results.zip")
    assert download["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download)))  # streamed (async iterator)
    assert sorted(archive.namelist()) == ["jane.doe.png", "john.png", "results.json"]
    manifest = {entry["external_id"]: entry for entry in json.loads(archive.read("results.json"))}
    assert manifest["mug"]["error"]["code"] == "no_face"
    assert archive.read("john.png").startswith(b"\x89PNG")

    _, other = make_account("other", credits=1)
    assert client_for(other).get(f"/v1/batches/{status['id']}").status_code == 404
    assert client_for(other).get(f"/v1/batches/{status['id']}/results.zip").status_code == 404


def test_zip_upload_counts_seats_not_credits():
    account, key = make_account("team", credits=0, seats=2)
    api = client_for(key)
    photos = {
        "team/ana.jpg": (PHOTOS / "obama2.jpg").read_bytes(),
        "team/ben.png": (PHOTOS / "alex-lacamoire.png").read_bytes(),
        "__MACOSX/._ana.jpg": b"junk",
    }
    upload = io.BytesIO(zip_of(photos))
    upload.name = "team.zip"
    response = api.post(BATCH, {"archive": upload, "style": "editorial"})
    assert response.status_code == 202, response.content
    assert response.json()["uses_seats"] is True
    status = wait_done(api, response.json()["id"])
    assert {item["external_id"] for item in status["items"]} == {"ana", "ben"}
    assert Seat.objects.filter(account=account).count() == 2 and balance(account) == 0

    again = post_json(
        api, BATCH, {"items": [{"external_id": "ana", "image_base64": photo_b64("obama3.jpg")}]}
    )
    assert again.status_code == 202  # regenerating an employee takes no new seat
    assert Seat.objects.filter(account=account).count() == 2
    third = post_json(
        api, BATCH, {"items": [{"external_id": "cleo", "image_base64": photo_b64("obama2.jpg")}]}
    )
    assert third.status_code == 402 and third.json()["code"] == "insufficient_seats"
    assert Batch.objects.count() == 2
    wait_done(api, again.json()["id"])


def test_not_enough_credit_for_the_whole_batch_stores_nothing():
    _, key = make_account("thin", credits=1)
    items = [{"external_id": f"p{i}", "image_base64": photo_b64()} for i in range(2)]
    response = post_json(client_for(key), BATCH, {"items": items})
    assert response.status_code == 402 and response.json()["code"] == "insufficient_credits"
    assert Batch.objects.count() == 0 and Job.objects.count() == 0


def hostile_zip(kind: str) -> bytes:
    jpeg = (PHOTOS / "obama2.jpg").read_bytes()
    if kind == "traversal":
        return zip_of({"../../etc/evil.jpg": jpeg})
    if kind == "nested":
        return zip_of({"inner.zip": zip_of({"a.jpg": jpeg})})
    if kind == "empty":
        return zip_of({})
    if kind == "bomb":
        return zip_of({"bomb.jpg": b"\0" * (20 * 1024 * 1024)})
    return b"PK\x03\x04 this is not really a zip"


@pytest.mark.parametrize(
    "kind,code",
    [
        ("traversal", "unsafe_archive_path"),
        ("nested", "nested_archive"),
        ("empty", "archive_empty"),
        ("bomb", "archive_too_large"),
        ("garbage", "invalid_archive"),
    ],
)
def test_hostile_archives_are_refused(kind, code):
    _, key = make_account(credits=5)
    upload = io.BytesIO(hostile_zip(kind))
    upload.name = "x.zip"
    response = client_for(key).post(BATCH, {"archive": upload})
    assert response.status_code in (400, 413), response.content
    assert response.json()["code"] == code
    assert Job.objects.count() == 0


@pytest.mark.parametrize(
    "body,code",
    [
        ({"items": []}, "invalid_batch_size"),
        ({"items": [{"external_id": f"p{i}", "image_url": "https://x.example/a.jpg"}
                    for i in range(501)]}, "invalid_batch_size"),
        ({"items": [{"external_id": "a", "image_url": "https://x.example/a.jpg"}] * 2},
         "duplicate_item"),
        ({"items": [{"external_id": "a", "image_base64": "!!!"}]}, "invalid_item"),
        ({"items": [{"external_id": "a", "image_base64": "aGVsbG8="}]}, "invalid_item"),
        ({"items": [{"external_id": "", "image_url": "https://x.example/a.jpg"}]}, "invalid_item"),
        ({"items": [{"external_id": "a", "image_url": "ftp://x.example/a.jpg"}]}, "invalid_item"),
        ({"items": [{"external_id": "a"}]}, "invalid_item"),
        ({"style": "cubism", "items": [{"external_id": "a", "image_url": "https://x.example/"}]},
         "unknown_style"),
        ({"items": "all of them"}, "invalid_request"),
    ],
)  # fmt: skip
def test_bad_batches_are_refused_with_nothing_stored(body, code):
    account, key = make_account(credits=5)
    response = post_json(client_for(key), BATCH, body)
    assert 400 <= response.status_code < 500 and response.json()["code"] == code
    assert Job.objects.count() == 0 and balance(account) == 5


def test_url_items_are_fetched_by_the_worker():
    """A blocked address fails that item only, and its credit comes back."""
    account, key = make_account(credits=3)
    api = client_for(key)
    items = [{"external_id": "meta", "image_url": "http://169.254.169.254/latest/photo.jpg"}]
    response = post_json(api, BATCH, {"items": items})
    assert response.status_code == 202
    status = wait_done(api, response.json()["id"], seconds=30)
    assert status["items"][0]["error"]["code"] == "url_not_allowed"
    assert balance(account) == 3
