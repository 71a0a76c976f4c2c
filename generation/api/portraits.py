"""The generation service API: POST /v1/avatar/generate, jobs, batches."""

import contextlib
import hashlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable

from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from accounts.credits import InsufficientCredits
from accounts.models import PlatformAccount
from generation.api.auth import API_KEY_AUTH
from generation.api.results_zip import results_zip_response
from generation.errors import ApiError
from generation.files import file_url
from generation.intake import IntakeError
from generation.intake.archive import ArchiveLimits, read_zip_photos
from generation.intake.fetch import fetch_image
from generation.jobs import queue as jobs
from generation.jobs import training
from generation.jobs.batches import MAX_BATCH_ITEMS, BatchItem, create_batch
from generation.jobs.notify import JobWaiter
from generation.jobs.seats import InsufficientSeats
from generation.jobs.source_photo import (
    InputExpired,
    InputNotCached,
    cached_photo,
    share_cached_input,
)
from generation.jobs.worker import wake_workers
from generation.models import Batch, Job
from generation.off_loop import in_pool, off_loop
from generation.offers import NotOffered, record_regenerated
from generation.photo_fetch import fetch_photo
from generation.photo_input import check_photo_header, decode_base64, fetch_policy
from generation.portrait.background import parse_palette
from generation.portrait.errors import PortraitError
from generation.portrait.load import DEFAULT_LIMITS
from generation.portrait.presets import get_platform
from generation.portrait.styles import get_background, get_style

logger = logging.getLogger(__name__)
generate_router = Router(tags=["portrait avatars"])
jobs_router = Router(tags=["portrait avatars"])
RETRY_AFTER_SECONDS = 5
MAX_IDEMPOTENCY_KEY = 200
WAIT_POLL_SECONDS = 0.5
MAX_SEED = 2**53 - 1  # exact in every JSON client


class GenerateIn(Schema):
    image_url: str | None = None
    image_base64: str | None = None
    style: str = "corporate_headshot"
    platform: str | None = None
    palette: list[str] | None = None
    background: str | None = None
    cache_input: bool = False
    style_intensity: float | None = None
    seed: int | None = None  # same seed, same background layout: reproducible results
    source_job: str | None = None


class ErrorOut(Schema):
    code: str
    message: str


class JobOut(Schema):
    id: str
    state: str
    progress: float
    avatar_url: str | None = None
    thumbnail_url: str | None = None
    face_detected: bool | None = None
    face_count: int | None = None
    likeness_score: float | None = None
    input_quality_score: float | None = None
    validation_warnings: list[str] = []
    latency_ms: float | None = None
    charged: bool = False
    error: ErrorOut | None = None


def _uuid(text: str) -> uuid.UUID | None:
    """The id in a path, or None (matching nothing) when it is not a UUID."""
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def job_payload(request: HttpRequest | None, job: Job) -> dict:
    """A job as the API shows it (the same fields while waiting and when done)."""
    result = job.result or {}
    payload = {
        "id": str(job.pk),
        "state": job.state,
        "progress": round(job.progress, 3),
        "avatar_url": file_url(request, job.avatar_file.name) or None,
        "thumbnail_url": file_url(request, job.thumbnail_file.name) or None,
        "face_detected": result.get("face_detected"),
        "face_count": result.get("face_count"),
        "likeness_score": result.get("likeness_score"),
        "input_quality_score": result.get("input_quality_score"),
        "validation_warnings": result.get("validation_warnings", []),
        "latency_ms": result.get("latency_ms"),
        "charged": job.charged,
        "error": None,
    }
    if job.state == Job.State.FAILED:
        payload["error"] = {"code": job.error_code, "message": job.error_message}
    return payload


