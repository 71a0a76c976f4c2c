"""off_loop runs blocking work in one process-wide pool, whichever event loop asks."""

import threading

import pytest
from asgiref.sync import async_to_sync

from generation.off_loop import POOL_SIZE, off_loop


@pytest.mark.django_db  # off_loop tidies the thread's database connections around the work
def test_requests_in_loops_of_their_own_share_the_pools_threads():
    """Under WSGI (and Django's live test server) each request runs in a new event
    loop; its database work must still land on the pool's few long-lived threads,
    not on fresh ones that would each leave a database connection open."""

    def where() -> str:
        return threading.current_thread().name

    names = {async_to_sync(off_loop)(where) for _ in range(40)}
    assert all(name.startswith("db") for name in names), names
    assert len(names) <= POOL_SIZE
