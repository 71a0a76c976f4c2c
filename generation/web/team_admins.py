"""Who runs the team: a team admin adds another by email (an existing user,
or a new one who gets a one-time link to choose a password), and may take
one off (never the last)."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import PlatformAccount
from generation.models import TeamAdmin
from generation.web import team_roster as roster
from generation.web.team import team_context
from generation.web.team_forms import AddAdminForm


def make_team_admin(account: PlatformAccount, email: str, added_by=None) -> tuple[object, bool]:
    """The user with this email (created without a usable password when
    there is none) made a team admin of `account`; (user, created)."""
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).order_by("pk").first()
        created = user is None
        if created:
            user = User(username=email[:150], email=email)
            user.set_unusable_password()
            user.save()
        TeamAdmin.objects.get_or_create(account=account, user=user, defaults={"added_by": added_by})
    return user, created


def password_link(request: HttpRequest, user) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return request.build_absolute_uri(reverse("team-welcome", args=[uid, token]))


@login_required
@require_http_methods(["GET", "POST"])
def admins_page(request: HttpRequest, account_id: int) -> HttpResponse:
    account = roster.team_account(request.user, account_id)
    form = AddAdminForm(request.POST or None)
    link = ""
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        user, created = make_team_admin(account, email, request.user)
        if created or not user.has_usable_password():
            link = password_link(request, user)
            messages.success(request, f"{email} is a team admin. Send them the link below.")
        else:
            messages.success(request, f"{email} is a team admin; they sign in as usual.")
    admins = TeamAdmin.objects.filter(account=account).select_related("user", "added_by")
    context = team_context(request, account, "admins", form=form, admins=admins, link=link)
    return render(request, "team/admins.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def remove_admin(request: HttpRequest, account_id: int, admin_id: int) -> HttpResponse:
    account = roster.team_account(request.user, account_id)
    with transaction.atomic():
        admins = TeamAdmin.objects.select_for_update().filter(account=account)
        if admins.count() <= 1:
            messages.error(request, "A team needs at least one admin.")
        else:
            admins.filter(pk=admin_id).delete()
    if not roster.is_team_admin(request.user, account.pk):
        return redirect("/")
    return redirect("team-admins", account_id=account.pk)


class WelcomeView(auth_views.PasswordResetConfirmView):
    """A new team admin chooses their password from the one-time link."""

    template_name = "team/welcome.html"
    success_url = reverse_lazy("login")
    post_reset_login = False
