"""Retention: cached inputs are kept 24 hours, results RESULT_RETENTION_HOURS,
inference images INFERENCE_RETENTION_HOURS (48); `purge_expired` deletes what
is past due. Workers run it every PURGE_INTERVAL_SECONDS; `manage.py
purge_expired` runs it by hand or from cron."""

import logging
import time
from datetime import datetime

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from generation.models import Job

logger = logging.getLogger(__name__)
_last_purge: float | None = None  # this process's last purge (monotonic); None: not yet


def inference_files(job: Job) -> list[str]:
    """The images an inference job made (portrait jobs keep theirs in fields)."""
    return [avatar["file"] for avatar in (job.result or {}).get("avatars", [])]


def delete_job_files(job: Job) -> None:
    for field in (job.cached_input, job.avatar_file, job.thumbnail_file):
        if field.name:
            default_storage.delete(field.name)
    for name in inference_files(job):
        default_storage.delete(name)


def purge_inferences(now) -> int:
    """Delete inference images past their expiry; the result keeps when they went."""
    expired = Job.objects.filter(kind=Job.Kind.INFERENCE, result_expires_at__lt=now)
    count = 0
    for job in expired:
        for name in inference_files(job):
            default_storage.delete(name)
        purged = {**(job.result or {}), "avatars": [], "purged_at": now.isoformat()}
        count += Job.objects.filter(pk=job.pk).update(result=purged, result_expires_at=None)
    return count


def purge_expired(now: datetime | None = None) -> dict[str, int]:
    """Delete what is past due as of `now` (default: now)."""
    now = now or timezone.now()
    inputs = Job.objects.filter(input_expires_at__lt=now).exclude(cached_input="")
    for job in inputs:
        default_storage.delete(job.cached_input.name)
    purged_inputs = inputs.update(cached_input="")  # the expiry stays: source_job says 410
    results = Job.objects.filter(result_expires_at__lt=now).exclude(avatar_file="")
    for job in results:
        default_storage.delete(job.avatar_file.name)
        default_storage.delete(job.thumbnail_file.name)
    purged_results = results.update(avatar_file="", thumbnail_file="", result_expires_at=None)
    return {"inputs": purged_inputs, "results": purged_results, "inferences": purge_inferences(now)}


def purge_when_due() -> None:
    """Called by workers between jobs; cheap when not due."""
    global _last_purge
    started = time.monotonic()
    if _last_purge is not None and started - _last_purge < settings.PURGE_INTERVAL_SECONDS:
        return
    _last_purge = started
    counts = purge_expired()
    if any(counts.values()):
        logger.info("purged expired files: %s", counts)
