"""Subject models: POST /v1/models (5-30 photos), GET /v1/models/{id}, and
inferences by prompt, POST/GET /v1/models/{id}/inferences[/{iid}].

The model_id is the only handle on a model: the service keeps no record of
the photos or URLs that trained it, so a lost model_id is a lost model.
"""

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from accounts.credits import InsufficientCredits
from accounts.models import PlatformAccount
from generation.api.auth import API_KEY_AUTH
from generation.api.portraits import ErrorOut, _uuid, idempotency_key
from generation.api.reference_sets import (
    ARCHIVE_FIELD,
    SUBJECT_SET,
    SetIn,
    SetNotValid,
    read_body,
    read_set,
)
from generation.errors import ApiError
from generation.files import file_url
from generation.jobs import queue as jobs
from generation.jobs import training
from generation.jobs.worker import serve_embedded, wake_workers
from generation.models import Job, SubjectModel, TrainedModel, TrainingStatus
from generation.off_loop import in_pool
from generation.portrait.styles import STYLES

router = Router(tags=["custom models"])
MAX_INFERENCE_REQUESTS = 10
MAX_PROMPT_CHARS = 1000
MAX_SEED = 2**32 - 1
INFERENCE_STATES = {
    Job.State.QUEUED: TrainingStatus.ACCEPTED,
    Job.State.RUNNING: TrainingStatus.IN_PROGRESS,
    Job.State.DONE: TrainingStatus.DONE,
    Job.State.FAILED: TrainingStatus.FAILED,
}
AUTO_STYLE = "auto"  # the prompt picks the style


class ModelIn(SetIn):
    type: str
    engine: str | None = None


class ProblemOut(Schema):
    index: int
    code: str
    message: str


class AcceptedOut(Schema):
    model_id: str
    status: str
    engine: str


class InvalidSetOut(ErrorOut):
    # Empty when the request is refused before the set is read (422 invalid_request).
    problems: list[ProblemOut] = []


class ModelOut(Schema):
    model_id: str
    type: str
    status: str
    progress: float
    eta_seconds: float | None = None
    engine: str
    created_at: str
    finished_at: str | None = None
    problems: list[ProblemOut] = []
    error: ErrorOut | None = None


class InferenceRequestIn(Schema):
    prompt: str
    style: str = AUTO_STYLE
    count: int = 1
    negative_prompt: str = ""
    seed: int | None = None


class InferencesIn(Schema):
    requests: list[InferenceRequestIn]


class InferenceAcceptedOut(Schema):
    inference_id: str
    status: str


class GeneratedOut(Schema):
    url: str
    likeness_score: float | None = None
    engine: str
    request: int
    ignored_prompt_terms: list[str] = []


class InferenceOut(Schema):
    inference_id: str
    model_id: str
    status: str
    progress: float
    avatars: list[GeneratedOut] = []
    ignored_prompt_terms: list[str] = []
    expires_at: str | None = None
    expired: bool = False
    error: ErrorOut | None = None


_MODEL_DOC = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ModelIn"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        ARCHIVE_FIELD: {"type": "string", "format": "binary"},
                        "type": {"type": "string", "enum": list(SubjectModel.SubjectType.values)},
                        "engine": {"type": "string"},
                    },
                    "required": [ARCHIVE_FIELD, "type"],
                }
            },
        },
        "required": True,
    }
}


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def trained_status(record: TrainedModel) -> tuple[str, dict | None]:
    """The record's status and error; a training job that workers gave up on
    (its record never ended) reads as FAILED."""
    if record.is_finished:
        error = None
        if record.status == TrainingStatus.FAILED:
            error = {"code": record.error_code, "message": record.error_message}
        return record.status, error
    job = record.job
    if job is not None and job.state == Job.State.FAILED:
        return TrainingStatus.FAILED, {"code": job.error_code, "message": job.error_message}
    return record.status, None


def trained_payload(record: TrainedModel) -> dict:
    """What subject models and custom styles both answer about their training."""
    status, error = trained_status(record)
    return {
        "status": status,
        "progress": round(1.0 if status == TrainingStatus.DONE else record.progress, 3),
        "eta_seconds": record.eta_seconds if status == TrainingStatus.IN_PROGRESS else None,
        "engine": record.engine,
        "created_at": record.created_at.isoformat(),
        "finished_at": _iso(record.finished_at),
        "problems": record.problems if status == TrainingStatus.IMAGE_NOT_VALID else [],
        "error": error,
    }


def model_payload(model: SubjectModel) -> dict:
    return {"model_id": str(model.pk), "type": model.subject_type, **trained_payload(model)}


