"""Which picture stands for a user: a chain of providers, `settings.AVATAR_PROVIDERS`.

Each entry is a dotted path to a class (instantiated without arguments) or an
object with `get_avatar_url(user, size) -> str | None`; the first URL wins. The
default chain: the photo or AI avatar the person picked, then their identity
avatar. A platform adds its own (e.g. a CDN, or Gravatar) anywhere in the chain.
"""

from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from generation.models import IdentityAvatar, ProfileAvatar
from generation.profile_avatars import MAX_SIZE, MIN_SIZE


def clamp_size(size: int) -> int:
    return min(max(int(size), MIN_SIZE), MAX_SIZE)


class PickedAvatarProvider:
    """The person's own photo or the AI version they picked."""

    def get_avatar_url(self, user, size: int) -> str | None:
        picked = ProfileAvatar.objects.filter(user_id=user.pk).only("public_id").first()
        if picked is None:
            return None
        return reverse("profile-avatar", args=[picked.public_id, clamp_size(size)])


class IdentityAvatarProvider:
    """The identity avatar every user gets at signup (pinned style and palette)."""

    def get_avatar_url(self, user, size: int) -> str | None:
        avatar = (
            IdentityAvatar.objects.filter(user_id=user.pk)
            .only("public_id", "style_version_id")
            .first()
        )
        if avatar is None:
            return None
        # v: a new URL when the person picks another style (browsers cache a day).
        return (
            f"/v1/users/{avatar.public_id}/avatar.png?size={clamp_size(size)}"
            f"&v={avatar.style_version_id}"
        )


def providers() -> list:
    loaded = []
    for path in settings.AVATAR_PROVIDERS:
        provider = import_string(path)
        loaded.append(provider() if isinstance(provider, type) else provider)
    return loaded


def user_avatar_url(user, size: int) -> str:
    """The URL of the user's avatar at `size` px (16-1024), from the first
    provider that has one; "" for an anonymous user or when none has."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    for provider in providers():
        url = provider.get_avatar_url(user, size)
        if url:
            return url
    return ""
