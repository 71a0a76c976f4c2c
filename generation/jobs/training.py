"""Custom models as jobs: training subject models and custom styles, and
inferences from a subject model.

A training job carries its reference photos in the job's photo column, packed
into one blob; ending the job (done or failed, by whichever attempt) clears
that column, so the references live exactly as long as training. Nothing else
records them: the model row holds no names, URLs or digests, and nothing here
logs them. Training runs on its own worker channel (settings.TRAINING_CHANNEL);
inferences are interactive, on the portrait workers' channel, because a person
is waiting for a handful of images, each as quick as a portrait.
"""

import functools
import io
import json
import logging
import struct
import time
import zipfile
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts import credits
from accounts.models import PlatformAccount
from generation.jobs import queue as jobs
from generation.jobs.lease import lease_kept
from generation.jobs.notify import publish
from generation.jobs.photos import insert_with_photo
from generation.models import (
    STYLE_TOKEN_PREFIX,
    CustomStyle,
    Job,
    SubjectModel,
    TrainedModel,
    TrainingStatus,
)
from generation.training import (
    CustomLook,
    InferenceRequest,
    ModelArtifacts,
    TrainingError,
    TrainingSettings,
    available_engines,
    custom_look,
    infer_subject,
    train_style,
    train_subject,
)

logger = logging.getLogger(__name__)
PROGRESS_WRITE_SECONDS = 1.0  # at most one progress write per job per second
_LENGTH = struct.Struct(">I")


class EngineUnavailable(Exception):
    """The engine asked for is not one this deployment runs."""


def pack_photos(photos: list[bytes]) -> bytes:
    """The reference photos as one blob (length-prefixed, in order) for the job row."""
    return b"".join(_LENGTH.pack(len(photo)) + photo for photo in photos)


def unpack_photos(blob: bytes) -> list[bytes]:
    photos, at = [], 0
    while at < len(blob):
        (size,) = _LENGTH.unpack_from(blob, at)
        at += _LENGTH.size
        photos.append(blob[at : at + size])
        at += size
    return photos


def artifacts_bytes(artifacts: ModelArtifacts) -> bytes:
    """A trained model as one zip: meta.json (with the engine) plus its files."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.json", json.dumps({"engine": artifacts.engine, **artifacts.meta}))
        for name, data in artifacts.files.items():
            archive.writestr(f"files/{name}", data)
    return out.getvalue()


def read_artifacts(name: str) -> ModelArtifacts:
    """A stored model's artifacts (the zip was written by artifacts_bytes)."""
    with default_storage.open(name, "rb") as handle, zipfile.ZipFile(handle) as archive:
        meta = json.loads(archive.read("meta.json"))
        files = {
            info.filename.removeprefix("files/"): archive.read(info)
            for info in archive.infolist()
            if info.filename.startswith("files/")
        }
    return ModelArtifacts(engine=meta.pop("engine"), files=files, meta=meta)


class CustomStyleUnavailable(Exception):
    """A style_token this account cannot use (yet): an HTTP status, a code, a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def is_style_token(name: str) -> bool:
    return name.startswith(STYLE_TOKEN_PREFIX)


def find_custom_style(account: PlatformAccount | None, token: str) -> CustomStyle:
    """The account's trained custom style by its token; another account's
    token is as unknown as a made-up one."""
    custom = None
    if account is not None:
        custom = CustomStyle.objects.filter(account=account, style_token=token).first()
    if custom is None:
        raise CustomStyleUnavailable(400, "unknown_style", f"No style named {token[:60]!r}.")
    if custom.status != TrainingStatus.DONE:
        raise CustomStyleUnavailable(
            409, "style_not_ready", "That custom style has not finished training."
        )
    return custom


@functools.lru_cache(maxsize=32)
def stored_look(name: str) -> CustomLook:
    """A custom style's look, from its (immutable) artifact file."""
    return custom_look(read_artifacts(name))


def custom_style_params(account: PlatformAccount, token: str) -> dict:
    """A portrait job's style parameters for a style_token: the look's base
    style and backdrop palette, and which custom style finishes it."""
    custom = find_custom_style(account, token)
    look = stored_look(custom.artifact.name)
    return {"style": look.base_style, "palette": list(look.palette), "custom_style": str(custom.pk)}


