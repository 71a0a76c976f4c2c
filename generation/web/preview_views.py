"""The endpoints behind the avatar picker (signup and /me/avatar/): the identity
preview image, photo upload, regenerate, the photo panel fragment (htmx
polls it when there is no WebSocket) and the preview images. Every job is
looked up through the session that started it."""

import io

from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from PIL import Image

from generation.avatars import (
    CONTENT_TYPES,
    AvatarRequest,
    cached_avatar,
    identity_draft,
    pinned_request,
)
from generation.jobs import queue as jobs
from generation.jobs.source_photo import SourcePhotoError
from generation.jobs.worker import wake_workers
from generation.models import IdentityAvatar, Job, ProfileAvatar, Style
from generation.portrait.styles import BACKGROUNDS, STYLES
from generation.profile_avatars import sized_png
from generation.web import photo_jobs
from generation.web.forms import active_styles
from generation.web.ratelimit import QueueBusy, RateLimited, client_ip, take_preview
from generation.web.uploads import UploadRefused, photo_from_upload
from generation.web.words import (
    BACKGROUND_NAMES,
    STYLE_NAMES,
    likeness_words,
    refusal,
    stage_label,
    warnings_in_words,
)

PLACEHOLDER_NAME = "new member"
SESSION_JOB = "preview_job"


