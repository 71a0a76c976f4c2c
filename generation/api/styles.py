"""Custom styles: POST /v1/styles (a name and 50-200 examples, as URLs or a
zip) trains a look into a style_token, private to the account, usable as
`style` in POST /v1/avatar/generate, batches and inferences once DONE."""

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from accounts.credits import InsufficientCredits
from generation.api.auth import API_KEY_AUTH
from generation.api.models import (
    InvalidSetOut,
    ProblemOut,
    engine_for,
    replayed_training,
    trained_payload,
)
from generation.api.portraits import ErrorOut, idempotency_key
from generation.api.reference_sets import (
    ARCHIVE_FIELD,
    STYLE_SET,
    SetIn,
    SetNotValid,
    read_body,
    read_set,
)
from generation.errors import ApiError
from generation.jobs import training
from generation.jobs.worker import wake_workers
from generation.models import CustomStyle
from generation.off_loop import in_pool

router = Router(tags=["custom styles"])
MAX_NAME = 100


class StyleIn(SetIn):
    name: str
    engine: str | None = None


class CustomStyleOut(Schema):
    style_token: str
    name: str
    status: str
    progress: float
    eta_seconds: float | None = None
    engine: str
    created_at: str
    finished_at: str | None = None
    problems: list[ProblemOut] = []
    error: ErrorOut | None = None


_STYLE_DOC = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/StyleIn"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        ARCHIVE_FIELD: {"type": "string", "format": "binary"},
                        "name": {"type": "string"},
                        "engine": {"type": "string"},
                    },
                    "required": [ARCHIVE_FIELD, "name"],
                }
            },
        },
        "required": True,
    }
}


def style_payload(style: CustomStyle) -> dict:
    return {"style_token": style.style_token, "name": style.name, **trained_payload(style)}


@router.post(
    "",
    auth=API_KEY_AUTH,
    summary="Train a custom style from 50-200 example images (URLs or a zip)",
    response={202: CustomStyleOut, 400: ErrorOut, 401: ErrorOut, 402: ErrorOut, 413: ErrorOut,
              422: InvalidSetOut},
    openapi_extra=_STYLE_DOC,
)  # fmt: skip
@in_pool
def create(request: HttpRequest) -> HttpResponse | Status:
    """An Idempotency-Key header makes a retry answer the first call's style."""
    key = idempotency_key(request)
    if (style := replayed_training(request.auth, key, CustomStyle)) is not None:
        return Status(202, style_payload(style))
    body = read_body(request, StyleIn)
    name = body.name.strip()
    if not 1 <= len(name) <= MAX_NAME or "\x00" in name:
        raise ApiError(400, "invalid_name", f"name is 1 to {MAX_NAME} characters.")
    if body.images_base64:
        raise ApiError(400, "missing_images", "Send the examples as image_urls or a zip archive.")
    engine = engine_for(request.auth, body.engine)
    try:
        examples = read_set(request, body, STYLE_SET)
    except SetNotValid as exc:
        return exc.response()
    style = CustomStyle(account=request.auth, name=name, engine=engine)
    try:
        training.start_training(
            style, examples, price=settings.STYLE_TRAINING_CREDITS, idempotency_key=key
        )
    except InsufficientCredits:
        raise ApiError(402, "insufficient_credits", "Not enough credit to train.") from None
    except IntegrityError:  # a concurrent call with the same key won
        return Status(202, style_payload(replayed_training(request.auth, key, CustomStyle)))
    async_to_sync(wake_workers)(settings.TRAINING_CHANNEL)
    return Status(202, style_payload(style))


def own_style(request: HttpRequest, style_token: str) -> CustomStyle:
    style = (
        CustomStyle.objects.select_related("job")
        .filter(account=request.auth, style_token=style_token)
        .first()
    )
    if style is None:
        raise HttpError(404, "No such style.")
    return style


@router.get(
    "/{style_token}",
    auth=API_KEY_AUTH,
    response={200: CustomStyleOut, 401: ErrorOut, 404: ErrorOut},
    summary="A custom style's training status",
)
@in_pool
def status(request: HttpRequest, style_token: str) -> dict:
    return style_payload(own_style(request, style_token))


@router.delete(
    "/{style_token}",
    auth=API_KEY_AUTH,
    response={204: None, 401: ErrorOut, 404: ErrorOut},
    summary="Delete a custom style now (its token stops working)",
)
@in_pool
def delete(request: HttpRequest, style_token: str) -> Status:
    training.delete_trained(own_style(request, style_token))
    return Status(204, None)
