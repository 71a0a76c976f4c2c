"""API keys: issued once in full, stored as a digest, looked up by prefix."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.utils import timezone

from accounts.models import ApiKey, PlatformAccount

KEY_SCHEME = "av"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_key(account: PlatformAccount, name: str = "default") -> str:
    """Create a key and return it in full: the only time it is ever shown."""
    prefix = secrets.token_hex(6)
    raw = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    ApiKey.objects.create(account=account, name=name, prefix=prefix, digest=_digest(raw))
    return raw


def authenticate(raw: str) -> ApiKey | None:
    """The live key `raw` stands for, with its active account; None otherwise."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or len(raw) > 200 or "\x00" in raw:
        return None
    key = (
        ApiKey.objects.select_related("account")
        .filter(prefix=parts[1], revoked_at__isnull=True, account__is_active=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.digest, _digest(raw)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def revoke(key: ApiKey) -> None:
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