def refusal_response(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


def identity_style(slug: str | None, fallback: Style | None) -> Style | None:
    """The active style named `slug`, else `fallback`."""
    if slug:
        style = active_styles().filter(slug=slug).select_related("current_version").first()
        if style is not None:
            return style
    return fallback


def identity_request(request: HttpRequest, fmt: str) -> AvatarRequest | None:
    """What the picker previews: for a signed-in person, their own seed and
    palette in the style asked for; at signup, exactly the avatar the account
    will get for the username typed so far (generation.avatars.identity_draft)."""
    slug = request.GET.get("style", "")[:40]
    if request.user.is_authenticated and "username" not in request.GET:
        own = IdentityAvatar.objects.filter(user=request.user).select_related(
            "style_version__style", "palette_version"
        )
        draft = own.first()
        if draft is None:
            return None
        style = identity_style(slug, draft.style_version.style)
        if style.pk != draft.style_version.style_id:  # unsaved: only drawn
            draft.style_version = style.current_version
    else:
        username = request.GET.get("username", "").strip()[:150] or PLACEHOLDER_NAME
        draft = identity_draft(username, username, "user", "", identity_style(slug, None))
        if draft is None:
            return None
    return pinned_request(draft, fmt, settings.IDENTITY_SIGNUP_PNG_SIZE)


@require_GET
def identity_preview(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in ("svg", "png"):
        raise Http404
    avatar_request = identity_request(request, fmt)
    if avatar_request is None:
        raise Http404("No identity styles are installed.")
    response = HttpResponse(cached_avatar(avatar_request), content_type=CONTENT_TYPES[fmt])
    response["Cache-Control"] = "private, max-age=600"
    response["X-Content-Type-Options"] = "nosniff"
    if fmt == "svg":
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def job_json(job: Job) -> dict:
    return {
        "job": str(job.pk),
        "state": job.state,
        "panel_url": reverse("preview-panel", args=[job.pk]),
        "original_url": reverse("preview-original", args=[job.pk]),
    }


def start_generation(request: HttpRequest, start) -> Job:
    """Count the generation against the rate limits, start it, wake a worker
    and remember it as the session's current preview."""
    if not request.session.session_key:
        request.session.save()
    if jobs.queue_depth() >= settings.MAX_QUEUE_DEPTH:
        raise QueueBusy()
    take_preview(request.session.session_key, client_ip(request))
    job = start()
    async_to_sync(wake_workers)()
    request.session[SESSION_JOB] = str(job.pk)
    return job


def upload_photo(request: HttpRequest) -> Job:
    """Start a preview from the request's `photo` file (raises UploadRefused, RateLimited)."""
    photo = photo_from_upload(request.FILES.get("photo"))
    owner = photo_jobs.owner_token(request.session)
    return start_generation(request, lambda: photo_jobs.start_preview(owner, photo))


def regenerate_job(request: HttpRequest, job_id) -> Job:
    """Another result from a preview's cached photo (raises Http404,
    SourcePhotoError, RateLimited)."""
    owner = photo_jobs.owner_token(request.session)
    source = photo_jobs.owned_job(owner, job_id)
    if source is None:
        raise Http404("No such preview.")
    style = request.POST.get("style") or None
    background = request.POST.get("background") or None
    if style not in STYLES:
        style = None
    if background not in BACKGROUNDS:
        background = None
    return start_generation(
        request, lambda: photo_jobs.regenerate(owner, source, style, background)
    )


@require_POST
def photo_upload(request: HttpRequest) -> JsonResponse:
    try:
        job = upload_photo(request)
    except UploadRefused as exc:
        return refusal_response(exc.code, exc.message, exc.status)
    except RateLimited as exc:
        return refusal_response(exc.code, exc.message, 429)
    return JsonResponse(job_json(job), status=201)


@require_POST
def job_regenerate(request: HttpRequest, job_id: str) -> JsonResponse:
    try:
        job = regenerate_job(request, job_id)
    except SourcePhotoError as exc:
        return refusal_response(exc.code, refusal(exc.code), 410)
    except RateLimited as exc:
        return refusal_response(exc.code, exc.message, 429)
    return JsonResponse(job_json(job), status=201)


def session_job(request: HttpRequest, job_id) -> Job:
    job = photo_jobs.owned_job(request.session.get(photo_jobs.OWNER_KEY), job_id)
    if job is None:
        raise Http404("No such preview.")
    return job


def panel_context(job: Job | None) -> dict:
    """What the photo panel shows for a preview job (or none yet)."""
    if job is None:
        return {"job": None}
    result = job.result or {}
    style, background = photo_jobs.look(job)
    return {
        "job": job,
        "finished": job.is_finished,
        "failed": job.state == Job.State.FAILED,
        "stage": stage_label("queued" if job.state == Job.State.QUEUED else ""),
        "refusal": refusal(job.error_code) if job.state == Job.State.FAILED else "",
        "likeness": likeness_words(result.get("likeness_score")),
        "warnings": warnings_in_words(result.get("validation_warnings", [])),
        "style": style,
        "style_name": STYLE_NAMES.get(style, style),
        "background": background,
        "styles": STYLE_NAMES.items(),
        "backgrounds": BACKGROUND_NAMES.items(),
        "has_original": bool(job.cached_input.name),
        "has_ai": bool(job.avatar_file.name),
    }


@require_GET
def job_panel(request: HttpRequest, job_id: str) -> HttpResponse:
    return render(
        request, "avatar_picker/photo_panel.html", panel_context(session_job(request, job_id))
    )


def image_response(body: bytes | None, content_type: str) -> HttpResponse:
    if body is None:
        raise Http404("This picture is no longer kept.")
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def job_original(request: HttpRequest, job_id: str) -> HttpResponse:
    body = photo_jobs.stored_file(session_job(request, job_id).cached_input.name)
    content_type = "application/octet-stream"
    if body is not None:
        with Image.open(io.BytesIO(body)) as image:
            content_type = Image.MIME.get(image.format or "", content_type)
    return image_response(body, content_type)


@require_GET
def job_ai(request: HttpRequest, job_id: str) -> HttpResponse:
    return image_response(
        photo_jobs.stored_file(session_job(request, job_id).avatar_file.name), "image/png"
    )


@require_GET
def profile_avatar(request: HttpRequest, public_id: str, size: int) -> HttpResponse:
    """A picked avatar (public, like identity avatars); a new pick has a new id."""
    picked = ProfileAvatar.objects.filter(public_id=public_id).first()
    if picked is None:
        raise Http404("No such avatar.")
    try:
        body = sized_png(picked, size)
    except ValueError:
        raise Http404("Sizes are 16 to 1024.") from None
    response = HttpResponse(body, content_type="image/png")
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response
