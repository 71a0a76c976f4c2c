"""A published team directory for intranets, by its unguessable link
(TeamLook.directory_token): an iframe-friendly page (the only page exempt
from X-Frame-Options), a JSON feed, and the avatars they show. Only people
HR approved and published appear; the link can be replaced on the
directory page, which ends the old one."""

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt

from generation.api.portraits import _uuid
from generation.models import TeamLook, TeamMember


def look_by_token(token: str) -> TeamLook:
    look = TeamLook.objects.select_related("account").filter(directory_token=token).first()
    if look is None or look.account.deleted_at is not None:
        raise Http404("No such directory.")
    return look


def published(look: TeamLook) -> list[TeamMember]:
    members = TeamMember.objects.filter(account=look.account, published=True)
    return list(members.exclude(avatar=""))


def avatar_url(look: TeamLook, member: TeamMember) -> str:
    return reverse("team-embed-avatar", args=[look.directory_token, member.pk])


@xframe_options_exempt
def embed(request: HttpRequest, token: str) -> HttpResponse:
    look = look_by_token(token)
    people = [(member, avatar_url(look, member)) for member in published(look)]
    response = render(request, "team/embed.html", {"look": look, "people": people})
    response["Cache-Control"] = "public, max-age=300"
    return response


def feed(request: HttpRequest, token: str) -> JsonResponse:
    look = look_by_token(token)
    people = [
        {
            "id": str(member.pk),
            "name": member.name,
            "title": member.title,
            "team": member.team,
            "avatar_url": request.build_absolute_uri(avatar_url(look, member)),
        }
        for member in published(look)
    ]
    published_at = look.published_at.isoformat() if look.published_at else None
    response = JsonResponse({"published_at": published_at, "people": people})
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=300"
    return response


def avatar(request: HttpRequest, token: str, member_id: str) -> FileResponse:
    """A published person's avatar as the directory shows it (the small copy)."""
    look = look_by_token(token)
    member = TeamMember.objects.filter(
        account=look.account, published=True, pk=_uuid(member_id)
    ).first()
    name = (member.thumbnail.name or member.avatar.name) if member else ""
    if not name or not default_storage.exists(name):
        raise Http404("No such avatar.")
    response = FileResponse(default_storage.open(name, "rb"), content_type="image/png")
    response["Cache-Control"] = "public, max-age=300"
    return response
