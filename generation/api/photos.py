"""POST /v1/photos/check: what generate would make of a photo, before paying for it.

Runs only LoadPhoto, exposure, FaceDetect, the content check and the input
quality score (``PortraitPipeline.analyse``, the code generate runs), in the
request: no job, no stored photo or file, no credit reserved or spent. An
image_url is fetched as generate fetches it: in the fetch pool, a few at a
time per account (generation/photo_fetch.py).
"""

from django.http import HttpRequest
from ninja import Field, Router, Schema

from accounts.models import PlatformAccount
from generation.api.auth import API_KEY_AUTH
from generation.api.portraits import ErrorOut, fetch_refused, photo_bytes
from generation.errors import ApiError
from generation.intake import IntakeError
from generation.jobs.worker import pipeline
from generation.off_loop import off_loop
from generation.photo_fetch import fetch_photo
from generation.portrait.errors import PortraitError
from generation.portrait.presets import Platform, get_platform

router = Router(tags=["portrait avatars"])


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
        description="Warnings generate would give the photo: multiple_faces, low_light, "
        "overexposed."
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
    return await off_loop(_analyse, account, platform, body, fetched)


def _analyse(
    account: PlatformAccount, platform: Platform, body: PhotoCheckIn, fetched: bytes | None
) -> dict:
    data = photo_bytes(body.image_url, body.image_base64, fetched)
    try:
        analysis = pipeline().analyse(data, platform.name, account.min_face_height)
    except PortraitError as exc:  # decodes no further than its header: truncated, corrupt
        raise ApiError(422, exc.code, exc.message) from None
    return {**analysis.summary(), "platform": platform.name}
