"""Preview rate limits: generations per browser session and per IP address per
hour (settings PREVIEWS_PER_SESSION_HOUR, PREVIEWS_PER_IP_HOUR), counted in
the cache in fixed one-hour windows, so every web process shares them when the
cache is Redis."""

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

WINDOW_SECONDS = 3600


class RateLimited(Exception):
    """Not now: `code` and a friendly `message` (the page shows it; the API-like
    endpoints answer 429 with both)."""

    code = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after  # seconds until the window ends

    @property
    def message(self) -> str:
        minutes = max(1, round(self.retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        return (
            "You have made a lot of previews in the last hour. Take a short break: you can "
            f"try again in about {minutes} {unit}."
        )


class QueueBusy(RateLimited):
    """The job queue is full (MAX_QUEUE_DEPTH, as for the API)."""

    code = "busy"
    message = "Lots of people are making avatars right now. Please try again in a moment."

    def __init__(self) -> None:
        super().__init__(retry_after=5)


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _count(key: str, limit: int) -> bool:
    """Count one more against `key`; False when that goes over `limit`."""
    if cache.add(key, 1, timeout=WINDOW_SECONDS + 60):
        return limit >= 1
    try:
        return cache.incr(key) <= limit
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=WINDOW_SECONDS + 60)
        return limit >= 1


def take_preview(session_key: str, ip: str) -> None:
    """Count one generation for the session and the IP; raises RateLimited
    when either is over its hourly limit."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    retry_after = int((window + 1) * WINDOW_SECONDS - now)
    checks = (
        (f"preview-rate:s:{session_key}:{window}", settings.PREVIEWS_PER_SESSION_HOUR),
        (f"preview-rate:ip:{ip}:{window}", settings.PREVIEWS_PER_IP_HOUR),
    )
    allowed = [_count(key, limit) for key, limit in checks]
    if not all(allowed):
        raise RateLimited(retry_after)
