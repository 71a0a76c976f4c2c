"""Blocking work (the database, image fetching) from async views, off the event loop."""

import functools
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

T = TypeVar("T")
# A connection that answered a call this recently is not health-checked again.
RECENTLY_USED_SECONDS = 5.0
_thread = threading.local()


async def off_loop(function: Callable[..., T], *args, **kwargs) -> T:
    """Run `function(*args, **kwargs)` in a pool thread that keeps its database
    connection for the next call, within CONN_MAX_AGE.

    Django's default for async code, a thread-sensitive sync_to_async, runs in
    a thread made for each request, so every request opened a new PostgreSQL
    connection (about 2.5 ms) and closed it at the end. And with
    CONN_HEALTH_CHECKS, each call would begin with a `SELECT 1` round trip;
    a connection this thread used a moment ago skips it.
    """

    def call() -> T:
        close_old_connections()
        if time.monotonic() - getattr(_thread, "last_call", float("-inf")) < RECENTLY_USED_SECONDS:
            for connection in connections.all(initialized_only=True):
                connection.health_check_done = connection.connection is not None
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()  # closes a connection left broken or in a transaction
            _thread.last_call = time.monotonic()

    return await sync_to_async(call, thread_sensitive=False)()


def in_pool(view: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """A sync API view as an async one run by off_loop.

    Django runs a sync view under ASGI in a thread made for the request, so
    each call opened (and dropped) a PostgreSQL connection: GET /v1/jobs/{id}
    took 12.6 ms p50 through daphne. Its auth must be async as well.
    """

    @functools.wraps(view)
    async def pooled(*args, **kwargs) -> T:
        return await off_loop(view, *args, **kwargs)

    return pooled
