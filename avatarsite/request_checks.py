"""Requests refused before any view: NUL characters, oversized or broken bodies.

No text column can hold a NUL character (PostgreSQL refuses the statement,
which surfaced as a 500) and no legitimate client sends one, so a NUL in the
path answers 404 (no resource has one in its name) and one in the query
string, anywhere in a JSON body or in an API upload's form fields answers 400
`invalid_characters`, before anything is stored or charged. A body over
DATA_UPLOAD_MAX_MEMORY_SIZE (for an upload: its form fields; files have
their views' limits) answers 413 `request_too_large`, an unreadable upload 400
`invalid_multipart`. Headers are checked where they are used (API keys,
Idempotency-Key). Pages' uploads are left to their views, which may set
their own upload handlers before the body is read.
"""

import json
from typing import Any
from urllib.parse import unquote

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.decorators import sync_and_async_middleware

NUL = "\x00"
_ESCAPED_NUL = b"\\u0000"
API_PREFIXES = ("/v1/", "/10.x/")


def error_response(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    """The API's JSON error under /v1/ and /10.x/, a plain-text one for pages."""
    if request.path_info.startswith(API_PREFIXES):
        return JsonResponse({"code": code, "message": message}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def contains_nul(value: Any) -> bool:
    """Whether a parsed JSON value (or a form as a dict of lists) holds a NUL anywhere."""
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
    try:
        if is_api_upload(request):
            has_nul = contains_nul({key: request.POST.getlist(key) for key in request.POST})
        elif request.content_type == "multipart/form-data":
            return None  # a page's upload: its view reads it
        else:
            has_nul = _json_body_has_nul(request.body)
    except RequestDataTooBig:
        return error_response(
            request, 413, "request_too_large", "The request body is over the size limit."
        )
    except MultiPartParserError as exc:
        return error_response(request, 400, "invalid_multipart", f"Unreadable upload: {exc}")
    except SuspiciousOperation as exc:  # too many fields or files
        return error_response(request, 400, "bad_request", str(exc) or "Malformed request.")
    if has_nul:
        return error_response(
            request, 400, "invalid_characters", "The request contains a NUL character."
        )
    return None


def is_api_upload(request: HttpRequest) -> bool:
    return request.content_type == "multipart/form-data" and request.path_info.startswith(
        API_PREFIXES
    )


@sync_and_async_middleware
def refuse_hostile_requests(get_response):
    """Answer NUL characters and oversized bodies before any view runs."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            if is_api_upload(request):  # parsing an upload blocks: not on the event loop
                answer = await sync_to_async(refusal, thread_sensitive=False)(request)
            else:
                answer = refusal(request)
            return answer or await get_response(request)

    else:

        def middleware(request):
            return refusal(request) or get_response(request)

    return middleware
