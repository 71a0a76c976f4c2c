"""The job lifecycle in the database: accept, claim under a lease, finish once.

The database is the source of truth. Finishing is a conditional update on
(state=running, lease_owner=me), so a worker whose lease was taken over
cannot deliver or charge a second time; the credit ledger's unique
(job, reason) constraint backs that up.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, Max, Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from accounts import credits
from accounts.models import PlatformAccount
from generation.jobs.photos import insert_with_photo, job_sql_names, read_photo
from generation.jobs.seats import release_seat
from generation.models import Batch, Job

logger = logging.getLogger(__name__)
State = Job.State
T = TypeVar("T")
LOCKED_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)


def retry_when_locked(write: Callable[[], T]) -> T:
    """Run a database write, again if SQLite says the database is locked.

    The embedded default runs the worker as a thread beside the server, both
    writing to one SQLite file; without this a finished job could stay
    `running` until its lease ran out. PostgreSQL never takes this path.
    """
    for delay in LOCKED_RETRY_DELAYS:
        try:
            return write()
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(delay)
    return write()


@dataclass(frozen=True)
class Claimed:
    """A job a worker holds, with its input photo (None for a batch item given by URL)."""

    job: Job
    photo: bytes | None


@dataclass(frozen=True)
class Delivery:
    """What a worker hands back for a finished job."""

    png: bytes
    thumbnail: bytes
    summary: dict
    chargeable: bool


# How far apart one account's queued jobs are ranked (seconds): longer than a
# job takes, so that a job another account queues later lands between them.
RANK_SPACING_SECONDS = 60.0


def queue_depth() -> int:
    """Queued calls, for MAX_QUEUE_DEPTH. Batch items are not counted (see
    batch_queue_has_room): fair claiming puts a new call ahead of the batch
    items queued before it, so they do not make it wait and must not refuse it."""
    queued = Job.objects.filter(state=State.QUEUED, kind__in=INTERACTIVE_KINDS)
    return queued.filter(batch__isnull=True).count()


def batch_queue_has_room(account: PlatformAccount, count: int) -> bool:
    """Whether `count` more batch items may be queued: MAX_BATCH_QUEUE_DEPTH
    in all, and half of it for one account, so that one account's batches
    cannot keep every other account's out."""
    queued = Job.objects.filter(state=State.QUEUED, kind__in=INTERACTIVE_KINDS, batch__isnull=False)
    counts = queued.aggregate(all=Count("pk"), own=Count("pk", filter=Q(account=account)))
    limit = settings.MAX_BATCH_QUEUE_DEPTH
    return counts["all"] + count <= limit and counts["own"] + count <= limit // 2


def fair_ranks(
    account: PlatformAccount | None,
    count: int,
    *,
    batch: bool,
    kind: str = Job.Kind.PORTRAIT,
) -> list[float]:
    """The queue ranks of `count` new jobs of `kind` of one flow: an account's
    calls, or its batch items, among the kinds the same workers serve
    (INTERACTIVE_KINDS or TRAINING_KINDS). Workers claim the lowest rank first.

    Start-time fair queueing with the clock as virtual time: a flow's next job
    may start at max(now, its last queued job's rank + RANK_SPACING_SECONDS).
    Flows with queued work take turns whatever their backlog, and a call from
    an account with nothing queued ranks `now`: behind at most one item of a
    batch per minute that batch has waited (batch items start one spacing
    late, so calls queued in the same minute go first).
    """
    queued = Job.objects.filter(
        account=account,
        batch__isnull=not batch,
        state=State.QUEUED,
        kind__in=TRAINING_KINDS if kind in TRAINING_KINDS else INTERACTIVE_KINDS,
    )
    last = queued.aggregate(last=Max("queue_rank"))["last"]
    now = time.time()
    if batch:
        start = max(now, last or now) + RANK_SPACING_SECONDS
    else:
        start = now if last is None else max(now, last + RANK_SPACING_SECONDS)
    return [start + n * RANK_SPACING_SECONDS for n in range(count)]


def find_idempotent(account: PlatformAccount, key: str) -> Job | None:
    return Job.objects.filter(account=account, idempotency_key=key).first() if key else None


