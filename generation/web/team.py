"""/team/<account>/: an HR admin's pages for the account's team photos.

The look (previewed on a sample photo in memory before anything is paid),
uploads (zips, photos, a CSV of people), a batch's live progress, the review
grid (approve, retry in another style, replace the photo, exclude), and the
published directory with its downloads. Only the account's team admins see
any of it; for anyone else its pages do not exist (404).
"""

import base64
import io
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from PIL import Image, ImageOps

from accounts.models import PlatformAccount
from generation.api.portraits import _uuid
from generation.api.results_zip import results_zip_response
from generation.jobs.worker import generate_here
from generation.models import Batch, Job, TeamLook, TeamMember, new_team_token
from generation.portrait.errors import PortraitError
from generation.portrait.pipeline import AvatarRequest
from generation.web import team_roster as roster
from generation.web.team_directory import avatar_url, published
from generation.web.team_exports import approved_zip_response, statuses_csv_response
from generation.web.team_forms import LookForm, background_choices, style_choices
from generation.web.team_intake import Photo, read_uploads
from generation.web.uploads import UploadRefused, photo_from_upload
from generation.web.words import STYLE_NAMES, likeness_words, refusal, warnings_in_words

REVIEW_SIZE = 320
SAMPLE_PHOTO = Path(__file__).resolve().parent / "team_assets" / "sample-portrait.jpg"
REPORT_KEY = "team_upload_reports"


def team_context(request: HttpRequest, account: PlatformAccount, section: str, **extra) -> dict:
    look = roster.look_of(account)
    return {
        "account": account,
        "section": section,
        "meter": roster.meter(account),
        "look": look,
        "look_style": STYLE_NAMES.get(look.style, look.style),
        **extra,
    }


@login_required
def team_home(request: HttpRequest) -> HttpResponse:
    """The team the person runs (a list when they run several)."""
    accounts = list(PlatformAccount.objects.filter(team_admins__user=request.user, deleted_at=None))
    if len(accounts) == 1:
        return redirect("team-review", account_id=accounts[0].pk)
    return render(request, "team/home.html", {"accounts": accounts})


def _preview(account: PlatformAccount, look_form: LookForm, sample) -> dict:
    """The look drawn on the sample photo in this process: nothing queued,
    stored or charged. What to show: the two images as data URLs, or an error."""
    try:
        photo = photo_from_upload(sample) if sample is not None else SAMPLE_PHOTO.read_bytes()
    except UploadRefused as exc:
        return {"preview_error": exc.message}
    data = look_form.cleaned_data
    request = AvatarRequest(
        style=data["style"],
        platform=data["framing"],
        palette=tuple(data["palette"]) or None,
        background=data["background"] or None,
        seed=roster.look_of(account).seed,
        min_face_height=account.min_face_height,
    )
    try:
        result = generate_here(photo, request)
    except PortraitError as exc:
        return {"preview_error": refusal(exc.code)}
    return {
        "preview_png": "data:image/png;base64," + base64.b64encode(result.png).decode(),
        "preview_original": "data:image/jpeg;base64," + base64.b64encode(photo).decode()
        if sample is None
        else "",
        "preview_likeness": likeness_words(result.likeness_score),
    }


