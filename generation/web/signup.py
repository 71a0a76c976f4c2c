"""The signup page and /me/avatar/: one avatar picker (identity avatar with
regenerate, "add a photo", original vs AI version), then confirm.

With JavaScript the picker talks to generation.web.preview_views and the
/ws/preview/ socket; without it, every button posts this page's form and the
page answers with the same picker, rendered on the server."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from generation.avatars import default_identity_style, restyle_identity_avatar
from generation.jobs.source_photo import SourcePhotoError, cached_photo
from generation.models import IdentityAvatar, Job, ProfileAvatar, Style
from generation.offers import record_accepted, record_declined
from generation.profile_avatars import clear_pick, pick_ai, pick_photo
from generation.web import photo_jobs
from generation.web.forms import AvatarChoiceForm, SignupForm, active_styles
from generation.web.preview_views import (
    SESSION_JOB,
    panel_context,
    regenerate_job,
    session_job,
    upload_photo,
)
from generation.web.ratelimit import RateLimited
from generation.web.uploads import UploadRefused
from generation.web.words import refusal

SESSION_STYLE = "identity_style"
SESSION_FIELDS = "signup_fields"  # username and email typed before a no-script picker post


class ChoiceError(Exception):
    """The picked avatar cannot be kept; the message says why in plain words."""


@dataclass(frozen=True)
class Choice:
    kind: str  # identity, photo or ai
    job: Job | None
    image: bytes = b""


def resolve_choice(owner: str | None, data: dict) -> Choice:
    """Check the pick before anything is saved: the preview is the session's
    own, and its photo or AI version is still there."""
    kind = data["avatar_choice"]
    job = photo_jobs.owned_job(owner, data["job"]) if data.get("job") else None
    if data.get("job") and job is None:
        raise ChoiceError("That preview is not one of yours.")
    if kind == "photo":
        try:
            return Choice(kind, job, cached_photo(job))
        except SourcePhotoError as exc:
            raise ChoiceError(refusal(exc.code)) from None
    if kind == "ai":
        image = photo_jobs.stored_file(job.avatar_file.name)
        if job.state != Job.State.DONE or image is None:
            raise ChoiceError("The AI version is not ready. Wait for it, or pick another.")
        return Choice(kind, job, image)
    return Choice(kind, job if job is not None and job.state == Job.State.DONE else None)


def checked_choice(owner: str | None, form: AvatarChoiceForm) -> Choice | None:
    """The form's pick, or None with the reason put on the form."""
    try:
        return resolve_choice(owner, form.cleaned_data)
    except ChoiceError as exc:
        form.add_error("avatar_choice", str(exc))
        return None


def keep_choice(user, choice: Choice, owner: str | None) -> None:
    """Keep the pick (the original only if it was picked), record the answer
    to the AI offer, and delete the session's other previews."""
    job = choice.job
    if choice.kind == "ai":
        pick_ai(user, choice.image, job.params.get("style", ""))
        record_accepted(job)
    elif choice.kind == "photo":
        pick_photo(user, choice.image, (job.result or {}).get("dominant_face"))
        if job.state == Job.State.DONE:
            record_declined(job, "original")
    else:
        clear_pick(user)
        if job is not None:  # a finished preview (resolve_choice): an offer declined
            record_declined(job, "identity")
    photo_jobs.end_previews(owner)


def current_style(request: HttpRequest, fallback: Style | None) -> Style | None:
    slug = request.session.get(SESSION_STYLE)
    style = active_styles().filter(slug=slug).first() if slug else None
    return style or fallback


def next_style(current: Style | None) -> Style | None:
    styles = list(active_styles())
    if not styles:
        return None
    index = styles.index(current) if current in styles else -1
    return styles[(index + 1) % len(styles)]


def current_job(request: HttpRequest) -> Job | None:
    """The session's latest preview, unless its files are gone (kept or purged)."""
    try:
        job = session_job(request, request.session.get(SESSION_JOB))
    except Http404:
        return None
    if job.is_finished and not (job.cached_input.name or job.avatar_file.name):
        return None
    return job


def picker_context(
    request: HttpRequest, style: Style | None, choice: str | None, default: str = "identity"
) -> dict:
    """The picker as it stands: `choice` as posted (None: the AI version once
    there is one, else `default`; "" checks nothing, keeping the avatar one has)."""
    job = current_job(request)
    done = job is not None and job.state == Job.State.DONE
    if choice is None:
        choice = "ai" if done else default
    if choice in ("photo", "ai") and not done:
        choice = default
    return {
        "identity_style": style,
        "identity_styles": list(active_styles().values_list("slug", "name")),
        "avatar_choice": choice,
        "max_upload_bytes": settings.PREVIEW_MAX_UPLOAD_BYTES,
        **panel_context(job),
    }


