"""A database outage on the pages and /metrics: 503 with Retry-After, not 500.

The API answers its own JSON 503 (avatarsite.api); everything else that fails
because the database is unreachable lands in Django's 500 handler, which this
replaces. The answer needs no database (no template context from it)."""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views import defaults

RETRY_AFTER_SECONDS = 5
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Back in a moment</title>
<style>body{font:16px/1.5 system-ui,sans-serif;color:#1d1b26;background:#faf9fc;display:grid;
place-items:center;min-height:90vh;margin:0}main{max-width:28rem;padding:2rem;text-align:center}
</style></head><body><main><h1>Back in a moment</h1><p>The service is briefly unavailable.
This page will work again in a few seconds: please reload it.</p></main></body></html>"""


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 page, or 503 when the error is the database being unreachable."""
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        response = HttpResponse(PAGE, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return defaults.server_error(request)