def inference_payload(request: HttpRequest | None, job: Job) -> dict:
    result = job.result or {}
    expires = job.result_expires_at
    payload = {
        "inference_id": str(job.pk),
        "model_id": job.params["model_id"],
        "status": INFERENCE_STATES[job.state],
        "progress": round(job.progress, 3),
        "avatars": [
            {
                "url": file_url(request, avatar["file"]),
                "likeness_score": avatar["likeness_score"],
                "engine": avatar["engine"],
                "request": avatar["request"],
                "ignored_prompt_terms": avatar["ignored_prompt_terms"],
            }
            for avatar in result.get("avatars", [])
        ],
        "ignored_prompt_terms": result.get("ignored_prompt_terms", []),
        "expires_at": _iso(expires) or result.get("purged_at"),
        "expired": "purged_at" in result,
        "error": None,
    }
    if job.state == Job.State.FAILED:
        payload["error"] = {"code": job.error_code, "message": job.error_message}
    return payload


def own_model(account: PlatformAccount, model_id: str) -> SubjectModel:
    model = (
        SubjectModel.objects.select_related("job")
        .filter(pk=_uuid(model_id), account=account)
        .first()
    )
    if model is None:
        raise HttpError(404, "No such model.")
    return model


def engine_for(account: PlatformAccount, requested: str | None) -> str:
    try:
        return training.choose_engine(account, requested)
    except training.EngineUnavailable as exc:
        raise ApiError(400, "engine_unavailable", str(exc)) from None


def subject_type(value: str) -> str:
    if value not in SubjectModel.SubjectType.values:
        kinds = ", ".join(SubjectModel.SubjectType.values)
        raise ApiError(400, "invalid_type", f"type is one of {kinds}.")
    return value


def create_model(
    account: PlatformAccount | None,
    kind: str,
    engine: str,
    photos: list[bytes],
    user=None,
    idempotency_key: str = "",
) -> SubjectModel:
    """A subject model's record and training job, its price held; a site
    user's (no account) is not billed."""
    model = SubjectModel(account=account, user=user, subject_type=kind, engine=engine)
    billing = "credit" if account is not None else "site"
    try:
        return training.start_training(
            model,
            photos,
            price=settings.SUBJECT_TRAINING_CREDITS,
            billing=billing,
            idempotency_key=idempotency_key,
        )
    except InsufficientCredits:
        raise ApiError(402, "insufficient_credits", "Not enough credit to train.") from None


KEY_REUSED = "This Idempotency-Key was used for another call; use a new key."


def replayed_training(
    account: PlatformAccount, key: str, record: type[TrainedModel]
) -> TrainedModel | None:
    """The model an earlier call with this Idempotency-Key started (a retry
    after a lost answer gets its model_id, charged once). Nothing about the
    photos is kept to compare, so the key alone names the model."""
    job = jobs.find_idempotent(account, key)
    if job is None:
        return None
    found = record.objects.select_related("job").filter(job=job).first()
    if found is None:
        raise ApiError(422, "idempotency_key_reused", KEY_REUSED)
    return found


def accepted_model(model: SubjectModel) -> dict:
    return {"model_id": str(model.pk), "status": trained_status(model)[0], "engine": model.engine}


@router.post(
    "",
    auth=API_KEY_AUTH,
    summary="Train a subject model from 5-30 photos (URLs, base64, or a zip)",
    response={202: AcceptedOut, 400: ErrorOut, 401: ErrorOut, 402: ErrorOut, 413: ErrorOut,
              422: InvalidSetOut},
    openapi_extra=_MODEL_DOC,
)  # fmt: skip
@in_pool
def create(request: HttpRequest) -> HttpResponse | Status:
    """An Idempotency-Key header makes a retry answer the first call's model."""
    key = idempotency_key(request)
    if (model := replayed_training(request.auth, key, SubjectModel)) is not None:
        return Status(202, accepted_model(model))
    body = read_body(request, ModelIn)
    kind = subject_type(body.type)
    engine = engine_for(request.auth, body.engine)
    try:
        photos = read_set(request, body, SUBJECT_SET)
    except SetNotValid as exc:
        return exc.response()
    try:
        model = create_model(request.auth, kind, engine, photos, idempotency_key=key)
    except IntegrityError:  # a concurrent call with the same key won
        return Status(202, accepted_model(replayed_training(request.auth, key, SubjectModel)))
    async_to_sync(wake_workers)(settings.TRAINING_CHANNEL)
    return Status(202, accepted_model(model))


@router.get(
    "/{model_id}",
    auth=API_KEY_AUTH,
    response={200: ModelOut, 401: ErrorOut, 404: ErrorOut},
    summary="A subject model's status: ACCEPTED, IN_PROGRESS (progress, eta), DONE, ...",
)
@in_pool
def status(request: HttpRequest, model_id: str) -> dict:
    payload = model_payload(own_model(request.auth, model_id))
    if payload["status"] in (TrainingStatus.ACCEPTED, TrainingStatus.IN_PROGRESS):
        serve_embedded(settings.TRAINING_CHANNEL)
    return payload


def resolve_style(account: PlatformAccount | None, name: str) -> tuple[str, str | None]:
    """(style, custom style id): a portrait style, "auto", or one of the
    account's trained style tokens."""
    if name == AUTO_STYLE or name in STYLES:
        return name, None
    try:
        return name, str(training.find_custom_style(account, name).pk)
    except training.CustomStyleUnavailable as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