@login_required
@require_http_methods(["GET", "POST"])
def look_page(request: HttpRequest, account_id: int) -> HttpResponse:
    account = roster.team_account(request.user, account_id)
    look = roster.look_of(account)
    extra = {}
    if request.method == "POST":
        form = LookForm(request.POST)
        if form.is_valid() and request.POST.get("action") == "preview":
            extra = _preview(account, form, request.FILES.get("sample"))
        elif form.is_valid():
            data = form.cleaned_data
            look.style, look.background = data["style"], data["background"]
            look.palette, look.platform = data["palette"], data["framing"]
            look.save()
            messages.success(request, "The team's look is saved: new photos and retries use it.")
            return redirect("team-look", account_id=account.pk)
    else:
        form = LookForm(
            initial={
                "style": look.style,
                "background": look.background,
                "palette": ", ".join(look.palette),
                "framing": look.platform,
            }
        )
    status = 400 if request.method == "POST" and (form.errors or "preview_error" in extra) else 200
    context = team_context(request, account, "look", form=form, **extra)
    return render(request, "team/look.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def upload_page(request: HttpRequest, account_id: int) -> HttpResponse:
    account = roster.team_account(request.user, account_id)
    problems, error = [], ""
    if request.method == "POST":
        intake = read_uploads(request.FILES.getlist("files"))
        problems = intake.problems
        if not request.FILES.getlist("files"):
            error = "Choose a zip, photos or a CSV first."
        elif not intake.photos:
            error = "None of the files could be used, so nothing was charged."
        else:
            try:
                batch = roster.submit(account, intake.photos)
            except roster.TeamRefused as exc:
                error = f"{exc} Nothing was charged."
            else:
                reports = request.session.get(REPORT_KEY, {})
                reports[str(batch.pk)] = [[p.file, p.message] for p in problems]
                request.session[REPORT_KEY] = dict(list(reports.items())[-10:])
                return redirect("team-batch", account_id=account.pk, batch_id=batch.pk)
    context = team_context(request, account, "upload", problems=problems, error=error)
    return render(request, "team/upload.html", context, status=400 if error else 200)


def _own_batch(account: PlatformAccount, batch_id: str) -> Batch:
    batch = Batch.objects.filter(pk=_uuid(batch_id), account=account).first()
    if batch is None or not batch.team_members.exists():
        raise Http404("No such upload.")
    return batch


def batch_context(request: HttpRequest, account: PlatformAccount, batch: Batch) -> dict:
    members = roster.batch_members(batch)
    return {
        "batch": batch,
        "people": [(member, _job_words(member.job)) for member in members],
        "progress": roster.progress_of(members),
        "panel_url": reverse("team-batch-panel", args=[account.pk, batch.pk]),
    }


def _job_words(job: Job | None) -> dict:
    if job is None:
        return {"state": "failed", "label": "No photo"}
    if job.state == Job.State.FAILED:
        return {"state": "failed", "label": refusal(job.error_code)}
    if job.state == Job.State.DONE:
        return {"state": "done", "label": "Ready for review"}
    if job.state == Job.State.RUNNING:
        return {"state": "running", "label": "Working on it"}
    return {"state": "queued", "label": "Waiting for a free worker"}


@login_required
def batch_page(request: HttpRequest, account_id: int, batch_id: str) -> HttpResponse:
    account = roster.team_account(request.user, account_id)
    batch = _own_batch(account, batch_id)
    report = request.session.get(REPORT_KEY, {}).get(str(batch.pk), [])
    context = team_context(request, account, "upload", report=report)
    context.update(batch_context(request, account, batch))
    context["socket_path"] = f"/ws/team/batches/{batch.pk}/"
    return render(request, "team/batch.html", context)


@login_required
def batch_panel(request: HttpRequest, account_id: int, batch_id: str) -> HttpResponse:
    account = roster.team_account(request.user, account_id)
    batch = _own_batch(account, batch_id)
    context = {"account": account, **batch_context(request, account, batch)}
    return render(request, "team/batch_panel.html", context)


@login_required
def batch_zip(request: HttpRequest, account_id: int, batch_id: str):
    account = roster.team_account(request.user, account_id)
    return results_zip_response(_own_batch(account, batch_id))


@login_required
def review_page(request: HttpRequest, account_id: int) -> HttpResponse:
    account = roster.team_account(request.user, account_id)
    members = TeamMember.objects.filter(account=account).select_related("job")
    shown = request.GET.get("show", "")
    if shown in TeamMember.Review.values:
        members = members.filter(review=shown)
    look = roster.look_of(account)
    people = [(member, _review_item(member, look)) for member in members]
    context = team_context(
        request,
        account,
        "review",
        people=people,
        pending=any(not item["finished"] for _, item in people),
        counts=roster.review_counts(account),
        shown=shown,
        styles=style_choices(),
        backgrounds=background_choices(),
        batches=Batch.objects.filter(account=account, team_members__isnull=False).distinct()[:5],
    )
    return render(request, "team/review.html", context)


def _review_item(member: TeamMember, look: TeamLook) -> dict:
    job = member.job
    result = (job.result or {}) if job else {}
    score = result.get("likeness_score")
    style = job.params.get("style", "") if job else ""
    return {
        **_job_words(job),
        "likeness": score,
        "likeness_words": likeness_words(score) if score is not None else "",
        "warnings": warnings_in_words(result.get("validation_warnings", [])),
        "style": style,
        "style_name": STYLE_NAMES.get(style, style),
        "off_look": bool(style) and style != look.style,
        "has_avatar": bool(job and job.state == Job.State.DONE and job.avatar_file),
        "finished": job is None or job.is_finished,
    }


def _own_member(account: PlatformAccount, member_id: str) -> TeamMember:
    member = (
        TeamMember.objects.select_related("job", "account")
        .filter(pk=_uuid(member_id), account=account)
        .first()
    )
    if member is None:
        raise Http404("No such person.")
    return member


@login_required
@require_POST
def member_action(request: HttpRequest, account_id: int, member_id: str, action: str):
    """approve, exclude, retry (another style or background) or replace (a new photo)."""
    account = roster.team_account(request.user, account_id)
    member = _own_member(account, member_id)
    try:
        if action == "approve":
            roster.approve(member)
            messages.success(request, f"{member}: approved.")
        elif action == "exclude":
            roster.exclude(member)
            messages.info(request, f"{member}: excluded from the directory.")
        elif action == "retry":
            roster.rerun(
                member,
                style=request.POST.get("style", ""),
                background=request.POST.get("background") or None,
            )
            messages.info(request, f"{member}: making a new version.")
        elif action == "replace":
            photo = photo_from_upload(request.FILES.get("photo"))
            roster.replace_photo(member, Photo(member.external_id, member.external_id, photo))
            messages.info(request, f"{member}: new photo received, making the avatar.")
        else:
            raise Http404("No such action.")
    except roster.TeamRefused as exc:
        messages.error(request, f"{member}: {exc} Nothing was charged.")
    except UploadRefused as exc:
        messages.error(request, f"{member}: {exc.message} Nothing was charged.")
    return redirect(reverse("team-review", args=[account.pk]) + f"#person-{member.pk}")


@login_required
def member_image(request: HttpRequest, account_id: int, member_id: str, which: str):
    """The person's photo as uploaded, or their latest AI avatar, as a
    REVIEW_SIZE px JPEG (a grid of 500 people must not load 500 full photos)."""
    account = roster.team_account(request.user, account_id)
    member = _own_member(account, member_id)
    if which == "original":
        name = member.photo.name
    elif which == "avatar":
        name = member.job.avatar_file.name if member.job and member.job.avatar_file else ""
    else:
        raise Http404("No such image.")
    if not name or not default_storage.exists(name):
        raise Http404("No such image.")
    with default_storage.open(name, "rb") as handle:
        data = review_copy(handle)
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def review_copy(handle) -> bytes:
    """A stored image upright (EXIF orientation), at most REVIEW_SIZE px, as JPEG."""
    with Image.open(handle) as image:
        image.draft("RGB", (REVIEW_SIZE, REVIEW_SIZE))  # JPEGs decode at a fraction of their size
        upright = ImageOps.exif_transpose(image).convert("RGB")
    upright.thumbnail((REVIEW_SIZE, REVIEW_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    upright.save(out, "JPEG", quality=85)
    return out.getvalue()


@login_required
@require_POST
def approve_ready(request: HttpRequest, account_id: int) -> HttpResponse:
    account = roster.team_account(request.user, account_id)
    count = roster.approve_ready(account)
    messages.success(
        request,
        f"Approved {count} avatar{'s' if count != 1 else ''} in the team's look without "
        "warnings; the others are left for you to look at.",
    )
    return redirect("team-review", account_id=account.pk)


@login_required
@require_POST
def publish(request: HttpRequest, account_id: int) -> HttpResponse:
    account = roster.team_account(request.user, account_id)
    count = roster.publish(account)
    if count:
        messages.success(request, f"Published the directory: {count} people.")
    else:
        messages.error(request, "Approve at least one person before publishing.")
    return redirect("team-directory", account_id=account.pk)


@login_required
def directory_page(request: HttpRequest, account_id: int) -> HttpResponse:
    account = roster.team_account(request.user, account_id)
    look = roster.look_of(account)
    context = team_context(
        request,
        account,
        "directory",
        people=[(m, avatar_url(look, m)) for m in published(look)],
        embed_url=request.build_absolute_uri(reverse("team-embed", args=[look.directory_token])),
        feed_url=request.build_absolute_uri(reverse("team-feed", args=[look.directory_token])),
        token=look.directory_token,
    )
    return render(request, "team/directory.html", context)


@login_required
@require_POST
def new_directory_link(request: HttpRequest, account_id: int) -> HttpResponse:
    """Replace the directory's link: pages embedding the old one stop showing it."""
    account = roster.team_account(request.user, account_id)
    TeamLook.objects.filter(account=account).update(directory_token=new_team_token())
    messages.success(request, "The directory has a new link; the old one no longer works.")
    return redirect("team-directory", account_id=account.pk)


@login_required
def approved_zip(request: HttpRequest, account_id: int):
    account = roster.team_account(request.user, account_id)
    return approved_zip_response(account)


@login_required
def statuses_csv(request: HttpRequest, account_id: int) -> HttpResponse:
    account = roster.team_account(request.user, account_id)
    return statuses_csv_response(account)
