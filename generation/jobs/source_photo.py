"""A job's cached input photo, taken back for a new job: regenerate without re-uploading.

`cache_input` keeps a job's photo INPUT_CACHE_HOURS (24) hours in storage.
A job made from it shares that one file and its expiry (`share_cached_input`),
so a chain of regenerations can name any job in the chain, and the photo is
still gone 24 hours after it was uploaded, however often it is reused.

A job whose photo was cached keeps its `input_expires_at` after the purge
deletes the file, which is how "expired" (410) is told from "never cached".
"""

from django.core.files.storage import default_storage
from django.utils import timezone

from generation.models import Job


class SourcePhotoError(Exception):
    """The job's photo cannot be reused; `code` is stable, `message` plain words."""

    code = "source_photo_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputNotCached(SourcePhotoError):
    code = "input_not_cached"


class InputExpired(SourcePhotoError):
    code = "input_expired"


def cached_photo(job: Job) -> bytes:
    """The bytes of the photo `job` cached; raises InputNotCached when it was
    not cached, InputExpired once its time ran out or the file is gone."""
    if job.input_expires_at is None:
        raise InputNotCached("That job's photo was not cached (send cache_input with it).")
    name = job.cached_input.name
    expired = InputExpired("That job's photo is no longer kept (cached photos last 24 hours).")
    if not name or job.input_expires_at <= timezone.now() or not default_storage.exists(name):
        raise expired
    try:
        with default_storage.open(name, "rb") as handle:
            return handle.read()
    except FileNotFoundError:  # deleted between the check and the read
        raise expired from None


def share_cached_input(job: Job, source: Job) -> None:
    """Give `job` the cached photo of `source` (the same file, the same expiry)."""
    Job.objects.filter(pk=job.pk).update(
        cached_input=source.cached_input.name, input_expires_at=source.input_expires_at
    )


def discard_cached_input(job: Job) -> None:
    """Delete the job's cached photo now, for every job sharing it (a preview
    nobody picked, a session that ended); their expiry stays, so reusing it
    answers `input_expired`."""
    name = job.cached_input.name
    if name:
        default_storage.delete(name)
        Job.objects.filter(cached_input=name).update(cached_input="")