def enqueue(
    account: PlatformAccount,
    photo: bytes,
    params: dict,
    *,
    idempotency_key: str = "",
    cache_input: bool = False,
    request_id: str = "",
    batch: Batch | None = None,
    external_id: str = "",
    reserve_credit: bool = True,
) -> Job:
    """Accept a job; raises credits.InsufficientCredits with nothing stored."""
    with transaction.atomic():
        job = Job(
            account=account,
            params=params,
            idempotency_key=idempotency_key,
            request_id=request_id,
            batch=batch,
            external_id=external_id,
            queue_rank=fair_ranks(account, 1, batch=batch is not None)[0],
        )
        insert_with_photo(job, photo)
        if reserve_credit:
            credits.reserve(account, [job])
    if cache_input:
        name = default_storage.save(f"inputs/{job.pk}", ContentFile(photo))
        expires = timezone.now() + timedelta(hours=settings.INPUT_CACHE_HOURS)
        Job.objects.filter(pk=job.pk).update(cached_input=name, input_expires_at=expires)
    return job


def enqueue_idempotent(account: PlatformAccount, key: str, **kwargs) -> tuple[Job, bool]:
    """Accept a job under an Idempotency-Key; if the key is taken (a repeated
    or concurrent call), the job that has it. (job, created)."""
    try:
        return enqueue(account, idempotency_key=key, **kwargs), True
    except IntegrityError:
        return Job.objects.get(account=account, idempotency_key=key), False


def _claim_sql(kind_count: int) -> str:
    """One statement takes a job of `kind_count` kinds and returns its row
    (less the photo, read as binary): one whose worker's lease expired, else
    the queued one with the lowest queue rank (fair_ranks). Each choice is an
    index scan in rank order that stops at the first row (no sort of the
    whole queue); PostgreSQL's SKIP LOCKED lets concurrent workers pass each
    other, SQLite has one writer anyway."""
    table, column = job_sql_names()
    returned = ", ".join(sql for name, sql in column.items() if name != "photo")
    claimable = (
        f"({column['state']} = %s OR ({column['state']} = %s AND "
        f"{column['lease_expires_at']} < %s))"
    )
    of_kind = f"{column['kind']} IN ({', '.join(['%s'] * kind_count)})"
    skip_locked = connection.features.has_select_for_update_skip_locked
    lock = " FOR UPDATE SKIP LOCKED" if skip_locked else ""
    first = f"ORDER BY {column['queue_rank']}, {column['created_at']} LIMIT 1{lock}"
    expired = (
        f"SELECT {column['id']} FROM {table} WHERE {column['state']} = %s "
        f"AND {column['lease_expires_at']} < %s AND {of_kind} {first}"
    )
    queued = f"SELECT {column['id']} FROM {table} WHERE {column['state']} = %s AND {of_kind}"
    queued += f" {first}"
    return (
        f"UPDATE {table} SET {column['state']} = %s, {column['lease_owner']} = %s, "
        f"{column['lease_expires_at']} = %s, {column['attempts']} = {column['attempts']} + 1, "
        f"{column['started_at']} = COALESCE({column['started_at']}, %s) "
        f"WHERE {column['id']} = COALESCE(({expired}), ({queued})) AND {claimable} "
        f"RETURNING {returned}"
    )


# What the interactive workers take; training has its own (settings.TRAINING_CHANNEL).
INTERACTIVE_KINDS = (Job.Kind.PORTRAIT, Job.Kind.INFERENCE)
TRAINING_KINDS = (Job.Kind.TRAINING,)


def claim(owner: str, *, kinds: Sequence[str] = INTERACTIVE_KINDS) -> Claimed | None:
    """Take the queued job of `kinds` that ranks first (fair_ranks), or one
    whose worker's lease expired."""
    while True:
        now = timezone.now()
        at = connection.ops.adapt_datetimefield_value(now)
        expires = connection.ops.adapt_datetimefield_value(
            now + timedelta(seconds=settings.JOB_LEASE_SECONDS)
        )
        expired = [State.RUNNING, at, *kinds]
        queued = [State.QUEUED, *kinds]
        claimable = [State.QUEUED, State.RUNNING, at]
        params = [State.RUNNING, owner, expires, at, *expired, *queued, *claimable]
        sql = _claim_sql(len(kinds))

        taken = retry_when_locked(lambda sql=sql, params=params: list(Job.objects.raw(sql, params)))
        if not taken:
            return None
        job = taken[0]
        if job.attempts > settings.JOB_MAX_ATTEMPTS:
            finish_failed(job, owner, "worker_lost", "Workers failed this job repeatedly.")
            continue
        return Claimed(job, read_photo(job.pk))


