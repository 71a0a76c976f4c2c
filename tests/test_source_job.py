"""POST /v1/avatar/generate with source_job: another avatar from a cached photo,
no re-upload. Real worker, real pipeline, real ledger and storage."""

import io
import uuid
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from accounts.credits import balance
from generation.jobs import queue
from generation.jobs.retention import purge_expired
from generation.jobs.source_photo import (
    InputExpired,
    InputNotCached,
    cached_photo,
    discard_cached_input,
)
from generation.models import AvatarOffer, Job
from tests.service_helpers import PHOTOS, client_for, make_account, photo_b64, post_json

pytestmark = pytest.mark.django_db(transaction=True)
GENERATE = "/v1/avatar/generate"
PHOTO = (PHOTOS / "obama2.jpg").read_bytes()
PARAMS = {"style": "editorial", "platform": "linkedin", "billing": "credit"}


@pytest.fixture
def acme():
    account, key = make_account(credits=5)
    return account, client_for(key)


def queued_job(account, *, cache_input: bool = True) -> Job:
    """A job accepted with (or without) its photo cached; no worker runs it."""
    job = queue.enqueue(account, PHOTO, dict(PARAMS), cache_input=cache_input)
    return Job.objects.get(pk=job.pk)


def refused(api, account, body: dict, status: int, code: str, **headers) -> None:
    """The call is refused with `code`, stores no job and charges nothing."""
    jobs, credits = Job.objects.count(), balance(account)
    response = post_json(api, GENERATE, body, **headers)
    assert response.status_code == status, response.content[:300]
    assert response.json()["code"] == code and response.json()["message"]
    assert Job.objects.count() == jobs and balance(account) == credits


def test_regenerate_from_a_cached_photo_in_another_style(acme, client):
    account, api = acme
    first = post_json(
        api, GENERATE, {"image_base64": photo_b64(), "style": "editorial", "cache_input": True}
    ).json()
    assert first["state"] == "done" and balance(account) == 4
    again = post_json(
        api, GENERATE, {"source_job": first["id"], "style": "anime", "background": "neon"}
    )
    assert again.status_code == 200, again.content[:300]
    body = again.json()
    assert body["state"] == "done" and body["charged"] and body["face_detected"]
    assert body["id"] != first["id"] and balance(account) == 3
    job, source = Job.objects.get(pk=body["id"]), Job.objects.get(pk=first["id"])
    assert job.params["style"] == "anime" and job.params["background"] == "neon"
    assert job.params["source_job"] == first["id"]
    # one cached file, shared: a chain of regenerations never extends its 24 hours
    assert job.cached_input.name == source.cached_input.name
    assert job.input_expires_at == source.input_expires_at
    assert len(default_storage.listdir("inputs")[1]) == 1
    first_png = client.get(first["avatar_url"]).getvalue()
    again_png = client.get(body["avatar_url"]).getvalue()
    assert Image.open(io.BytesIO(again_png)).size == (800, 800) and again_png != first_png
    # analytics: the first offer was regenerated into the second
    offer, earlier = AvatarOffer.objects.get(job=job), AvatarOffer.objects.get(job=source)
    assert earlier.outcome == "regenerated" and earlier.decided_at is not None
    assert offer.outcome == "offered" and offer.previous == earlier and offer.style == "anime"
    # any job of the chain names the photo
    third = post_json(api, GENERATE, {"source_job": body["id"], "style": "corporate_headshot"})
    assert third.status_code == 200 and balance(account) == 2
    assert AvatarOffer.objects.get(job_id=third.json()["id"]).previous == offer


def test_after_24_hours_it_is_410_input_expired(acme):
    account, api = acme
    source = queued_job(account)
    Job.objects.filter(pk=source.pk).update(input_expires_at=timezone.now() - timedelta(seconds=1))
    refused(api, account, {"source_job": str(source.pk)}, 410, "input_expired")
    assert purge_expired()["inputs"] == 1  # the purge deletes the file, still 410
    assert not default_storage.exists(f"inputs/{source.pk}")
    refused(api, account, {"source_job": str(source.pk)}, 410, "input_expired")


