"""Blocking work (the database, image fetching) from async views, off the event loop."""

import contextlib
import functools
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

T = TypeVar("T")
# A connection that answered this thread this recently is not health-checked again.
RECENTLY_USED_SECONDS = 5.0
_thread = threading.local()
# The pool's threads, and so their database connections, live as long as the
# process. The event loop's default executor would do under one long-lived loop
# (an ASGI server), but where each request runs in a loop of its own (WSGI,
# Django's live test server) every request would start fresh threads, each
# leaving a connection open for CONN_MAX_AGE: a page of 500 images took 75
# PostgreSQL connections.
POOL_SIZE = min(32, (os.cpu_count() or 1) + 4)  # as the event loop's default executor
pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="db")


@contextlib.contextmanager
def reused_connections() -> Iterator[None]:
    """Database work in a long-lived thread that keeps its connections: broken
    or expired ones are closed before and after, as around a request, but
    with CONN_HEALTH_CHECKS a connection this thread used a moment ago skips
    the `SELECT 1` round trip that would begin every unit of work."""
    close_old_connections()
    if time.monotonic() - getattr(_thread, "last_used", float("-inf")) < RECENTLY_USED_SECONDS:
        for connection in connections.all(initialized_only=True):
            connection.health_check_done = connection.connection is not None
    try:
        yield
    finally:
        close_old_connections()  # closes a connection left broken or in a transaction
        _thread.last_used = time.monotonic()


async def off_loop(function: Callable[..., T], *args, **kwargs) -> T:
    """Run `function(*args, **kwargs)` in a pool thread that keeps its database
    connection for the next call, within CONN_MAX_AGE.

    Django's default for async code, a thread-sensitive sync_to_async, runs in
    a thread made for each request, so every request opened a new PostgreSQL
    connection (about 2.5 ms) and closed it at the end.
    """

    def call() -> T:
        with reused_connections():
            return function(*args, **kwargs)

    return await sync_to_async(call, thread_sensitive=False, executor=pool)()


def in_pool(view: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """A sync API view as an async one run by off_loop.

    Django runs a sync view under ASGI in a thread made for the request, so
    each call opened (and dropped) a PostgreSQL connection: GET /v1/jobs/{id}
    took 12.6 ms p50 through daphne, 6.8 ms this way. Its auth must be async.
    """

    @functools.wraps(view)
    async def pooled(*args, **kwargs) -> T:
        return await off_loop(view, *args, **kwargs)

    return pooled
