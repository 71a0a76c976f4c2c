"""POST /v1/photos/check: what generate would make of a photo, before paying for it.

Runs only LoadPhoto, exposure, FaceDetect, the content check and the input
quality score (``PortraitPipeline.analyse``, the code generate runs), in the
request: no job, no stored photo or file, no credit reserved or spent.
"""

from django.http import HttpRequest
from ninja import Router, Schema

from generation.api.auth import API_KEY_AUTH
from generation.api.portraits import ErrorOut, photo_bytes
from generation.errors import ApiError
from generation.jobs.worker import pipeline
from generation.off_loop import in_pool
from generation.portrait.errors import PortraitError
from generation.portrait.presets import get_platform

router = Router(tags=["portrait avatars"])


class PhotoCheckIn(Schema):
    image_url: str | None = None
    image_base64: str | None = None
    platform: str | None = None  # None: the account's default platform


class FaceBoxOut(Schema):
    x: float
    y: float
    width: float
    height: float


class PhotoCheckOut(Schema):
    accepted: bool  # False: generate would refuse the photo with `refusal`
    platform: str
    face_detected: bool
    face_count: int
    dominant_face: FaceBoxOut | None  # in the pixels of the photo turned upright
    face_height: float  # the dominant face's height / the photo's height
    rotation: int  # degrees the photo was turned clockwise to stand upright
    input_quality_score: float | None
    validation_warnings: list[str]
    refusal: ErrorOut | None


@router.post(
    "/check",
    auth=API_KEY_AUTH,
    summary="Check a photo as generate would: face, quality, warnings or refusal; free",
    response={200: PhotoCheckOut, 400: ErrorOut, 401: ErrorOut, 413: ErrorOut, 422: ErrorOut},
)
@in_pool
def check_photo(request: HttpRequest, body: PhotoCheckIn) -> dict:
    """A photo generate would refuse is still a 200, with `accepted: false` and the
    refusal's code; a request with no readable image is a 4xx error."""
    account = request.auth
    try:
        platform = get_platform(body.platform or account.default_platform)
    except PortraitError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    data = photo_bytes(body.image_url, body.image_base64)
    try:
        analysis = pipeline().analyse(data, platform.name, account.min_face_height)
    except PortraitError as exc:  # decodes no further than its header: truncated, corrupt
        raise ApiError(422, exc.code, exc.message) from None
    return {**analysis.summary(), "platform": platform.name}