def look_for(params: dict) -> CustomLook | None:
    """The custom look a portrait job asked for (`custom_style`), if any."""
    if not (style_id := params.get("custom_style")):
        return None
    return stored_look(CustomStyle.objects.get(pk=style_id).artifact.name)


def delete_trained(record: TrainedModel) -> None:
    """Delete a model or style now: its artifact and (a subject model's)
    inferences go with it (generation.signals); a training still queued or
    running is deleted too, its credit given back, so its worker's result is
    discarded when it ends."""
    with transaction.atomic():
        if record.job is not None and not record.job.is_finished:
            record.job.delete()
        record.delete()


def training_settings() -> TrainingSettings:
    return TrainingSettings(
        diffusion_model_dir=settings.DIFFUSION_MODEL_DIR,
        train_steps=settings.DIFFUSION_TRAIN_STEPS,
        inference_steps=settings.DIFFUSION_INFERENCE_STEPS,
        resolution=settings.DIFFUSION_RESOLUTION,
    )


def engines() -> list[str]:
    """The engines this deployment runs (diffusion only with a local base model)."""
    return available_engines(settings.DIFFUSION_MODEL_DIR)


def choose_engine(account: PlatformAccount | None, requested: str | None) -> str:
    """The request's engine, else the account's, else the deployment's, if it runs here."""
    chosen = account.custom_model_engine if account is not None else ""
    engine = requested or chosen or settings.CUSTOM_MODEL_ENGINE
    if engine not in engines():
        raise EngineUnavailable(f"The {engine!r} engine is not available; use one of {engines()}.")
    return engine


def _new_job(
    account: PlatformAccount | None,
    kind: str,
    params: dict,
    photo: bytes | None,
    price: int,
    idempotency_key: str = "",
) -> Job:
    """Insert the job (its Idempotency-Key taken: IntegrityError) and hold its price."""
    rank = jobs.fair_ranks(account, 1, batch=False, kind=kind)[0]
    job = Job(account=account, kind=kind, params=params, queue_rank=rank,
              idempotency_key=idempotency_key)  # fmt: skip
    if photo is None:
        job.save(force_insert=True)
    else:
        insert_with_photo(job, photo)
    if price and params.get("billing", "credit") == "credit":
        credits.reserve(account, [job], each=price)
    return job


def start_training(
    record: TrainedModel,
    photos: list[bytes],
    *,
    price: int,
    billing: str = "credit",
    idempotency_key: str = "",
) -> TrainedModel:
    """Save the model's record and its training job (holding the photos), and
    hold its price, all or nothing; raises credits.InsufficientCredits (or
    IntegrityError for a taken Idempotency-Key) with nothing stored."""
    target = "style" if isinstance(record, CustomStyle) else "subject"
    params = {"target": target, "model_id": str(record.pk), "engine": record.engine}
    if billing != "credit":
        params["billing"] = billing
    with transaction.atomic():
        record.job = _new_job(
            record.account,
            Job.Kind.TRAINING,
            params,
            pack_photos(photos),
            price,
            idempotency_key,
        )
        record.save(force_insert=True)
    return record


def start_inference(
    model: SubjectModel,
    requests: list[dict],
    *,
    price_each: int,
    billing: str = "credit",
    idempotency_key: str = "",
) -> Job:
    """An inference job for a trained model: each request is a dict of
    InferenceRequest's fields (plus `custom_style`, a CustomStyle id, when its
    style is a style_token). Holds price_each per image."""
    images = sum(request["count"] for request in requests)
    params = {"model_id": str(model.pk), "requests": requests, "images": images, "billing": billing}
    with transaction.atomic():
        return _new_job(
            model.account, Job.Kind.INFERENCE, params, None, price_each * images, idempotency_key
        )