def portrait_params(account: PlatformAccount, body: GenerateIn) -> dict:
    """The job's parameters, validated before any work, storage or charge.
    A style_token names the account's custom style: its base style, its
    palette unless the call gives one, and its learnt look as a finish."""
    custom = {}
    if training.is_style_token(body.style):
        try:
            custom = training.custom_style_params(account, body.style)
        except training.CustomStyleUnavailable as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None
    try:
        style = get_style(custom.get("style", body.style))
        platform = get_platform(body.platform or account.default_platform)
        get_background(body.background, style)
        if body.palette is not None:
            if not 1 <= len(body.palette) <= 8:
                raise PortraitError("bad_palette", "palette lists 1 to 8 colours")
            parse_palette(tuple(body.palette))
    except PortraitError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    intensity = body.style_intensity
    if intensity is not None and not 0.0 <= intensity <= 1.0:
        raise ApiError(400, "bad_intensity", "style_intensity must be between 0 and 1.")
    params = {
        "style": style.name,
        "platform": platform.name,
        "palette": body.palette or custom.get("palette"),
        "background": body.background,
        "likeness_threshold": account.thresholds.get(platform.audience),
        "min_face_height": account.min_face_height,
        "billing": "credit",
    }
    if intensity is not None:
        params["style_intensity"] = intensity
    if custom:
        params["custom_style"] = custom["custom_style"]
    if body.seed is not None:
        if not 0 <= body.seed <= MAX_SEED:
            raise ApiError(400, "bad_seed", f"seed must be between 0 and {MAX_SEED}.")
        params["seed"] = body.seed
    return params


def photo_bytes(
    image_url: str | None, image_base64: str | None, fetched: bytes | None = None
) -> bytes:
    """The photo from exactly one of image_url and image_base64, header-checked;
    `fetched`: image_url's bytes, fetched already (fetched_for)."""
    if bool(image_url) == bool(image_base64):
        raise ApiError(400, "missing_image", "Send exactly one of image_url and image_base64.")
    if image_base64:
        data = decode_base64(image_base64, DEFAULT_LIMITS.max_bytes)
    elif fetched is not None:
        data = fetched
    else:
        try:
            data = fetch_image(image_url, fetch_policy())
        except IntakeError as exc:
            raise fetch_refused(exc) from None
    check_photo_header(data)
    return data


def fetch_refused(exc: IntakeError) -> ApiError:
    return ApiError(413 if exc.code == "file_too_large" else 400, exc.code, exc.message)


async def fetched_for(request: HttpRequest, body: GenerateIn) -> bytes | None:
    """A generate call's image_url photo, fetched in the fetch pool under the
    account's limit (generation/photo_fetch.py), so slow image servers hold
    no request thread; None for other calls, and for a retry whose
    Idempotency-Key names a job already (accept replays it: no second fetch).
    The parameters are checked first, as accept would before fetching."""
    if not body.image_url or body.image_base64 or body.source_job:
        return None  # accept answers these
    account = request.auth
    key = idempotency_key(request)
    if key and await off_loop(jobs.find_idempotent, account, key) is not None:
        return None
    await off_loop(portrait_params, account, body)
    try:
        return await fetch_photo(account.pk, body.image_url)
    except IntakeError as exc:
        raise fetch_refused(exc) from None


def source_job_photo(account: PlatformAccount, body: GenerateIn) -> tuple[bytes, Job]:
    """The cached photo of the account's job named by `source_job`, and that job."""
    if body.image_url or body.image_base64:
        raise ApiError(
            400, "conflicting_source", "Send a photo (image_url or image_base64) or source_job."
        )
    source = Job.objects.filter(pk=_uuid(body.source_job), account=account).first()
    if source is None:
        raise ApiError(404, "not_found", "No such job.")
    try:
        return cached_photo(source), source
    except InputNotCached as exc:
        raise ApiError(409, exc.code, exc.message) from None
    except InputExpired as exc:
        raise ApiError(410, exc.code, exc.message) from None


class QueueFull(ApiError):
    def __init__(self) -> None:
        super().__init__(429, "queue_full", "Too many avatars are queued; retry shortly.")
        self.retry_after = RETRY_AFTER_SECONDS


def request_digest(body: GenerateIn) -> str:
    """A hash of the call's parameters with defaults filled in, kept in the
    job's params: an Idempotency-Key replays its job only for the same request."""
    canonical = json.dumps(body.dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def replayed(job: Job, digest: str) -> Job:
    """The job an Idempotency-Key names, if this call asks for the same thing."""
    stored = job.params.get("request_digest")
    if stored is not None and stored != digest:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was used with different parameters; use a new key.",
        )
    return job


