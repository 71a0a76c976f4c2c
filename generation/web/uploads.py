"""Photo uploads on the pages: the size limit (settings.PREVIEW_MAX_UPLOAD_BYTES)
is enforced before the body is read whole, and the photo is header-checked
before anything is stored.

Django's ASGI handler spools a whole request body before any view runs, so
the limit lives in front of it: `UploadLimit` answers 413 from the
Content-Length alone, and stops a body without one once it passes the limit.
"""

import json

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.html import escape

from generation.errors import ApiError
from generation.photo_input import check_photo_header
from generation.web.words import refusal

UPLOAD_PATHS = ("/signup/", "/me/avatar/", "/preview/photo/", "/team/join/")
FORM_SLACK_BYTES = 64 * 1024  # the form's other fields around the photo


class UploadRefused(Exception):
    def __init__(self, code: str, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.message = refusal(code)


def body_limit() -> int:
    return settings.PREVIEW_MAX_UPLOAD_BYTES + FORM_SLACK_BYTES


class _TooLarge(Exception):
    pass


class UploadLimit:
    """ASGI middleware for the page upload paths (see the module docstring)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        if not scope["path"].startswith(UPLOAD_PATHS):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        limit = body_limit()
        length = headers.get(b"content-length", b"").decode("latin-1")
        if length.isdigit() and int(length) > limit:
            return await self._refuse(headers, send)
        received = 0

        async def counted_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, counted_receive, send)
        except _TooLarge:
            await self._refuse(headers, send)

    @staticmethod
    async def _refuse(headers: dict, send) -> None:
        message = refusal("file_too_large")
        if b"application/json" in headers.get(b"accept", b""):
            body = json.dumps({"code": "file_too_large", "message": message}).encode()
            content_type = b"application/json"
        else:
            body = (
                '<!doctype html><meta charset="utf-8"><title>Photo too big</title>'
                '<link rel="stylesheet" href="/static/site.css"><main class="refusal">'
                f"<h1>That photo is too big</h1><p>{escape(message)}</p>"
                '<p><a href="javascript:history.back()">Go back</a></p></main>'
            ).encode()
            content_type = b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", content_type), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def photo_from_upload(upload: UploadedFile | None) -> bytes:
    """The uploaded photo's bytes, refused (UploadRefused) when missing, over
    the limit, or not an image we can read."""
    if upload is None:
        raise UploadRefused("no_photo")
    if upload.size is not None and upload.size > settings.PREVIEW_MAX_UPLOAD_BYTES:
        raise UploadRefused("file_too_large", 413)
    data = upload.read(settings.PREVIEW_MAX_UPLOAD_BYTES + 1)
    if len(data) > settings.PREVIEW_MAX_UPLOAD_BYTES:
        raise UploadRefused("file_too_large", 413)
    try:
        check_photo_header(data)
    except ApiError as exc:
        raise UploadRefused(exc.code, exc.status) from None
    return data