class ProgressReporter:
    """The engine's progress callback: the record's progress and time left,
    written at most once a second, and every report sent to the job's
    channel-layer group (pages and waiting calls listen there)."""

    def __init__(
        self, job: Job, record: type[TrainedModel] | None, start: float = 0.0, span: float = 1.0
    ) -> None:
        self.job = job
        self.record = record
        self.started = time.monotonic()
        self.written = 0.0
        self.start, self.span = start, span

    def eta(self, fraction: float) -> float | None:
        if fraction < 0.02:
            return None
        elapsed = time.monotonic() - self.started
        return round(elapsed * (1 - fraction) / fraction, 1)

    def __call__(self, fraction: float, message: str) -> None:
        fraction = round(min(self.start + self.span * max(fraction, 0.0), 0.99), 3)
        eta = self.eta(fraction)
        if time.monotonic() - self.written >= PROGRESS_WRITE_SECONDS:
            self.written = time.monotonic()
            jobs.retry_when_locked(lambda: self._write(fraction, eta))
        publish(self.job.pk, Job.State.RUNNING, fraction, eta_seconds=eta, stage=message)

    def _write(self, fraction: float, eta: float | None) -> None:
        Job.objects.filter(pk=self.job.pk, state=Job.State.RUNNING).update(progress=fraction)
        if self.record is not None:
            model_id = self.job.params["model_id"]
            self.record.objects.filter(pk=model_id, status=TrainingStatus.IN_PROGRESS).update(
                progress=fraction, eta_seconds=eta
            )


def record_type(job: Job) -> type[TrainedModel]:
    return CustomStyle if job.params.get("target") == "style" else SubjectModel


def _end_record(job: Job, record: type[TrainedModel], **fields) -> Callable[[], None]:
    """The record's update when its job ends (run inside the job's ending transaction)."""

    def update() -> None:
        record.objects.filter(pk=job.params["model_id"]).update(
            finished_at=timezone.now(), eta_seconds=None, **fields
        )

    return update


def run_training(claimed: jobs.Claimed, owner: str) -> None:
    """Train a subject model or custom style: DONE with its artifact stored,
    IMAGE_NOT_VALID (with a reason per photo) or FAILED, uncharged unless DONE.
    Either way the job's end clears the references."""
    job = claimed.job
    record = record_type(job)
    log = {"job_id": str(job.pk), "worker": owner}
    logger.info("training started", extra=log)
    model_id = job.params["model_id"]
    unfinished = (TrainingStatus.ACCEPTED, TrainingStatus.IN_PROGRESS)
    record.objects.filter(pk=model_id, status__in=unfinished).update(
        status=TrainingStatus.IN_PROGRESS, progress=0.0
    )
    publish(job.pk, Job.State.RUNNING, 0.0, status=TrainingStatus.IN_PROGRESS)
    progress = ProgressReporter(job, record)
    stored = ""
    try:
        photos = unpack_photos(claimed.photo or b"")
        with lease_kept(job, owner):
            if record is CustomStyle:
                artifacts = train_style(
                    photos,
                    engine=job.params["engine"],
                    progress=progress,
                    settings=training_settings(),
                )
            else:
                subject_type = SubjectModel.objects.get(pk=model_id).subject_type
                artifacts = train_subject(
                    photos,
                    subject_type,
                    engine=job.params["engine"],
                    progress=progress,
                    settings=training_settings(),
                )
        del photos
        name = f"custom-models/{model_id}-{job.attempts}.zip"
        stored = default_storage.save(name, ContentFile(artifacts_bytes(artifacts)))
    except TrainingError as exc:
        status = TrainingStatus.IMAGE_NOT_VALID if exc.problems else TrainingStatus.FAILED
        problems = [vars(problem) for problem in exc.problems]
        code = "IMAGE_NOT_VALID" if exc.problems else exc.code
        end = _end_record(job, record, status=status, problems=problems, error_code=code,
                          error_message=exc.message[:500])  # fmt: skip
        ended = jobs.finish_custom(job, owner, done=False, on_end=end, error_code=code,
                                   error_message=exc.message[:500])  # fmt: skip
    except Exception:
        logger.exception("training crashed", extra=log)
        status = TrainingStatus.FAILED
        message = "Training failed; nothing was charged."
        end = _end_record(job, record, status=status, error_code="internal_error",
                          error_message=message)  # fmt: skip
        ended = jobs.finish_custom(job, owner, done=False, on_end=end,
                                   error_code="internal_error", error_message=message)  # fmt: skip
    else:
        status = TrainingStatus.DONE
        end = _end_record(job, record, status=status, artifact=stored, progress=1.0)
        ended = jobs.finish_custom(job, owner, done=True, on_end=end)
    if ended is None:
        logger.warning("training taken over by another worker; result discarded", extra=log)
        if stored:
            default_storage.delete(stored)
        return
    logger.info("training %s", status, extra=log)
    publish(job.pk, ended["state"], 1.0, status=status, ended=ended)


