"""POST /v1/avatar/generate and GET /v1/jobs: real worker, real pipeline, real ledger."""

import io
import time

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from PIL import Image

from accounts.credits import balance
from accounts.models import ApiKey, CreditEntry
from generation.models import Job
from tests.service_helpers import (
    PhotoServer,
    client_for,
    make_account,
    photo_b64,
    photo_server,
    post_json,
)

pytestmark = pytest.mark.django_db(transaction=True)
GENERATE = "/v1/avatar/generate"


@pytest.fixture
def acme():
    account, key = make_account(credits=5)
    return account, client_for(key)


def without_urls(payload: dict) -> dict:
    """A job's fields less its signed URLs (each signing is new)."""
    return {k: v for k, v in payload.items() if not k.endswith("_url")}


def test_create_account_prints_a_working_key_last(capsys):
    call_command("create_account", "globex", "--credits", "7", "--seats", "3")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    stored = ApiKey.objects.get(account__name="globex")
    assert key.startswith("av_") and stored.digest != key and key not in stored.digest
    assert client_for(key).get(f"/v1/jobs/{'0' * 32}").json()["code"] == "not_found"
    assert stored.account.seats == 3 and balance(stored.account) == 7


def test_generate_delivers_and_charges_one_credit(acme, client):
    account, api = acme
    response = post_json(api, GENERATE, {"image_base64": photo_b64(), "style": "editorial"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "done" and body["charged"] is True
    assert body["face_detected"] is True and body["face_count"] == 1
    assert body["likeness_score"] >= 0.85 and 0 < body["input_quality_score"] <= 1
    assert body["validation_warnings"] == [] and body["latency_ms"] > 0
    avatar = Image.open(io.BytesIO(client.get(body["avatar_url"]).getvalue()))
    assert avatar.size == (800, 800)
    thumb = Image.open(io.BytesIO(client.get(body["thumbnail_url"]).getvalue()))
    assert thumb.size == (100, 100)
    assert balance(account) == 4
    status = api.get(f"/v1/jobs/{body['id']}").json()
    # the answer, built from the worker's end event, is what the database holds
    assert without_urls(status) == without_urls(body) and status["state"] == "done"
    job = Job.objects.get(pk=body["id"])
    assert job.photo is None and not job.cached_input  # the input is gone
    _, other_key = make_account("other", credits=1)
    assert client_for(other_key).get(f"/v1/jobs/{body['id']}").status_code == 404


def test_idempotency_key_returns_the_same_job_and_charges_once(acme):
    account, api = acme
    body = {"image_base64": photo_b64(), "style": "corporate_headshot"}
    first = post_json(api, GENERATE, body, HTTP_IDEMPOTENCY_KEY="order-17").json()
    again = post_json(api, GENERATE, body, HTTP_IDEMPOTENCY_KEY="order-17").json()
    assert first["id"] == again["id"]
    assert Job.objects.count() == 1 and balance(account) == 4


def test_a_photo_without_a_face_fails_and_costs_nothing(acme):
    account, api = acme
    response = post_json(api, GENERATE, {"image_base64": photo_b64("coffee.png")})
    assert response.status_code == 422
    assert response.json()["code"] == "no_face"
    assert response.json()["job"]["state"] == "failed"
    assert api.get(f"/v1/jobs/{response.json()['job']['id']}").json() == response.json()["job"]
    assert balance(account) == 5
    assert CreditEntry.objects.filter(reason="release").count() == 1


def test_output_with_warnings_is_delivered_but_not_charged(acme):
    account, api = acme
    account.thresholds = {"professional": 0.9999, "social": 0.9999, "gaming": 0.9999}
    account.save()
    body = post_json(api, GENERATE, {"image_base64": photo_b64(), "style": "anime"}).json()
    assert body["state"] == "done" and "likeness" in " ".join(body["validation_warnings"])
    assert body["charged"] is False and balance(account) == 5


def test_no_credit_is_402_and_nothing_is_stored(db):
    _, key = make_account("broke", credits=0)
    response = post_json(client_for(key), GENERATE, {"image_base64": photo_b64()})
    assert response.status_code == 402 and response.json()["code"] == "insufficient_credits"
    assert Job.objects.count() == 0


def test_queue_full_is_429_with_retry_after(acme, settings):
    settings.MAX_QUEUE_DEPTH = 0
    response = post_json(acme[1], GENERATE, {"image_base64": photo_b64()})
    assert response.status_code == 429 and response.json()["code"] == "queue_full"
    assert int(response["Retry-After"]) > 0
    assert Job.objects.count() == 0 and balance(acme[0]) == 5


def test_a_repeated_call_gets_its_job_even_when_the_queue_is_full(acme, settings):
    body = {"image_base64": photo_b64()}
    first = post_json(acme[1], GENERATE, body, HTTP_IDEMPOTENCY_KEY="retry-me").json()
    settings.MAX_QUEUE_DEPTH = 0
    again = post_json(acme[1], GENERATE, body, HTTP_IDEMPOTENCY_KEY="retry-me")
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert post_json(acme[1], GENERATE, body).status_code == 429  # a new call is refused
    assert Job.objects.count() == 1 and balance(acme[0]) == 4


def test_past_the_wait_it_answers_202_then_the_job_finishes(acme, settings):
    settings.GENERATE_WAIT_SECONDS = 0
    response = post_json(acme[1], GENERATE, {"image_base64": photo_b64()})
    assert response.status_code == 202 and response["Location"].startswith("/v1/jobs/")
    job_id = response.json()["id"]
    deadline = time.monotonic() + 60
    while (status := acme[1].get(f"/v1/jobs/{job_id}").json())["state"] != "done":
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status["avatar_url"] and status["progress"] == 1.0


def test_cache_input_keeps_the_photo_for_24_hours(acme):
    body = post_json(acme[1], GENERATE, {"image_base64": photo_b64(), "cache_input": True}).json()
    job = Job.objects.get(pk=body["id"])
    assert default_storage.exists(job.cached_input.name)
    hours = (job.input_expires_at - job.created_at).total_seconds() / 3600
    assert 23.9 < hours <= 24.01


def small_png(side: int) -> str:
    import base64

    out = io.BytesIO()
    Image.new("RGB", (side, side), "white").save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


@pytest.mark.parametrize(
    "body,status,code",
    [
        ({}, 400, "missing_image"),
        ({"image_base64": "AAAA", "image_url": "http://x.example/a.jpg"}, 400, "missing_image"),
        ({"image_base64": "not base64!!"}, 400, "invalid_base64"),
        ({"image_base64": "aGVsbG8gd29ybGQ="}, 400, "not_an_image"),
        ({"image_base64": "data:image/png;base64," + small_png(120)}, 400, "image_too_small"),
        ({"image_base64": "A" * 30_000_000}, 413, "file_too_large"),
        ({"image_base64": small_png(300), "style": "cubism"}, 400, "unknown_style"),
        ({"image_base64": small_png(300), "platform": "myspace"}, 400, "unknown_platform"),
        ({"image_base64": small_png(300), "palette": ["#12"]}, 400, "bad_palette"),
        ({"image_base64": small_png(300), "palette": ["#ffffff"] * 9}, 400, "bad_palette"),
        ({"image_base64": small_png(300), "style_intensity": 3}, 400, "bad_intensity"),
        ({"image_base64": small_png(300), "background": "lava"}, 400, "bad_background"),
        ({"image_base64": small_png(300), "seed": -1}, 400, "bad_seed"),
        ({"image_base64": small_png(300), "seed": 2**53}, 400, "bad_seed"),
        ({"image_base64": small_png(300), "seed": "abc"}, 422, "invalid_request"),
        ({"image_url": "http://127.0.0.1:9/a.jpg"}, 400, "url_not_allowed"),
        ({"image_url": "http://169.254.169.254/latest/meta-data"}, 400, "url_not_allowed"),
        ({"image_url": "file:///etc/passwd"}, 400, "url_not_allowed"),
        ({"image_base64": 12345}, 422, "invalid_request"),
        ({"image_base64": small_png(300), "cache_input": "maybe"}, 422, "invalid_request"),
    ],
)
def test_bad_input_is_a_json_error_with_nothing_stored_or_charged(acme, body, status, code):
    response = post_json(acme[1], GENERATE, body)
    assert response.status_code == status, response.content[:300]
    assert response.json()["code"] == code and response.json()["message"]
    assert Job.objects.count() == 0 and balance(acme[0]) == 5


def test_broken_json_and_missing_key(acme):
    response = acme[1].post(GENERATE, "{not json", content_type="application/json")
    assert response.status_code in (400, 422) and response.json()["code"]
    from django.test import Client

    anonymous = post_json(Client(), GENERATE, {"image_base64": photo_b64()})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
    wrong = post_json(client_for("av_nope_nope"), GENERATE, {"image_base64": photo_b64()})
    assert wrong.status_code == 401


def test_revoked_key_is_refused(db):
    from accounts.keys import revoke

    account, key = make_account("revoked", credits=1)
    revoke(account.keys.get())
    assert client_for(key).get(f"/v1/jobs/{'0' * 32}").status_code == 401


def test_image_url_from_an_allowed_host(acme, settings):
    with photo_server(settings) as server:
        body = {"image_url": f"http://127.0.0.1:{server.server_port}/me.jpg"}
        response = post_json(acme[1], GENERATE, body, HTTP_IDEMPOTENCY_KEY="by-url")
        assert response.status_code == 200, response.content
        assert response.json()["face_detected"] is True
        server.shutdown()  # a retry must not fetch again: the URL may be gone by then
        again = post_json(acme[1], GENERATE, body, HTTP_IDEMPOTENCY_KEY="by-url")
        assert again.status_code == 200 and again.json()["id"] == response.json()["id"]
        assert PhotoServer.requests == 1


def test_two_concurrent_generate_calls_with_one_credit(settings):
    """Through the API: one is charged and delivered, the other gets 402."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("run by `make test` in its PostgreSQL pass")
    from django.db import connections

    account, key = make_account("last-credit", credits=1)
    body = {"image_base64": photo_b64()}

    def call(_):
        try:
            return post_json(client_for(key), GENERATE, body)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(call, range(2)))
    assert sorted(r.status_code for r in responses) == [200, 402]
    assert balance(account) == 0
    assert Job.objects.filter(state="done", charged=True).count() == 1


def test_a_slow_job_keeps_its_lease(settings):
    """While the pipeline works, the worker renews its lease, so nobody else
    takes the job over."""
    from generation.jobs import queue as jobs
    from generation.jobs.worker import lease_kept, worker_name

    settings.JOB_LEASE_SECONDS = 0.6
    account, _ = make_account("slow", credits=1)
    Job.objects.create(account=account, params={})
    owner = worker_name()
    job = jobs.claim(owner).job
    with lease_kept(job, owner):
        time.sleep(1.5)  # well past the lease's length
        assert jobs.claim(worker_name()) is None
    time.sleep(0.8)
    assert jobs.claim(worker_name()).job.pk == job.pk  # renewal stopped with the block


def test_claims_take_the_oldest_job_and_give_up_on_one_that_keeps_losing_workers(settings):
    """Expired leases are taken over; past JOB_MAX_ATTEMPTS the job fails as
    worker_lost, its credit is given back, and the next job is claimed."""
    from datetime import timedelta

    from django.utils import timezone

    from generation.jobs import queue as jobs
    from generation.jobs.worker import worker_name

    account, _ = make_account("unlucky", credits=2)
    doomed = jobs.enqueue(account, b"photo-1", {})
    fresh = jobs.enqueue(account, b"photo-2", {})
    expired = timezone.now() - timedelta(seconds=1)
    Job.objects.filter(pk=doomed.pk).update(
        state="running", attempts=settings.JOB_MAX_ATTEMPTS, lease_expires_at=expired
    )
    claimed = jobs.claim(worker_name())
    assert claimed.job.pk == fresh.pk and claimed.photo == b"photo-2"
    doomed.refresh_from_db()
    assert (doomed.state, doomed.error_code, doomed.charged) == ("failed", "worker_lost", False)
    assert balance(account) == 1  # the doomed job's credit came back; fresh holds one
    assert jobs.claim(worker_name()) is None


def test_files_left_by_a_worker_killed_before_recording_them_are_removed(settings):
    """Worker A saved its result files, then died before recording them; B,
    taking the job over after the lease, ends it and removes A's files."""
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from generation.jobs import queue as jobs
    from generation.jobs.worker import worker_name

    account, _ = make_account("orphans", credits=1)
    jobs.enqueue(account, b"photo", {})
    first = jobs.claim(worker_name()).job
    orphans = jobs.result_names(first.pk, first.attempts)
    for name in orphans:
        default_storage.save(name, ContentFile(b"A's unrecorded result"))
    Job.objects.filter(pk=first.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    owner = worker_name()
    second = jobs.claim(owner).job
    assert second.attempts == 2
    delivery = jobs.Delivery(png=b"png", thumbnail=b"thumb", summary={}, chargeable=True)
    ended = jobs.finish_done(second, owner, delivery)
    assert ended["avatar_file"] == jobs.result_names(second.pk, 2)[0]
    assert not any(default_storage.exists(name) for name in orphans)
    assert all(default_storage.exists(name) for name in jobs.result_names(second.pk, 2))


def test_a_job_is_never_seen_ended_with_its_credit_still_held(monkeypatch):
    """Ending a job and giving its credit back commit together: while the
    credit goes back, another connection still sees the job running."""
    import psycopg
    from django.db import connection

    from accounts import credits
    from generation.jobs import queue as jobs
    from generation.jobs.worker import worker_name

    if connection.vendor != "postgresql":
        pytest.skip("run by `make test` in its PostgreSQL pass")
    account, _ = make_account("atomic-end", credits=1)
    jobs.enqueue(account, b"photo", {})
    owner = worker_name()
    job = jobs.claim(owner).job
    seen = []
    release = credits.release

    def observed_release(released_job):
        params = connection.get_connection_params()
        with psycopg.connect(**params, autocommit=True) as other:
            seen.append(
                other.execute("SELECT state FROM generation_job WHERE id = %s", [job.pk]).fetchone()
            )
        return release(released_job)

    monkeypatch.setattr(credits, "release", observed_release)
    assert jobs.finish_failed(job, owner, "no_face", "No face.")["state"] == "failed"
    assert seen == [("running",)]
    assert balance(account) == 1


def test_the_same_seed_gives_the_same_avatar_and_another_seed_another(acme, client):
    _, api = acme
    photo = photo_b64()

    def generate(seed: int):
        body = {"image_base64": photo, "style": "anime", "platform": "twitch", "seed": seed}
        response = post_json(api, GENERATE, body)
        assert response.status_code == 200, response.content[:300]
        avatar = client.get(response.json()["avatar_url"]).getvalue()
        return np.asarray(Image.open(io.BytesIO(avatar)))

    first = generate(42)
    assert np.array_equal(generate(42), first)
    assert np.abs(generate(43).astype(int) - first).mean() > 2
    assert Job.objects.filter(params__seed=42).count() == 2