PICKER_ACTIONS = ("next_style", "upload", "regenerate")


def picker_action(request: HttpRequest, fallback: Style | None) -> str:
    """Do what a picker button posted without JavaScript asks (next style,
    upload, regenerate); the action's name, or "" when it was none of them."""
    action = request.POST.get("action", "")
    try:
        if action == "next_style":
            style = next_style(current_style(request, fallback))
            request.session[SESSION_STYLE] = style.slug if style else ""
        elif action == "upload":
            upload_photo(request)
        elif action == "regenerate":
            regenerate_job(request, request.POST.get("job") or request.session.get(SESSION_JOB))
    except UploadRefused as exc:
        messages.error(request, exc.message)
    except SourcePhotoError as exc:
        messages.error(request, refusal(exc.code))
    except RateLimited as exc:
        messages.warning(request, exc.message)
    return action if action in PICKER_ACTIONS else ""


def posted_choice(request: HttpRequest, action: str) -> str | None:
    """The choice to show after a post: a new photo or look shows its AI version."""
    if action in ("upload", "regenerate"):
        return None
    return request.POST.get("avatar_choice") or None


def remember_style(request: HttpRequest) -> None:
    """Keep the style a JavaScript picker cycled to, for the next render."""
    slug = request.POST.get("identity_style", "")
    if slug and active_styles().filter(slug=slug).exists():
        request.session[SESSION_STYLE] = slug


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("me-avatar")
    photo_jobs.owner_token(request.session)
    fallback = default_identity_style("user", "")
    form = SignupForm(request.POST or None, initial=request.session.get(SESSION_FIELDS))
    choice = None
    if request.method == "POST":
        remember_style(request)
        action = picker_action(request, fallback)
        choice = posted_choice(request, action)
        if action:  # kept while the page reloads itself for the result
            typed = {name: request.POST.get(name, "")[:254] for name in ("username", "email")}
            request.session[SESSION_FIELDS] = typed
            form = SignupForm(initial=typed)
        elif form.is_valid():
            user = create_account(request, form)
            if user is not None:
                messages.success(request, f"Welcome, {user.get_username()}! Your account is ready.")
                return redirect("me-avatar")
    context = picker_context(request, current_style(request, fallback), choice)
    return render(request, "signup.html", {"form": form, **context})


def create_account(request: HttpRequest, form: SignupForm):
    """The new user with the avatar they picked, signed in; None (with the
    reason on the form) when the pick cannot be kept."""
    data = form.cleaned_data
    owner = request.session.get(photo_jobs.OWNER_KEY)
    choice = checked_choice(owner, form)
    if choice is None:
        return None
    style = data["identity_style"] or current_style(request, None)
    with transaction.atomic():
        user = get_user_model()(username=data["username"], email=data["email"])
        user.set_password(data["password"])
        user.signup_identity = (data["username"], style)
        user.save()
        keep_choice(user, choice, owner)
    login(request, user)
    forget_previews(request)
    return user


def forget_previews(request: HttpRequest) -> None:
    for key in (SESSION_STYLE, SESSION_JOB, SESSION_FIELDS):
        request.session.pop(key, None)


@login_required
def me_avatar(request: HttpRequest) -> HttpResponse:
    photo_jobs.owner_token(request.session)
    identity = IdentityAvatar.objects.filter(user=request.user).first()
    fallback = identity.style_version.style if identity else default_identity_style("user", "")
    form = AvatarChoiceForm(request.POST or None)
    choice = None
    if request.method == "POST":
        remember_style(request)
        action = picker_action(request, fallback)
        choice = posted_choice(request, action)
        if not action and form.is_valid() and save_choice(request, form, identity):
            messages.success(request, "Your avatar is updated.")
            forget_previews(request)
            return redirect("me-avatar")
    has_pick = ProfileAvatar.objects.filter(user=request.user).exists()
    context = picker_context(
        request, current_style(request, fallback), choice, "" if has_pick else "identity"
    )
    return render(request, "me_avatar.html", {"form": form, **context})


def save_choice(request: HttpRequest, form: AvatarChoiceForm, identity) -> bool:
    data = form.cleaned_data
    owner = request.session.get(photo_jobs.OWNER_KEY)
    choice = checked_choice(owner, form)
    if choice is None:
        return False
    style = data["identity_style"]
    with transaction.atomic():
        if identity is not None and style is not None and choice.kind == "identity":
            restyle_identity_avatar(identity, style)
        keep_choice(request.user, choice, owner)
    return True
