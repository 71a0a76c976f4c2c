"""Invite links: HR makes a link for an email domain with a number of uses
and an expiry; employees open it (no account needed), give their name and
work address and upload their own photo, which joins the team like an
uploaded one (same look, same seats or credits, same review).

A link's token is 256 random bits; an unknown, expired, ended or used-up
link answers a page that says which (410, or 404 when unknown). A use is
counted in the same transaction as the photo's batch, under a conditional
update, so a link can never be used more than its limit.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from generation.models import TeamInvite
from generation.web import team_roster as roster
from generation.web.team import team_context
from generation.web.team_forms import InviteForm, JoinForm
from generation.web.team_intake import Person, Photo
from generation.web.uploads import UploadRefused, photo_from_upload


def invite_state(invite: TeamInvite) -> str:
    """open, expired or used_up."""
    if invite.expires_at <= timezone.now():
        return "expired"
    if invite.uses >= invite.max_uses:
        return "used_up"
    return "open"


@login_required
@require_http_methods(["GET", "POST"])
def invites_page(request: HttpRequest, account_id: int) -> HttpResponse:
    account = roster.team_account(request.user, account_id)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        TeamInvite.objects.create(
            account=account,
            email_domain=form.cleaned_data["email_domain"],
            max_uses=form.cleaned_data["max_uses"],
            expires_at=form.expires_at(),
            created_by=request.user,
        )
        messages.success(request, "Invite link made: copy it below and send it to your team.")
        return redirect("team-invites", account_id=account.pk)
    invites = [
        (invite, invite_state(invite), request.build_absolute_uri(join_path(invite)))
        for invite in TeamInvite.objects.filter(account=account)[:50]
    ]
    context = team_context(request, account, "invites", form=form, invites=invites)
    return render(request, "team/invites.html", context, status=400 if form.errors else 200)


def join_path(invite: TeamInvite) -> str:
    return reverse("team-join", args=[invite.token])


@login_required
@require_POST
def end_invite(request: HttpRequest, account_id: int, invite_id: int) -> HttpResponse:
    account = roster.team_account(request.user, account_id)
    TeamInvite.objects.filter(account=account, pk=invite_id).update(expires_at=timezone.now())
    messages.info(request, "The link is ended: it no longer accepts photos.")
    return redirect("team-invites", account_id=account.pk)


@require_http_methods(["GET", "POST"])
def join_page(request: HttpRequest, token: str) -> HttpResponse:
    invite = TeamInvite.objects.select_related("account").filter(token=token[:64]).first()
    if invite is None or invite.account.deleted_at is not None:
        return render(request, "team/join_closed.html", {"reason": "unknown"}, status=404)
    state = invite_state(invite)
    if state != "open":
        context = {"reason": state, "account": invite.account}
        return render(request, "team/join_closed.html", context, status=410)
    form = JoinForm(request.POST or None, request.FILES or None, domain=invite.email_domain)
    error = ""
    if request.method == "POST" and form.is_valid():
        error = _join(invite, form)
        if not error:
            context = {"account": invite.account, "name": form.cleaned_data["name"]}
            return render(request, "team/join_done.html", context)
    context = {"invite": invite, "account": invite.account, "form": form, "error": error}
    status = 400 if request.method == "POST" else 200
    return render(request, "team/join.html", context, status=status)


def _join(invite: TeamInvite, form: JoinForm) -> str:
    """Count the use and start the person's avatar; what went wrong, or ""."""
    try:
        data = photo_from_upload(form.cleaned_data["photo"])
    except UploadRefused as exc:
        return exc.message
    fields = {key: form.cleaned_data[key] for key in ("name", "email", "title", "team")}
    photo = Photo(
        form.cleaned_data["photo"].name or "photo", fields["email"], data, Person(**fields)
    )
    try:
        with transaction.atomic():
            counted = TeamInvite.objects.filter(
                pk=invite.pk, uses__lt=F("max_uses"), expires_at__gt=timezone.now()
            ).update(uses=F("uses") + 1)
            if not counted:
                return "This link has just been used up or has expired."
            roster.submit(invite.account, [photo], via_invite=True)
    except roster.TeamRefused:
        return (
            "Your photo could not be taken just now (the team has no room left). "
            "Please tell your HR team."
        )
    return ""
