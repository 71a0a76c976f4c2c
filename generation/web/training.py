"""/models/: a signed-in person trains a subject model from their own photos,
watches it train (live over /ws/models/<id>/, htmx polling without a socket),
draws avatars by prompt, downloads them, and sees when they will be deleted.

People on the site are not API accounts: their models belong to them (no
account), cost nothing, and are limited per person per day
(SITE_TRAININGS_PER_DAY, SITE_INFERENCE_IMAGES_PER_DAY), as the signup
previews are free but rate-limited.
"""

from datetime import timedelta

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from generation.api.models import (
    AUTO_STYLE,
    InferenceRequestIn,
    InferencesIn,
    create_model,
    inference_payload,
    inference_requests,
    model_payload,
    start_inference,
)
from generation.api.portraits import _uuid
from generation.api.reference_sets import SUBJECT_SET, SetNotValid, check_photos
from generation.errors import ApiError
from generation.jobs import training
from generation.jobs.worker import serve_embedded, wake_workers
from generation.models import Job, SubjectModel, TrainingStatus
from generation.portrait.load import DEFAULT_LIMITS

PAGE_STYLES = (
    (AUTO_STYLE, "Let the prompt decide"),
    ("corporate_headshot", "Corporate headshot"),
    ("editorial", "Editorial"),
    ("anime", "Anime"),
)
MAX_PAGE_COUNT = 4
DAY = timedelta(hours=24)


def trainings_today(user) -> int:
    """Trainings started in the last 24 hours; a set found not valid does not count."""
    recent = SubjectModel.objects.filter(user=user, created_at__gte=timezone.now() - DAY)
    return recent.exclude(status=TrainingStatus.IMAGE_NOT_VALID).count()


def images_today(user) -> int:
    mine = SubjectModel.objects.filter(user=user).values_list("pk", flat=True)
    model_ids = [str(pk) for pk in mine]
    recent = Job.objects.filter(
        kind=Job.Kind.INFERENCE,
        account=None,
        params__model_id__in=model_ids,
        created_at__gte=timezone.now() - DAY,
    ).exclude(state=Job.State.FAILED)
    return sum(job.params["images"] for job in recent.only("params"))


def own_model(request: HttpRequest, model_id: str) -> SubjectModel:
    model = (
        SubjectModel.objects.select_related("job")
        .filter(pk=_uuid(model_id), user=request.user)
        .first()
    )
    if model is None:
        raise Http404("No such model.")
    return model


@login_required
@require_http_methods(["GET", "POST"])
def model_list(request: HttpRequest) -> HttpResponse:
    """The person's models, and the form that trains a new one."""
    context = {"problems": [], "error": "", "chosen_type": "man"}
    if request.method == "POST":
        outcome = _train(request, context)
        if outcome is not None:
            return outcome
    models = SubjectModel.objects.filter(user=request.user).select_related("job")[:50]
    context.update(
        models=[(model, model_payload(model)) for model in models],
        types=SubjectModel.SubjectType.choices,
        left_today=max(0, settings.SITE_TRAININGS_PER_DAY - trainings_today(request.user)),
        per_day=settings.SITE_TRAININGS_PER_DAY,
        fewest=SUBJECT_SET.fewest,
        most=SUBJECT_SET.most,
    )
    status = 400 if context["problems"] or context["error"] else 200
    return render(request, "training/models.html", context, status=status)


