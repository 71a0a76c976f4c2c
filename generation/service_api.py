"""The generation service API: POST /v1/avatar/generate, jobs, batches."""

import logging
import time
import uuid

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router, Schema
from ninja.errors import HttpError

from accounts.auth import API_KEY_AUTH, ASYNC_API_KEY_AUTH
from accounts.credits import InsufficientCredits
from accounts.models import PlatformAccount
from avatarsite.errors import ApiError
from generation import jobs
from generation.files import file_url
from generation.intake import IntakeError
from generation.intake.fetch import FetchPolicy, fetch_image
from generation.models import Job
from generation.notify import JobWaiter
from generation.photo_input import check_photo_header, decode_base64
from generation.portrait.background import parse_palette
from generation.portrait.errors import PortraitError
from generation.portrait.load import DEFAULT_LIMITS
from generation.portrait.presets import get_platform
from generation.portrait.styles import get_background, get_style
from generation.worker import wake_workers

logger = logging.getLogger(__name__)
generate_router = Router(tags=["portrait avatars"])
jobs_router = Router(tags=["portrait avatars"])
RETRY_AFTER_SECONDS = 5
MAX_IDEMPOTENCY_KEY = 200


class GenerateIn(Schema):
    image_url: str | None = None
    image_base64: str | None = None
    style: str = "corporate_headshot"
    platform: str | None = None
    palette: list[str] | None = None
    background: str | None = None
    cache_input: bool = False
    style_intensity: float | None = None


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
    """The job's parameters, validated before any work, storage or charge."""
    try:
        style = get_style(body.style)
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
        "palette": body.palette,
        "background": body.background,
        "likeness_threshold": account.thresholds.get(platform.audience),
        "billing": "credit",
    }
    if intensity is not None:
        params["style_intensity"] = intensity
    return params


def fetch_policy() -> FetchPolicy:
    return FetchPolicy(
        max_bytes=DEFAULT_LIMITS.max_bytes, allowed_hosts=settings.FETCH_ALLOWED_HOSTS
    )


def photo_bytes(image_url: str | None, image_base64: str | None) -> bytes:
    """The photo from exactly one of image_url and image_base64, header-checked."""
    if bool(image_url) == bool(image_base64):
        raise ApiError(400, "missing_image", "Send exactly one of image_url and image_base64.")
    if image_base64:
        data = decode_base64(image_base64, DEFAULT_LIMITS.max_bytes)
    else:
        try:
            data = fetch_image(image_url, fetch_policy())
        except IntakeError as exc:
            status = 413 if exc.code == "file_too_large" else 400
            raise ApiError(status, exc.code, exc.message) from None
    check_photo_header(data)
    return data


class QueueFull(ApiError):
    def __init__(self) -> None:
        super().__init__(429, "queue_full", "Too many avatars are queued; retry shortly.")
        self.retry_after = RETRY_AFTER_SECONDS


def accept(request: HttpRequest, body: GenerateIn) -> tuple[Job, bool]:
    account = request.auth
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key is over 200 characters.")
    existing = jobs.find_idempotent(account, key)
    if existing is not None:
        return existing, False
    params = portrait_params(account, body)
    photo = photo_bytes(body.image_url, body.image_base64)
    if jobs.queue_depth() >= settings.MAX_QUEUE_DEPTH:
        raise QueueFull()
    try:
        return jobs.enqueue_idempotent(
            account,
            key,
            photo=photo,
            params=params,
            cache_input=body.cache_input,
            request_id=getattr(request, "request_id", "") or uuid.uuid4().hex,
        )
    except InsufficientCredits:
        raise ApiError(402, "insufficient_credits", "The account has no credit left.") from None


async def off_loop(function, *args):
    """Run blocking work (image fetching, the database) in a pool thread, closing
    that thread's database connections afterwards."""

    def call():
        try:
            return function(*args)
        finally:
            connections.close_all()

    return await sync_to_async(call, thread_sensitive=False)()


async def wait_for(job_id, timeout: float) -> Job:
    """The job once finished, or as it stands when `timeout` runs out."""
    deadline = time.monotonic() + timeout
    get = sync_to_async(Job.objects.get)
    async with JobWaiter(job_id) as wait:
        while True:
            job = await get(pk=job_id)
            remaining = deadline - time.monotonic()
            if job.is_finished or remaining <= 0:
                return job
            await wait(min(remaining, 0.5))


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
    auth=ASYNC_API_KEY_AUTH,
    summary="Make a portrait avatar from a photo",
    response={200: JobOut, 202: JobOut, 400: ErrorOut, 402: ErrorOut, 413: ErrorOut,
              422: ErrorOut, 429: ErrorOut},
)  # fmt: skip
async def generate(request: HttpRequest, body: GenerateIn) -> HttpResponse:
    """Waits up to GENERATE_WAIT_SECONDS for the avatar (200), else answers 202
    with the job id to poll at /v1/jobs/{id}."""
    job, created = await off_loop(accept, request, body)
    if created:
        await sync_to_async(wake_workers)()
    job = await wait_for(job.pk, settings.GENERATE_WAIT_SECONDS)
    return await sync_to_async(job_response)(request, job)


@jobs_router.get(
    "/{job_id}",
    auth=API_KEY_AUTH,
    response={200: JobOut, 404: ErrorOut},
    summary="A job's state, progress and result",
)
def job_status(request: HttpRequest, job_id: uuid.UUID) -> dict:
    job = Job.objects.filter(pk=job_id, account=request.auth).first()
    if job is None:
        raise HttpError(404, "No such job.")
    return job_payload(request, job)
