"""API authentication: `Authorization: Bearer <key>` or `X-API-Key: <key>`."""

from django.http import HttpRequest
from ninja.security import APIKeyHeader, HttpBearer

from accounts.keys import authenticate
from accounts.models import PlatformAccount
from generation.off_loop import off_loop


def _account(request: HttpRequest, raw: str) -> PlatformAccount | None:
    key = authenticate(raw)
    if key is None:
        return None
    request.account = key.account
    return key.account


class BearerKey(HttpBearer):
    """The key lookup runs in a pool thread, off the event loop (the views it guards are async)."""

    async def authenticate(self, request: HttpRequest, token: str) -> PlatformAccount | None:
        return await off_loop(_account, request, token)


class HeaderKey(APIKeyHeader):
    param_name = "X-API-Key"

    async def authenticate(self, request: HttpRequest, key: str | None) -> PlatformAccount | None:
        return await off_loop(_account, request, key) if key else None


API_KEY_AUTH = [BearerKey(), HeaderKey()]
