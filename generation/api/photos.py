"""POST /v1/photos/check: what generate would make of a photo, before paying for it.

Runs only LoadPhoto, exposure, FaceDetect, the content check and the input
quality score (``PortraitPipeline.analyse``, the code generate runs), in the
request: no job, no stored photo or file, no credit reserved or spent. An
image_url is fetched as generate fetches it: in the fetch pool, a few at a
time per account (generation/photo_fetch.py).

The analysis (about 100 ms of CPU, its models used one call at a time) runs
in a small pool of its own, not in the threads that serve every other
request, so a burst of checks waits its turn instead of delaying other calls;
past MAX_WAITING_CHECKS in a process, a check is refused (429 busy).
"""

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.http import HttpRequest
from ninja import Field, Router, Schema

from accounts.models import PlatformAccount
from generation.api.auth import API_KEY_AUTH
from generation.api.portraits import ErrorOut, fetch_refused, photo_bytes
from generation.errors import ApiError
from generation.intake import IntakeError
from generation.jobs.worker import pipeline
from generation.photo_fetch import fetch_photo
from generation.portrait.errors import PortraitError
from generation.portrait.presets import Platform, get_platform

router = Router(tags=["portrait avatars"])
CHECK_THREADS = 2
MAX_WAITING_CHECKS = 16  # running or queued, per process
RETRY_AFTER_SECONDS = 2
_pool = ThreadPoolExecutor(CHECK_THREADS, thread_name_prefix="photo-check")
_lock = threading.Lock()
_in_flight = 0


class Busy(ApiError):
    def __init__(self) -> None:
        super().__init__(429, "busy", "Too many photo checks are waiting; retry shortly.")
        self.retry_after = RETRY_AFTER_SECONDS


class PhotoCheckIn(Schema):
    image_url: str | None = None
    image_base64: str | None = None
    platform: str | None = Field(None, description="A platform preset; the account's default.")


class FaceBoxOut(Schema):
    x: float
    y: float
    width: float
    height: float


class PhotoCheckOut(Schema):
    accepted: bool = Field(description="False: generate would refuse the photo (`refusal`).")
    platform: str
    face_detected: bool
    face_count: int
    dominant_face: FaceBoxOut | None = Field(
        description="The largest face, in pixels of the photo turned upright."
    )
    face_height: float = Field(description="The dominant face's height / the photo's height.")
    rotation: int = Field(description="Degrees the photo was turned clockwise to stand upright.")
    input_quality_score: float | None = Field(description="0-1; null when refused.")
    validation_warnings: list[str] = Field(
        description="Warnings generate would give the photo: multiple_faces, face_cut_off, "
        "low_light, overexposed."
    )
    refusal: ErrorOut | None = Field(description="The code and message generate would refuse with.")


@router.post(
    "/check",
    auth=API_KEY_AUTH,
    summary="Check a photo as generate would: face, quality, warnings or refusal; free",
    response={200: PhotoCheckOut, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut, 422: ErrorOut,
              429: ErrorOut},
)  # fmt: skip
async def check_photo(request: HttpRequest, body: PhotoCheckIn) -> dict:
    """A photo generate would refuse is still a 200, with `accepted: false` and the
    refusal's code; a request with no readable image is a 4xx error."""
    account = request.auth
    try:
        platform = get_platform(body.platform or account.default_platform)
    except PortraitError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    fetched = None
    if body.image_url and not body.image_base64:
        try:
            fetched = await fetch_photo(account.pk, body.image_url)
        except IntakeError as exc:
            raise fetch_refused(exc) from None
    return await _in_check_pool(_analyse, account, platform, body, fetched)


async def _in_check_pool(function: Callable[..., dict], *args) -> dict:
    """``function(*args)`` in the check pool, unless too many checks wait already.
    A place is held until the analysis itself ends, even if its caller went away."""
    global _in_flight
    with _lock:
        if _in_flight >= MAX_WAITING_CHECKS:
            raise Busy()
        _in_flight += 1
    try:
        future = _pool.submit(function, *args)
    except BaseException:
        _release()
        raise
    future.add_done_callback(lambda _: _release())
    return await asyncio.wrap_future(future)


def _release() -> None:
    global _in_flight
    with _lock:
        _in_flight -= 1


def _analyse(
    account: PlatformAccount, platform: Platform, body: PhotoCheckIn, fetched: bytes | None
) -> dict:
    data = photo_bytes(body.image_url, body.image_base64, fetched)
    try:
        analysis = pipeline().analyse(data, platform.name, account.min_face_height)
    except PortraitError as exc:  # decodes no further than its header: truncated, corrupt
        raise ApiError(422, exc.code, exc.message) from None
    return {**analysis.summary(), "platform": platform.name}