def _train(request: HttpRequest, context: dict) -> HttpResponse | None:
    """Start training from the uploaded photos; None (the form again, with
    what went wrong in `context`) when it cannot."""
    kind = request.POST.get("type", "")
    context["chosen_type"] = kind
    if kind not in SubjectModel.SubjectType.values:
        context["error"] = "Pick what the photos show."
        return None
    if trainings_today(request.user) >= settings.SITE_TRAININGS_PER_DAY:
        context["error"] = (
            f"You can train {settings.SITE_TRAININGS_PER_DAY} models a day; try again tomorrow."
        )
        return None
    uploads = request.FILES.getlist("photos")
    if len(uploads) > SUBJECT_SET.most or len(uploads) < SUBJECT_SET.fewest:
        context["error"] = (
            f"Choose {SUBJECT_SET.fewest} to {SUBJECT_SET.most} photos (you chose {len(uploads)})."
        )
        return None
    if any(upload.size > DEFAULT_LIMITS.max_bytes for upload in uploads):
        context["error"] = f"Each photo must be under {DEFAULT_LIMITS.max_bytes // 2**20} MB."
        return None
    photos = [upload.read() for upload in uploads]
    try:
        check_photos(photos, SUBJECT_SET)
    except SetNotValid as exc:
        context["problems"] = exc.problems
        return None
    except ApiError as exc:
        context["error"] = exc.message
        return None
    engine = training.choose_engine(None, None)
    model = create_model(None, kind, engine, photos, user=request.user)
    async_to_sync(wake_workers)(settings.TRAINING_CHANNEL)
    return redirect("training-model", model_id=model.pk)


def panel_context(request: HttpRequest, model: SubjectModel) -> dict:
    inferences = Job.objects.filter(
        kind=Job.Kind.INFERENCE, account=None, params__model_id=str(model.pk)
    ).order_by("-created_at")[:12]
    shown = []
    for job in inferences:
        payload = inference_payload(request, job)
        payload["prompt"] = job.params["requests"][0]["prompt"]
        payload["created_at"] = job.created_at
        payload["expires"] = job.result_expires_at
        shown.append(payload)
    status = model_payload(model)
    if status["status"] in (TrainingStatus.ACCEPTED, TrainingStatus.IN_PROGRESS):
        serve_embedded(settings.TRAINING_CHANNEL)
    pending = status["status"] in (TrainingStatus.ACCEPTED, TrainingStatus.IN_PROGRESS) or any(
        item["status"] in (TrainingStatus.ACCEPTED, TrainingStatus.IN_PROGRESS) for item in shown
    )
    return {
        "model": model,
        "status": status,
        "inferences": shown,
        "pending": pending,
        "panel_url": reverse("training-panel", args=[model.pk]),
        "styles": PAGE_STYLES,
        "counts": range(1, MAX_PAGE_COUNT + 1),
    }


@login_required
@require_http_methods(["GET", "POST"])
def model_page(request: HttpRequest, model_id: str) -> HttpResponse:
    """One model: its training, the prompt form, and the avatars drawn from it."""
    model = own_model(request, model_id)
    error = ""
    if request.method == "POST":
        error = _draw(request, model)
        if not error:
            return redirect("training-model", model_id=model.pk)
    context = panel_context(request, model)
    context.update(error=error, prompt=request.POST.get("prompt", ""))
    context["socket_path"] = f"/ws/models/{model.pk}/"
    return render(request, "training/model.html", context, status=400 if error else 200)


def _draw(request: HttpRequest, model: SubjectModel) -> str:
    """Start an inference from the prompt form; what went wrong, or ""."""
    try:
        count = int(request.POST.get("count", "1"))
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_PAGE_COUNT:
        return f"Ask for 1 to {MAX_PAGE_COUNT} images."
    if images_today(request.user) + count > settings.SITE_INFERENCE_IMAGES_PER_DAY:
        return (
            f"You can make {settings.SITE_INFERENCE_IMAGES_PER_DAY} images a day; "
            "try again tomorrow."
        )
    item = InferenceRequestIn(
        prompt=request.POST.get("prompt", ""),
        style=request.POST.get("style", AUTO_STYLE),
        count=count,
    )
    try:
        requests = inference_requests(None, InferencesIn(requests=[item]))
        start_inference(model, requests, billing="site")
    except ApiError as exc:
        return exc.message
    return ""


@login_required
def model_panel(request: HttpRequest, model_id: str) -> HttpResponse:
    """The status and results part of the model page (htmx swaps it in)."""
    model = own_model(request, model_id)
    return render(request, "training/model_panel.html", panel_context(request, model))


@login_required
@require_http_methods(["POST"])
def delete_model(request: HttpRequest, model_id: str) -> HttpResponse:
    """Delete the model now, with every avatar drawn from it."""
    training.delete_trained(own_model(request, model_id))
    messages.success(request, "The model and every avatar made from it are deleted.")
    return redirect("training-models")
