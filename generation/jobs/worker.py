"""Workers: take jobs from the database and run the portrait pipeline.

Deployed as Channels background workers (`manage.py runworker avatar-jobs`,
any number, on any machine, sharing PostgreSQL and the Redis channel layer);
in the embedded default, as a thread inside the server process. A channel
message only wakes a worker: each also polls, so jobs whose worker died are
taken again once their lease expires.
"""

import asyncio
import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from channels.consumer import AsyncConsumer
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError, connections

from generation.intake import IntakeError
from generation.intake.fetch import fetch_image
from generation.jobs import queue as jobs
from generation.jobs.lease import lease_kept
from generation.jobs.notify import publish
from generation.jobs.retention import purge_when_due
from generation.jobs.training import look_for, run_inference, run_training
from generation.models import Job
from generation.off_loop import reused_connections
from generation.offers import record_offered
from generation.photo_input import fetch_policy
from generation.portrait.errors import PortraitError
from generation.portrait.pipeline import STAGES, AvatarResult, PortraitPipeline
from generation.portrait.pipeline import AvatarRequest as PortraitRequest
from generation.portrait.safety import safety_classifier

logger = logging.getLogger(__name__)
_pipeline: PortraitPipeline | None = None
_pipeline_lock = threading.Lock()  # one job at a time per process: the models are shared


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def pipeline() -> PortraitPipeline:
    global _pipeline
    if _pipeline is None:
        _pipeline = PortraitPipeline(safety=safety_classifier(settings.PORTRAIT_SAFETY_CLASSIFIER))
    return _pipeline


def generate_here(photo: bytes, request: PortraitRequest) -> AvatarResult:
    """Run the pipeline in this process now, one at a time with the jobs (a
    page's preview: nothing queued, stored or charged)."""
    with _pipeline_lock:
        return pipeline().generate(photo, request)


def portrait_request(job: Job) -> PortraitRequest:
    params = job.params
    palette = params.get("palette")
    return PortraitRequest(
        style=params["style"],
        platform=params["platform"],
        style_intensity=params.get("style_intensity", 0.8),
        palette=tuple(palette) if palette else None,
        background=params.get("background"),
        likeness_threshold=params.get("likeness_threshold"),
        min_face_height=params.get("min_face_height"),
        seed=params.get("seed"),
        size=params.get("size"),  # a page's preview: the size it is kept at
        request_id=job.request_id or str(job.pk),
        look=look_for(params),
    )


def stage_events(job: Job) -> Callable[[str], None] | None:
    """For a job whose page shows each stage (`params["live_stages"]`), a
    listener publishing them; API jobs publish only their start and end."""
    if not job.params.get("live_stages"):
        return None
    order = {stage: index for index, stage in enumerate(STAGES)}

    def started(stage: str) -> None:
        progress = 0.1 + 0.85 * order.get(stage, 0) / len(STAGES)
        publish(job.pk, Job.State.RUNNING, round(progress, 3), stage=stage)

    return started


def process(claimed: jobs.Claimed, owner: str) -> None:
    """Run one claimed job to done or failed, and tell whoever waits."""
    job = claimed.job
    log = {"job_id": str(job.pk), "request_id": job.request_id, "worker": owner}
    logger.info("job started", extra=log)
    publish(job.pk, Job.State.RUNNING, 0.1)
    try:
        photo = claimed.photo
        if photo is None:  # a batch item given by URL: fetched here, not in the request
            photo = fetch_image(job.params["image_url"], fetch_policy())
        with _pipeline_lock, lease_kept(job, owner):
            result = pipeline().generate(photo, portrait_request(job), stage_events(job))
    except (PortraitError, IntakeError) as exc:
        ended = jobs.finish_failed(job, owner, exc.code, exc.message)
        state = Job.State.FAILED
    except Exception:
        logger.exception("job crashed", extra=log)
        ended = jobs.finish_failed(job, owner, "internal_error", "The avatar could not be made.")
        state = Job.State.FAILED
    else:
        delivery = jobs.Delivery(
            png=result.png,
            thumbnail=result.thumbnail,
            summary=result.summary(),
            chargeable=not result.validation_warnings,
        )
        ended = jobs.finish_done(job, owner, delivery)
        state = Job.State.DONE
    if ended is not None:
        logger.info("job %s", state, extra=log)
        if state == Job.State.DONE and job.kind == Job.Kind.PORTRAIT and job.batch_id is None:
            offered(job, log)  # before the answer, so the caller can report on it at once
        publish(job.pk, state, 1.0, ended=ended)
    else:
        logger.warning("job taken over by another worker; result discarded", extra=log)


