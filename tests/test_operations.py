"""What operators see: /metrics, structured logs, retention."""

import json
import logging
import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts import credits
from avatarsite.logs import ContextFilter, JsonFormatter, request_id
from generation.models import Job
from tests.service_helpers import client_for, make_account, photo_b64, post_json


def metric(text: str, name: str, **labels) -> float | None:
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name + (f"{{{label_text}}}" if labels else "")) + r" (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


@pytest.mark.django_db(transaction=True)
def test_metrics_report_jobs_stages_checks_and_credits():
    account, key = make_account(credits=5)
    api = client_for(key)
    assert post_json(api, "/v1/avatar/generate", {"image_base64": photo_b64()}).status_code == 200
    post_json(api, "/v1/avatar/generate", {"image_base64": photo_b64("coffee.png")})
    account.thresholds = {"professional": 0.9999, "social": 0.9999, "gaming": 0.9999}
    account.save()
    post_json(api, "/v1/avatar/generate", {"image_base64": photo_b64(), "style": "anime"})

    response = Client().get("/metrics")
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    assert metric(text, "avatar_jobs", state="done") == 2
    assert metric(text, "avatar_jobs", state="failed") == 1
    assert metric(text, "avatar_queue_depth") == 0
    assert metric(text, "avatar_jobs_failed", code="no_face") == 1
    assert metric(text, "avatar_credits_charged_total") == 1
    assert metric(text, "avatar_stage_latency_ms_count", stage="style") == 2
    assert metric(text, "avatar_stage_latency_ms", stage="load", quantile="0.5") > 0
    check = metric(
        text, "avatar_quality_check_failures", check="likeness_below_threshold", style="anime"
    )
    assert check == 1
    assert "# TYPE avatar_stage_latency_ms summary" in text


def test_json_logs_carry_request_and_job_ids():
    record = logging.LogRecord(
        "generation.jobs.worker", logging.INFO, __file__, 1, "job %s", ("done",), None
    )
    record.job_id = "j-1"
    token = request_id.set("req-42")
    try:
        ContextFilter().filter(record)
    finally:
        request_id.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line == {**line, "message": "job done", "request_id": "req-42", "job_id": "j-1"}
    assert line["level"] == "INFO" and line["logger"] == "generation.jobs.worker"


@pytest.mark.django_db
def test_requests_get_an_id_echoed_back(client):
    mine = client.get("/v1/avatars/styles", HTTP_X_REQUEST_ID="trace-abc")
    assert mine["X-Request-ID"] == "trace-abc"
    hostile = client.get("/v1/avatars/styles", HTTP_X_REQUEST_ID="<script>\n" + "x" * 300)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", hostile["X-Request-ID"])
    assert len(client.get("/v1/avatars/styles")["X-Request-ID"]) == 32


def stored(name: str) -> str:
    return default_storage.save(name, ContentFile(b"data"))


@pytest.mark.django_db
def test_purge_deletes_expired_inputs_and_results_only():
    account, _ = make_account(credits=0)
    past, future = timezone.now() - timedelta(minutes=1), timezone.now() + timedelta(hours=1)
    old = Job.objects.create(
        account=account,
        state="done",
        cached_input=stored("inputs/old"),
        input_expires_at=past,
        avatar_file=stored("avatars/old.png"),
        thumbnail_file=stored("avatars/old.thumb.png"),
        result_expires_at=past,
    )
    fresh = Job.objects.create(
        account=account,
        state="done",
        cached_input=stored("inputs/new"),
        input_expires_at=future,
        avatar_file=stored("avatars/new.png"),
        result_expires_at=future,
    )
    call_command("purge_expired")
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert not old.cached_input and not old.avatar_file and not old.thumbnail_file
    assert not default_storage.exists("inputs/old") and not default_storage.exists(
        "avatars/old.png"
    )
    assert default_storage.exists(fresh.cached_input.name)
    assert default_storage.exists(fresh.avatar_file.name)


@pytest.mark.django_db
def test_deleting_an_account_deletes_its_files():
    """An account with credits and a charged job: its files go, its ledger stays
    (tests/test_deletion.py covers batches, seats, the admin and queued jobs)."""
    account, _ = make_account("leaving", credits=3)
    job = Job.objects.create(
        account=account,
        state=Job.State.DONE,
        charged=True,
        avatar_file=stored("avatars/gone.png"),
        cached_input=stored("inputs/gone"),
    )
    credits.reserve(account, [job])
    entries = credits.ledger_total(account), account.credits.count()
    account.delete()
    assert not default_storage.exists("avatars/gone.png")
    assert not default_storage.exists("inputs/gone")
    assert not Job.objects.filter(pk=job.pk).exists()
    assert (credits.ledger_total(account), account.credits.count()) == entries == (2, 2)