def idempotency_key(request: HttpRequest) -> str:
    """The Idempotency-Key header ("" when absent), refused if malformed."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY or "\x00" in key:
        raise ApiError(
            400, "invalid_idempotency_key", "Idempotency-Key is 1-200 characters, no NUL."
        )
    return key


def accept(
    request: HttpRequest, body: GenerateIn, fetched: bytes | None = None
) -> tuple[Job, bool]:
    """The call's job, (job, created). A repeated Idempotency-Key is caught by
    the job's unique constraint as it is inserted, so a first call pays no
    lookup; a call by image_url looks first (a retry must not fetch again: the
    URL may have expired), and so does one the full queue would refuse."""
    account = request.auth
    key = idempotency_key(request)
    digest = request_digest(body) if key else ""  # only a keyed call can be replayed
    lookup_first = body.image_url or body.source_job  # a retry must not need the source again
    if lookup_first and (existing := jobs.find_idempotent(account, key)) is not None:
        return replayed(existing, digest), False
    params = portrait_params(account, body)
    if digest:
        params["request_digest"] = digest
    source = None
    if body.source_job:
        photo, source = source_job_photo(account, body)
        params["source_job"] = str(source.pk)
    else:
        photo = photo_bytes(body.image_url, body.image_base64, fetched)
    if jobs.queue_depth() >= settings.MAX_QUEUE_DEPTH:
        if (existing := jobs.find_idempotent(account, key)) is not None:
            return replayed(existing, digest), False
        raise QueueFull()
    try:
        job, created = jobs.enqueue_idempotent(
            account,
            key,
            photo=photo,
            params=params,
            cache_input=body.cache_input and source is None,
            request_id=getattr(request, "request_id", "") or uuid.uuid4().hex,
        )
    except InsufficientCredits:
        raise ApiError(402, "insufficient_credits", "The account has no credit left.") from None
    if not created:
        replayed(job, digest)
    if created and source is not None:
        share_cached_input(job, source)
        with contextlib.suppress(NotOffered):  # a source that failed offered nothing
            record_regenerated(source)
    return job, created


async def wait_for(job: Job, timeout: float, *, just_queued: bool) -> Job:
    """The job once ended, or as it stands when `timeout` runs out.

    The worker's end event carries the ended fields, so the answer needs no
    database read; without them (or any event) the job is re-read, at least
    every WAIT_POLL_SECONDS. A job queued a moment ago is not read first: it
    cannot end before its waiter listens (the pipeline alone takes 100s of
    ms), and if it did, the poll would find it.
    """
    deadline = time.monotonic() + timeout
    async with JobWaiter(job.pk) as waiter:
        if not just_queued:
            job = await off_loop(Job.objects.get, pk=job.pk)
        while not job.is_finished and (remaining := deadline - time.monotonic()) > 0:
            await waiter.wait(min(remaining, WAIT_POLL_SECONDS))
            if waiter.ended is not None:
                for name, value in waiter.ended.items():
                    setattr(job, name, value)
                return job
            job = await off_loop(Job.objects.get, pk=job.pk)
        return job


def job_response(request: HttpRequest, job: Job) -> JsonResponse:
    payload = job_payload(request, job)
    if job.state == Job.State.FAILED:
        status = 422
        payload = {**payload["error"], "job": payload}
    else:
        status = 200 if job.state == Job.State.DONE else 202
    response = JsonResponse(payload, status=status)
    response["Location"] = f"/v1/jobs/{job.pk}"
    return response


@generate_router.post(
    "/generate",
    auth=API_KEY_AUTH,
    summary="Make a portrait avatar from a photo",
    response={200: JobOut, 202: JobOut, 400: ErrorOut, 401: ErrorOut, 402: ErrorOut,
              404: ErrorOut, 409: ErrorOut, 410: ErrorOut, 413: ErrorOut, 422: ErrorOut,
              429: ErrorOut},
)  # fmt: skip
async def generate(request: HttpRequest, body: GenerateIn) -> HttpResponse:
    """Waits up to GENERATE_WAIT_SECONDS for the avatar (200), else answers 202
    with the job id to poll at /v1/jobs/{id}.

    Instead of a photo, `source_job` names an earlier job of the account sent
    with `cache_input`: its photo is used again (404 `not_found`, 409
    `input_not_cached`, 410 `input_expired` after 24 hours)."""
    fetched = await fetched_for(request, body)
    job, created = await off_loop(accept, request, body, fetched)
    if created:  # the worker first: listening for the job's end can wait
        await wake_workers()
    job = await wait_for(job, settings.GENERATE_WAIT_SECONDS, just_queued=created)
    return job_response(request, job)  # no database access: builds from the loaded row


@jobs_router.get(
    "/{job_id}",
    auth=API_KEY_AUTH,
    response={200: JobOut, 401: ErrorOut, 404: ErrorOut},
    summary="A job's state, progress and result",
)
@in_pool
def job_status(request: HttpRequest, job_id: str) -> dict:
    job = Job.objects.filter(pk=_uuid(job_id), account=request.auth).first()
    if job is None:
        raise HttpError(404, "No such job.")
    return job_payload(request, job)


batches_router = Router(tags=["batches"])
ARCHIVE_FIELD = "archive"
MAX_ARCHIVE_BYTES = 300 * 1024 * 1024
_BATCH_DOC = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/BatchIn"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        ARCHIVE_FIELD: {"type": "string", "format": "binary"},
                        "style": {"type": "string"},
                        "platform": {"type": "string"},
                        "background": {"type": "string"},
                        "palette": {"type": "string", "description": "comma-separated colours"},
                    },
                    "required": [ARCHIVE_FIELD],
                }
            },
        },
        "required": True,
    }
}


class BatchItemIn(Schema):
    external_id: str
    image_url: str | None = None
    image_base64: str | None = None


class BatchIn(Schema):
    style: str = "corporate_headshot"
    platform: str | None = None
    palette: list[str] | None = None
    background: str | None = None
    style_intensity: float | None = None
    seed: int | None = None  # one seed for the whole team: matching backgrounds
    items: list[BatchItemIn]


class BatchItemOut(JobOut):
    external_id: str


class BatchOut(Schema):
    id: str
    state: str
    total: int
    done: int
    failed: int
    progress: float
    uses_seats: bool
    download_url: str
    items: list[BatchItemOut]


def _item(item: BatchItemIn) -> BatchItem:
    external_id = item.external_id.strip()
    if not 1 <= len(external_id) <= 200:
        raise ApiError(400, "invalid_item", "Every item needs an external_id of 1-200 characters.")
    if bool(item.image_url) == bool(item.image_base64):
        raise ApiError(
            400, "invalid_item", f"{external_id}: send exactly one of image_url, image_base64."
        )
    if item.image_url:
        if not item.image_url.lower().startswith(("http://", "https://")):
            raise ApiError(400, "invalid_item", f"{external_id}: image_url must be http(s).")
        return BatchItem(external_id, image_url=item.image_url)
    return _photo_item(
        external_id, lambda: decode_base64(item.image_base64, DEFAULT_LIMITS.max_bytes)
    )


def _photo_item(external_id: str, read: Callable[[], bytes]) -> BatchItem:
    """An item with its photo read and header-checked; any refusal names the item."""
    try:
        photo = read()
        check_photo_header(photo)
    except ApiError as exc:
        raise ApiError(400, "invalid_item", f"{external_id}: {exc.code}: {exc.message}") from None
    return BatchItem(external_id, photo=photo)


def _json_batch(request: HttpRequest) -> tuple[BatchIn, list[BatchItem]]:
    try:
        body = BatchIn.model_validate_json(request.body)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc).splitlines()[0]) from None
    return body, [_item(item) for item in body.items]


def _archive_batch(request: HttpRequest) -> tuple[BatchIn, list[BatchItem]]:
    upload = request.FILES.get(ARCHIVE_FIELD)
    if upload is None:
        raise ApiError(400, "missing_archive", f"Upload the zip as the {ARCHIVE_FIELD!r} field.")
    if upload.size > MAX_ARCHIVE_BYTES:
        raise ApiError(413, "archive_too_large", f"The zip is over {MAX_ARCHIVE_BYTES} bytes.")
    form = request.POST
    palette = [c.strip() for c in form.get("palette", "").split(",") if c.strip()] or None
    try:
        body = BatchIn(
            style=form.get("style", "corporate_headshot"),
            platform=form.get("platform") or None,
            background=form.get("background") or None,
            palette=palette,
            items=[],
        )
        photos = read_zip_photos(upload.read(), ArchiveLimits(max_files=MAX_BATCH_ITEMS))
    except IntakeError as exc:
        status = 413 if exc.code == "archive_too_large" else 400
        raise ApiError(status, exc.code, exc.message) from None
    return body, [_photo_item(external_id, lambda d=data: d) for external_id, data in photos]


def batch_payload(request: HttpRequest, batch: Batch) -> dict:
    items = [
        {**job_payload(request, job), "external_id": job.external_id}
        for job in batch.jobs.order_by("external_id")
    ]
    done = sum(item["state"] == Job.State.DONE for item in items)
    failed = sum(item["state"] == Job.State.FAILED for item in items)
    started = any(item["state"] != Job.State.QUEUED for item in items)
    state = "done" if done + failed == batch.total else ("running" if started else "queued")
    return {
        "id": str(batch.pk),
        "state": state,
        "total": batch.total,
        "done": done,
        "failed": failed,
        "progress": round((done + failed) / max(1, batch.total), 3),
        "uses_seats": batch.uses_seats,
        "download_url": request.build_absolute_uri(f"/v1/batches/{batch.pk}/results.zip"),
        "items": items,
    }


@generate_router.post(
    "/batch",
    auth=API_KEY_AUTH,
    summary="A team's photos in one call (JSON items, or a zip upload)",
    response={
        202: BatchOut,
        400: ErrorOut,
        401: ErrorOut,
        402: ErrorOut,
        413: ErrorOut,
        422: ErrorOut,
        429: ErrorOut,
    },  # fmt: skip
    openapi_extra=_BATCH_DOC,
)
@in_pool
def create_batch_endpoint(request: HttpRequest) -> Status:
    if request.content_type == "multipart/form-data":
        body, items = _archive_batch(request)
    else:
        body, items = _json_batch(request)
    if not 1 <= len(items) <= MAX_BATCH_ITEMS:
        raise ApiError(400, "invalid_batch_size", f"A batch has 1 to {MAX_BATCH_ITEMS} photos.")
    if len({item.external_id for item in items}) != len(items):
        raise ApiError(400, "duplicate_item", "Every item needs its own external_id.")
    params = portrait_params(request.auth, GenerateIn(**body.dict(exclude={"items"})))
    # One seed for the whole team: its avatars share one backdrop layout.
    params.setdefault("seed", secrets.randbelow(MAX_SEED + 1))
    if not jobs.batch_queue_has_room(request.auth, len(items)):
        raise QueueFull()
    try:
        batch = create_batch(request.auth, params, items)
    except InsufficientCredits:
        raise ApiError(402, "insufficient_credits", "Not enough credit for the batch.") from None
    except InsufficientSeats as exc:
        raise ApiError(
            402, "insufficient_seats", f"{exc.needed} new employees but {exc.free} free seats."
        ) from None
    async_to_sync(wake_workers)()
    return Status(202, batch_payload(request, batch))


def _own_batch(request: HttpRequest, batch_id: str) -> Batch:
    batch = Batch.objects.filter(pk=_uuid(batch_id), account=request.auth).first()
    if batch is None:
        raise HttpError(404, "No such batch.")
    return batch


@batches_router.get(
    "/{batch_id}",
    auth=API_KEY_AUTH,
    response={200: BatchOut, 401: ErrorOut, 404: ErrorOut},
    summary="A batch's progress and per-item results",
)
@in_pool
def batch_status(request: HttpRequest, batch_id: str) -> dict:
    return batch_payload(request, _own_batch(request, batch_id))


@batches_router.get(
    "/{batch_id}/results.zip",
    auth=API_KEY_AUTH,
    summary="The finished avatars, named by each item's external_id, plus results.json",
    response={401: ErrorOut, 404: ErrorOut},
    openapi_extra={
        "responses": {200: {"description": "A zip file", "content": {"application/zip": {}}}}
    },
)
@in_pool
def batch_results(request: HttpRequest, batch_id: str) -> StreamingHttpResponse:
    """Streamed as it is read from storage (generation/api/results_zip.py)."""
    return results_zip_response(_own_batch(request, batch_id))
