"""The JSON API's own Django handler: the pages' middleware left out.

The API (/v1/) is stateless and authenticated by key: sessions, the user,
messages, CSRF, clickjacking headers and static files do not apply to it.
Under ASGI each of those costs thread hops per request (Django runs a
MiddlewareMixin's hooks through sync_to_async, and WhiteNoise, sync-only,
puts the rest of the chain behind two more), about 4 ms of a generate call
on this 2-core machine. daphne sends /v1/ here and everything else to the
full stack; Django's test client, which has no ASGI router, uses the full
stack for both (a superset, so API tests still hold).
"""

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.middleware.security import SecurityMiddleware

# The JSON API and the DiceBear-compatible avatar route: stateless, keyed or public.
API_PREFIXES = ("/v1/", "/10.x/")
API_MIDDLEWARE = [
    "avatarsite.logs.request_id_middleware",
    "avatarsite.request_checks.refuse_hostile_requests",
    "avatarsite.api_handler.InlineSecurityMiddleware",
]


class InlineSecurityMiddleware(SecurityMiddleware):
    """SecurityMiddleware without its thread hops: its hooks only read settings
    and set headers, so they run on the event loop."""

    async def __acall__(self, request):
        response = self.process_request(request) or await self.get_response(request)
        return self.process_response(request, response)


class ApiASGIHandler(ASGIHandler):
    """Django for /v1/ with API_MIDDLEWARE instead of settings.MIDDLEWARE."""

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler reads the list from settings only; it is swapped back
        # before the server takes any request.
        pages_middleware = settings.MIDDLEWARE
        settings.MIDDLEWARE = API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = pages_middleware


def route_http(api_app, pages_app):
    """An ASGI app sending /v1/ and /10.x/ requests to `api_app`, the rest to `pages_app`."""

    async def app(scope, receive, send):
        target = api_app if scope["path"].startswith(API_PREFIXES) else pages_app
        await target(scope, receive, send)

    return app