def renew_lease(job: Job, owner: str) -> bool:
    """Extend the lease of a job this worker still holds; False if it lost it."""
    expires = timezone.now() + timedelta(seconds=settings.JOB_LEASE_SECONDS)
    mine = Job.objects.filter(pk=job.pk, state=State.RUNNING, lease_owner=owner)
    return bool(retry_when_locked(lambda: mine.update(lease_expires_at=expires)))


def result_names(job_pk, attempt: int) -> tuple[str, str]:
    """Where an attempt stores its avatar and thumbnail."""
    return f"avatars/{job_pk}-{attempt}.png", f"avatars/{job_pk}-{attempt}.thumb.png"


def _remove_earlier_attempts(job: Job) -> None:
    """A worker killed after saving its files but before recording them left
    them behind; the attempt that ends the job removes them."""
    for attempt in range(1, job.attempts):
        for name in result_names(job.pk, attempt):
            default_storage.delete(name)


# What a waiting request needs of an ended job (sent with its end event).
ENDED_FIELDS = ("state", "result", "avatar_file", "thumbnail_file", "charged", "error_code",
                "error_message")  # fmt: skip


def _finish(
    job: Job,
    owner: str,
    release_credit: bool,
    on_end: Callable[[], None] | None = None,
    **fields,
) -> dict | None:
    """End a job this worker holds, giving its held credit back if asked (and
    running `on_end`, the job's other writes), in one transaction: nobody
    reads the job ended with its credit still held. Its ENDED_FIELDS as
    stored (JSON-ready), or None when another worker owns it now."""
    now = timezone.now()
    mine = Job.objects.filter(pk=job.pk, state=State.RUNNING, lease_owner=owner)

    def write() -> bool:
        with transaction.atomic():
            ended = mine.update(
                photo=None, finished_at=now, lease_expires_at=None, progress=1.0, **fields
            )
            if ended and release_credit:
                credits.release(job)
            if ended and on_end is not None:
                on_end()
            return bool(ended)

    if not retry_when_locked(write):
        return None
    _remove_earlier_attempts(job)
    ended = {"progress": 1.0}
    for name in ENDED_FIELDS:
        value = fields.get(name, getattr(job, name))
        ended[name] = value.name if isinstance(value, FieldFile) else value
    ended["state"] = str(ended["state"])
    return ended


def finish_done(job: Job, owner: str, delivery: Delivery) -> dict | None:
    """Store and deliver the avatar; charge it (keep the reserved credit) only
    when it passed every check. The ended fields, or None when another worker
    owns the job now."""
    avatar_name, thumbnail_name = result_names(job.pk, job.attempts)
    avatar = default_storage.save(avatar_name, ContentFile(delivery.png))
    thumbnail = default_storage.save(thumbnail_name, ContentFile(delivery.thumbnail))
    expires = timezone.now() + timedelta(hours=settings.RESULT_RETENTION_HOURS)
    won = _finish(
        job,
        owner,
        release_credit=not delivery.chargeable,
        state=State.DONE,
        result=delivery.summary,
        avatar_file=avatar,
        thumbnail_file=thumbnail,
        result_expires_at=expires,
        charged=delivery.chargeable and job.params.get("billing", "credit") == "credit",
    )
    if won is None:
        default_storage.delete(avatar)
        default_storage.delete(thumbnail)
    return won


def finish_custom(
    job: Job, owner: str, *, done: bool, on_end: Callable[[], None] | None = None, **fields
) -> dict | None:
    """End a training or inference job with its own result fields: done
    keeps (charges) the held credit, failed gives it back. `on_end` runs in
    the same transaction (the trained model's record). The ended fields, or
    None when another worker owns the job now."""
    charged = done and job.params.get("billing", "credit") == "credit"
    state = State.DONE if done else State.FAILED
    return _finish(
        job, owner, release_credit=not done, on_end=on_end, state=state, charged=charged, **fields
    )


def finish_failed(job: Job, owner: str, code: str, message: str) -> dict | None:
    """Fail the job and give its credit (or a batch item's seat) back. The
    ended fields, or None when another worker owns it now."""
    return _finish(
        job,
        owner,
        release_credit=True,
        on_end=lambda: release_seat(job),
        state=State.FAILED,
        error_code=code,
        error_message=message[:500],
    )