def inference_file(job: Job, attempt: int, number: int) -> str:
    return f"inferences/{job.pk}-{attempt}-{number}.png"


def run_inference(claimed: jobs.Claimed, owner: str) -> None:
    """Draw every requested image from the subject model; DONE (charged per
    image) with results kept INFERENCE_RETENTION_HOURS, or FAILED (free)."""
    job = claimed.job
    log = {"job_id": str(job.pk), "worker": owner}
    publish(job.pk, Job.State.RUNNING, 0.0)
    saved: list[str] = []
    try:
        with lease_kept(job, owner):
            avatars = _draw(job, saved)
    except TrainingError as exc:
        ended = jobs.finish_failed(job, owner, exc.code, exc.message)
    except Exception:
        logger.exception("inference crashed", extra=log)
        ended = jobs.finish_failed(job, owner, "internal_error", "The images could not be made.")
    else:
        ignored = sorted({term for avatar in avatars for term in avatar["ignored_prompt_terms"]})
        expires = timezone.now() + timedelta(hours=settings.INFERENCE_RETENTION_HOURS)
        result = {"avatars": avatars, "ignored_prompt_terms": ignored}
        ended = jobs.finish_custom(job, owner, done=True, result=result, result_expires_at=expires)
        if ended is not None:
            _remove_earlier_attempts(job)
    if ended is None:
        logger.warning("inference taken over by another worker; result discarded", extra=log)
    if ended is None or ended["state"] != Job.State.DONE:
        for name in saved:
            default_storage.delete(name)
    if ended is not None:
        publish(job.pk, ended["state"], 1.0, ended=ended)


def _draw(job: Job, saved: list[str]) -> list[dict]:
    model = SubjectModel.objects.get(pk=job.params["model_id"], status=TrainingStatus.DONE)
    artifacts = read_artifacts(model.artifact.name)
    styles: dict[str, ModelArtifacts] = {}
    requests = job.params["requests"]
    total = max(1, job.params["images"])
    avatars: list[dict] = []
    for index, fields in enumerate(requests):
        custom = None
        if style_id := fields.get("custom_style"):
            if style_id not in styles:
                style = CustomStyle.objects.get(pk=style_id, status=TrainingStatus.DONE)
                styles[style_id] = read_artifacts(style.artifact.name)
            custom = styles[style_id]
        request = InferenceRequest(
            prompt=fields["prompt"],
            style=fields["style"],
            count=fields["count"],
            negative_prompt=fields.get("negative_prompt", ""),
            seed=fields.get("seed"),
        )
        progress = ProgressReporter(job, None, len(avatars) / total, request.count / total)
        images = infer_subject(
            artifacts,
            request,
            custom_style=custom,
            progress=progress,
            settings=training_settings(),
        )
        for image in images:
            name = default_storage.save(
                inference_file(job, job.attempts, len(avatars)), ContentFile(image.png)
            )
            saved.append(name)
            avatars.append(
                {
                    "file": name,
                    "request": index,
                    "likeness_score": image.likeness_score,
                    "engine": image.engine,
                    "ignored_prompt_terms": list(image.ignored_prompt_terms),
                }
            )
    return avatars


def _remove_earlier_attempts(job: Job) -> None:
    """Images an earlier, killed attempt saved without recording them."""
    for attempt in range(1, job.attempts):
        for number in range(job.params["images"]):
            default_storage.delete(inference_file(job, attempt, number))