def test_a_discarded_or_missing_file_is_410(acme):
    account, api = acme
    source = queued_job(account)
    discard_cached_input(source)
    refused(api, account, {"source_job": str(source.pk)}, 410, "input_expired")
    other = queued_job(account)
    default_storage.delete(other.cached_input.name)
    refused(api, account, {"source_job": str(other.pk)}, 410, "input_expired")


def test_another_accounts_job_or_an_unknown_id_is_404(acme):
    account, api = acme
    stranger, _ = make_account("stranger", credits=3)
    theirs = queued_job(stranger)
    for job_id in (str(theirs.pk), str(uuid.uuid4()), "not-a-uuid", "../" * 2000, "%00"):
        refused(api, account, {"source_job": job_id}, 404, "not_found")
    assert balance(stranger) == 2  # their job's reservation, untouched


def test_a_job_whose_photo_was_not_cached_is_409(acme):
    account, api = acme
    source = queued_job(account, cache_input=False)
    refused(api, account, {"source_job": str(source.pk)}, 409, "input_not_cached")


@pytest.mark.parametrize(
    "extra,status,code",
    [
        ({"image_base64": "AAAA"}, 400, "conflicting_source"),
        ({"image_url": "https://example.com/a.jpg"}, 400, "conflicting_source"),
        ({"style": "cubism"}, 400, "unknown_style"),
        ({"source_job": 12345}, 422, "invalid_request"),
        ({"source_job": ["x"]}, 422, "invalid_request"),
    ],
)
def test_bad_source_job_calls_are_refused(acme, extra, status, code):
    account, api = acme
    source = queued_job(account)
    refused(api, account, {"source_job": str(source.pk), **extra}, status, code)


def test_neither_a_photo_nor_a_source_is_400(acme):
    account, api = acme
    refused(api, account, {"source_job": ""}, 400, "missing_image")
    refused(api, account, {"style": "anime"}, 400, "missing_image")


def test_no_credit_is_402_with_nothing_stored(db):
    account, key = make_account("broke", credits=1)
    source = queued_job(account)  # holds the only credit
    refused(client_for(key), account, {"source_job": str(source.pk)}, 402, "insufficient_credits")


def test_idempotency_key_replays_the_job_even_once_the_photo_expired(acme, settings):
    account, api = acme
    settings.GENERATE_WAIT_SECONDS = 0
    source = queued_job(account)
    body = {"source_job": str(source.pk), "style": "anime"}
    first = post_json(api, GENERATE, body, HTTP_IDEMPOTENCY_KEY="regen-1")
    assert first.status_code in (200, 202), first.content[:300]
    Job.objects.filter(pk=source.pk).update(input_expires_at=timezone.now() - timedelta(hours=1))
    again = post_json(api, GENERATE, body, HTTP_IDEMPOTENCY_KEY="regen-1")
    assert again.status_code in (200, 202) and again.json()["id"] == first.json()["id"]
    assert Job.objects.count() == 2 and balance(account) == 3  # source + one regeneration
    refused(api, account, body, 410, "input_expired", HTTP_IDEMPOTENCY_KEY="regen-2")


def test_cached_photo_reads_the_bytes_and_applies_the_expiry_rule(acme):
    account, _ = acme
    source = queued_job(account)
    assert cached_photo(source) == PHOTO
    with pytest.raises(InputNotCached):
        cached_photo(queued_job(account, cache_input=False))
    Job.objects.filter(pk=source.pk).update(input_expires_at=timezone.now())
    with pytest.raises(InputExpired):
        cached_photo(Job.objects.get(pk=source.pk))


def test_regenerating_a_failed_job_fails_alike_and_offers_nothing(acme):
    account, api = acme
    first = post_json(api, GENERATE, {"image_base64": photo_b64("coffee.png"), "cache_input": True})
    assert first.status_code == 422 and first.json()["code"] == "no_face"
    again = post_json(api, GENERATE, {"source_job": first.json()["job"]["id"], "style": "anime"})
    assert again.status_code == 422 and again.json()["code"] == "no_face"
    assert balance(account) == 5 and not AvatarOffer.objects.exists()