def offered(job: Job, log: dict) -> None:
    """Record the delivered avatar as an offer (analytics never fail a job)."""
    try:
        jobs.retry_when_locked(lambda: record_offered(job))
    except DatabaseError:
        logger.exception("offer not recorded", extra=log)


# Who runs each kind of job (portraits: process above).
RUNNERS: dict[str, Callable[[jobs.Claimed, str], None]] = {
    Job.Kind.TRAINING: run_training,
    Job.Kind.INFERENCE: run_inference,
}


def run_available_jobs(
    owner: str, keep_connection: bool = False, kinds: Sequence[str] = jobs.INTERACTIVE_KINDS
) -> int:
    """Claim and run jobs of `kinds` until none is left; how many ran. When
    the queue is empty the thread's database connection is closed, unless
    this is a worker's own long-lived job thread (`keep_connection`), which
    reuses it."""
    count = 0
    try:
        with reused_connections():
            while (claimed := jobs.claim(owner, kinds=kinds)) is not None:
                RUNNERS.get(claimed.job.kind, process)(claimed, owner)
                count += 1
            purge_when_due()
    finally:
        if not keep_connection:
            connections.close_all()
    return count


def channel_kinds(channel: str) -> Sequence[str]:
    """The job kinds a worker channel serves: training has its own, so long
    runs never delay portrait calls."""
    return jobs.TRAINING_KINDS if channel == settings.TRAINING_CHANNEL else jobs.INTERACTIVE_KINDS


class EmbeddedWorker(threading.Thread):
    """An in-process worker of the one-command embedded default (one per channel)."""

    def __init__(self, channel: str) -> None:
        super().__init__(name=f"{channel}-worker", daemon=True)
        self.kinds = channel_kinds(channel)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.owner = worker_name()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    run_available_jobs(self.owner, keep_connection=True, kinds=self.kinds)
                except Exception:
                    logger.exception("embedded worker loop")
                self.wake.wait(settings.JOB_POLL_SECONDS)
                self.wake.clear()
        finally:
            connections.close_all()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the job in hand, then end the thread."""
        self.stopping.set()
        self.wake.set()
        self.join(timeout)


_embedded: dict[str, EmbeddedWorker] = {}
_embedded_lock = threading.Lock()


def embedded_worker(channel: str | None = None) -> EmbeddedWorker:
    channel = channel or settings.WORKER_CHANNEL
    with _embedded_lock:
        worker = _embedded.get(channel)
        if worker is None or not worker.is_alive():
            worker = _embedded[channel] = EmbeddedWorker(channel)
            worker.start()
        return worker


def serve_embedded(channel: str) -> None:
    """In the embedded default, make sure `channel`'s worker thread runs: it
    starts at the first wake-up, so after a restart a queued or interrupted
    job would wait for the next new call. Asking about a job starts it."""
    if settings.EMBEDDED_WORKER:
        embedded_worker(channel)


def stop_embedded_worker() -> None:
    """Stop every embedded worker (each finishes the job in hand)."""
    with _embedded_lock:
        workers = list(_embedded.values())
        _embedded.clear()
    for worker in workers:
        worker.stop()


async def wake_workers(channel: str | None = None) -> None:
    """Nudge a worker of `channel` (default: the interactive one): the
    embedded thread, or one runworker through the channel layer."""
    channel = channel or settings.WORKER_CHANNEL
    if settings.EMBEDDED_WORKER:
        embedded_worker(channel).wake.set()
        return
    try:
        await get_channel_layer().send(channel, {"type": "job.wake"})
    except ChannelFull:  # busy workers poll the queue anyway
        pass
    except Exception:  # the job is stored: workers find it when they poll
        logger.warning("Could not wake a worker", exc_info=True)


class JobWorkerConsumer(AsyncConsumer):
    """`manage.py runworker avatar-jobs`: wakes on `job.wake`, then serves the
    queue until the process ends, polling for jobs whose lease expired."""

    kinds: Sequence[str] = jobs.INTERACTIVE_KINDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.wake = asyncio.Event()
        self.serving: asyncio.Task | None = None

    async def job_wake(self, message: dict) -> None:
        if self.serving is None:
            self.serving = asyncio.ensure_future(self.serve())
        self.wake.set()

    async def serve(self) -> None:
        owner = worker_name()
        loop = asyncio.get_running_loop()
        job_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="avatar-jobs")
        while True:
            try:
                await loop.run_in_executor(job_thread, run_available_jobs, owner, True, self.kinds)
            except Exception:
                logger.exception("worker loop")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), settings.JOB_POLL_SECONDS)
            self.wake.clear()


class TrainingWorkerConsumer(JobWorkerConsumer):
    """`manage.py runworker avatar-training`: the same loop over training jobs only."""

    kinds = jobs.TRAINING_KINDS
