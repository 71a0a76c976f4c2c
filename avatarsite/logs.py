"""Structured logs: one JSON object per line, carrying the request id (set by
RequestIdMiddleware for everything that request runs) and the job id."""

import json
import logging
import re
import uuid
from contextvars import ContextVar

from asgiref.sync import iscoroutinefunction
from django.utils.decorators import sync_and_async_middleware

request_id: ContextVar[str] = ContextVar("request_id", default="")
CONTEXT_FIELDS = ("request_id", "job_id", "worker")
_CLEAN_ID = re.compile(r"[^A-Za-z0-9._-]")


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, "")
            if value:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _begin(request) -> None:
    given = _CLEAN_ID.sub("", request.headers.get("X-Request-ID", ""))[:64]
    request.request_id = given or uuid.uuid4().hex
    request_id.set(request.request_id)


@sync_and_async_middleware
def request_id_middleware(get_response):
    """Give every request an id (the caller's X-Request-ID, or a new one),
    log with it, and send it back."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            _begin(request)
            response = await get_response(request)
            response["X-Request-ID"] = request.request_id
            return response

    else:

        def middleware(request):
            _begin(request)
            response = get_response(request)
            response["X-Request-ID"] = request.request_id
            return response

    return middleware