def inference_requests(account: PlatformAccount | None, body: InferencesIn) -> list[dict]:
    """The requests, validated, as the job stores them."""
    if not 1 <= len(body.requests) <= MAX_INFERENCE_REQUESTS:
        raise ApiError(400, "invalid_requests", f"Send 1 to {MAX_INFERENCE_REQUESTS} requests.")
    stored = []
    for index, item in enumerate(body.requests):
        where = f"requests[{index}]"
        if not 1 <= item.count <= 8:
            raise ApiError(400, "invalid_count", f"{where}.count is 1 to 8.")
        for field in ("prompt", "negative_prompt"):
            text = getattr(item, field)
            if len(text) > MAX_PROMPT_CHARS or "\x00" in text:
                raise ApiError(
                    400, "invalid_prompt", f"{where}.{field}: at most 1000 characters, no NUL."
                )
        if not item.prompt.strip():
            raise ApiError(400, "invalid_prompt", f"{where}.prompt is empty.")
        if item.seed is not None and not 0 <= item.seed <= MAX_SEED:
            raise ApiError(400, "invalid_seed", f"{where}.seed is 0 to {MAX_SEED}.")
        style, custom = resolve_style(account, item.style)
        request = {
            "prompt": item.prompt.strip(),
            "style": style,
            "count": item.count,
            "negative_prompt": item.negative_prompt.strip(),
            "seed": item.seed,
        }
        if custom:
            request["custom_style"] = custom
        stored.append(request)
    return stored


def start_inference(
    model: SubjectModel, requests: list[dict], billing: str = "credit", idempotency_key: str = ""
) -> Job:
    if model.status != TrainingStatus.DONE:
        raise ApiError(409, "model_not_ready", f"The model is {model.status}, not DONE.")
    if jobs.queue_depth() >= settings.MAX_QUEUE_DEPTH:
        raise ApiError(429, "queue_full", "Too many jobs are queued; retry shortly.")
    try:
        job = training.start_inference(
            model,
            requests,
            price_each=settings.INFERENCE_IMAGE_CREDITS,
            billing=billing,
            idempotency_key=idempotency_key,
        )
    except InsufficientCredits:
        raise ApiError(402, "insufficient_credits", "Not enough credit for the images.") from None
    async_to_sync(wake_workers)()
    return job


@router.post(
    "/{model_id}/inferences",
    auth=API_KEY_AUTH,
    summary="Draw avatars from a trained model by prompt (1-8 images per request)",
    response={202: InferenceAcceptedOut, 400: ErrorOut, 401: ErrorOut, 402: ErrorOut,
              404: ErrorOut, 409: ErrorOut, 422: ErrorOut, 429: ErrorOut},
)  # fmt: skip
@in_pool
def create_inference(request: HttpRequest, model_id: str, body: InferencesIn) -> Status:
    """An Idempotency-Key header makes a retry answer the first call's inference."""
    model = own_model(request.auth, model_id)
    key = idempotency_key(request)
    requests = inference_requests(request.auth, body)
    job = replayed_inference(model, key, requests)
    if job is None:
        try:
            job = start_inference(model, requests, idempotency_key=key)
        except IntegrityError:  # a concurrent call with the same key won
            job = replayed_inference(model, key, requests)
    return Status(202, {"inference_id": str(job.pk), "status": INFERENCE_STATES[job.state]})


def replayed_inference(model: SubjectModel, key: str, requests: list[dict]) -> Job | None:
    job = jobs.find_idempotent(model.account, key)
    if job is None:
        return None
    same = job.kind == Job.Kind.INFERENCE and job.params.get("model_id") == str(model.pk)
    if not same or job.params.get("requests") != requests:
        raise ApiError(422, "idempotency_key_reused", KEY_REUSED)
    return job


@router.delete(
    "/{model_id}",
    auth=API_KEY_AUTH,
    response={204: None, 401: ErrorOut, 404: ErrorOut},
    summary="Delete a subject model now, with every image drawn from it",
)
@in_pool
def delete(request: HttpRequest, model_id: str) -> Status:
    training.delete_trained(own_model(request.auth, model_id))
    return Status(204, None)


@router.get(
    "/{model_id}/inferences/{inference_id}",
    auth=API_KEY_AUTH,
    response={200: InferenceOut, 401: ErrorOut, 404: ErrorOut},
    summary="An inference's status and, when DONE, its avatars (kept 48 hours)",
)
@in_pool
def inference_status(request: HttpRequest, model_id: str, inference_id: str) -> dict:
    model = own_model(request.auth, model_id)
    job = Job.objects.filter(
        pk=_uuid(inference_id), account=model.account, kind=Job.Kind.INFERENCE
    ).first()
    if job is None or job.params.get("model_id") != str(model.pk):
        raise HttpError(404, "No such inference.")
    if not job.is_finished:
        serve_embedded(settings.WORKER_CHANNEL)
    return inference_payload(request, job)
