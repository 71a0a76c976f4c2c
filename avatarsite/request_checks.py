"""Requests refused before any view: NUL characters and oversized JSON bodies.

No text column can hold a NUL character (PostgreSQL refuses the statement,
which surfaced as a 500) and no legitimate client sends one, so a NUL in the
path answers 404 (no resource has one in its name) and one in the query
string or anywhere in a JSON body answers 400 `invalid_characters`, before
anything is stored or charged. A body (other than a multipart upload, which
its view reads) over DATA_UPLOAD_MAX_MEMORY_SIZE answers 413
`request_too_large`. Headers are checked where they are used
(API keys, Idempotency-Key).
"""

import json
from typing import Any
from urllib.parse import unquote

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import sync_and_async_middleware

NUL = "\x00"
_ESCAPED_NUL = b"\\u0000"


def error_response(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    """The API's JSON error under /v1/ and /10.x/, a plain-text one for pages."""
    if request.path_info.startswith(("/v1/", "/10.x/")):
        return JsonResponse({"code": code, "message": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def contains_nul(value: Any) -> bool:
    """Whether a parsed JSON value holds a NUL in any string, key or value."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


def _json_body_has_nul(body: bytes) -> bool:
    """A raw NUL, or a \\u0000 escape that decodes to one (the escape's text
    alone may be an escaped backslash followed by 'u0000', which is fine)."""
    if b"\x00" in body:
        return True
    if _ESCAPED_NUL not in body:
        return False
    try:
        return contains_nul(json.loads(body))
    except ValueError:
        return False  # not JSON: the view answers that


def refusal(request: HttpRequest) -> HttpResponse | None:
    """The answer to a request that must go no further, or None."""
    if NUL in request.path_info:
        return error_response(request, 404, "not_found", "No such resource.")
    if NUL in unquote(request.META.get("QUERY_STRING", "")):
        return error_response(
            request, 400, "invalid_characters", "The query string contains a NUL character."
        )
    if request.content_type != "multipart/form-data":  # uploads are read by their views
        try:
            body = request.body
        except RequestDataTooBig:
            return error_response(
                request, 413, "request_too_large", "The request body is over the size limit."
            )
        if _json_body_has_nul(body):
            return error_response(
                request, 400, "invalid_characters", "The request contains a NUL character."
            )
    return None


@sync_and_async_middleware
def refuse_hostile_requests(get_response):
    """Answer NUL characters and oversized bodies before any view runs."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return refusal(request) or await get_response(request)

    else:

        def middleware(request):
            return refusal(request) or get_response(request)

    return middleware
