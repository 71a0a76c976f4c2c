"""Results expire RESULT_RETENTION_HOURS after delivery, and workers run the
purge on their own, at most once per PURGE_INTERVAL_SECONDS."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage

from generation.jobs.retention import purge_expired
from generation.jobs.worker import run_available_jobs
from generation.models import Job
from tests.service_helpers import client_for, make_account, photo_b64, post_json

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(settings):
    settings.GENERATE_WAIT_SECONDS = 0
    settings.EMBEDDED_WORKER = False
    _, key = make_account("retention", credits=5)
    return client_for(key)


def delivered(api) -> Job:
    """A real job, accepted by the API and run by a worker pass."""
    response = post_json(api, "/v1/avatar/generate", {"image_base64": photo_b64()})
    assert response.status_code == 202
    run_available_jobs("retention-test")
    job = Job.objects.get(pk=response.json()["id"])
    assert job.state == Job.State.DONE
    return job


def result_files(job: Job) -> list[str]:
    return [job.avatar_file.name, job.thumbnail_file.name]


def test_a_result_expires_after_the_retention_hours(api, settings):
    settings.RESULT_RETENTION_HOURS = 5
    settings.PURGE_INTERVAL_SECONDS = 3600
    job = delivered(api)
    files = result_files(job)
    assert all(default_storage.exists(name) for name in files)
    assert abs(job.result_expires_at - (job.finished_at + timedelta(hours=5))) < timedelta(
        seconds=5
    )

    assert purge_expired(job.result_expires_at - timedelta(minutes=1))["results"] == 0
    assert all(default_storage.exists(name) for name in files)
    assert api.get(f"/v1/jobs/{job.pk}").json()["avatar_url"]

    assert purge_expired(job.result_expires_at + timedelta(minutes=1))["results"] == 1
    assert not any(default_storage.exists(name) for name in files)
    shown = api.get(f"/v1/jobs/{job.pk}").json()
    assert shown["state"] == "done" and shown["avatar_url"] is None
    assert shown["thumbnail_url"] is None


def test_workers_purge_when_due_and_not_again_within_the_interval(api, settings):
    settings.RESULT_RETENTION_HOURS = 0  # expired the moment it is delivered
    settings.PURGE_INTERVAL_SECONDS = 0  # due at every pass
    first = delivered(api)
    assert first.result_expires_at is None and not first.avatar_file  # purged in that pass
    assert first.result["likeness_score"] is not None  # the job itself is kept
    assert run_available_jobs("retention-test") == 0

    settings.PURGE_INTERVAL_SECONDS = 3600  # the last purge was a moment ago
    second = delivered(api)
    assert all(default_storage.exists(name) for name in result_files(second))
    run_available_jobs("retention-test")
    second.refresh_from_db()
    assert second.avatar_file  # not purged again within the hour
    assert purge_expired()["results"] == 1  # though it is past due
