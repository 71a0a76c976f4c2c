"""Keeping a job's lease while a worker runs it."""

import contextlib
import threading
from collections.abc import Iterator

from django.conf import settings
from django.db import connections

from generation.jobs import queue as jobs
from generation.models import Job


@contextlib.contextmanager
def lease_kept(job: Job, owner: str) -> Iterator[None]:
    """Renew the job's lease every third of its length while the block runs,
    so a slow job is not taken over by another worker."""
    done = threading.Event()

    def renew() -> None:
        try:
            while not done.wait(settings.JOB_LEASE_SECONDS / 3):
                if not jobs.renew_lease(job, owner):
                    return
        finally:
            connections.close_all()

    keeper = threading.Thread(target=renew, name=f"lease-{job.pk}", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        done.set()
        keeper.join()
