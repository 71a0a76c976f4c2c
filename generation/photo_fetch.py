"""image_url fetches for API calls: in a pool of their own, a few at a time per account.

A fetch may take up to its deadline (10 s). Run in the pool threads that
serve every other request (generation.off_loop), eight slow ones from one
account held all of them, and another account's GET /v1/jobs/{id} waited
41 s. Here fetches run in their own pool (FETCH_THREADS), awaited without
holding a request thread, and an account has at most
FETCH_CONCURRENCY_PER_ACCOUNT of them in flight in this process: one more
waits up to SLOT_WAIT_SECONDS for a slot, then is refused (429
too_many_fetches). A slot is held until the fetch itself has ended, even
when its caller went away.
"""

import asyncio
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from generation.errors import ApiError
from generation.intake.fetch import fetch_image
from generation.photo_input import fetch_policy

SLOT_WAIT_SECONDS = 2.0
SLOT_POLL_SECONDS = 0.05
RETRY_AFTER_SECONDS = 5

_in_flight: Counter = Counter()  # account id -> fetches running or queued in the pool
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


class TooManyFetches(ApiError):
    def __init__(self) -> None:
        super().__init__(
            429,
            "too_many_fetches",
            "This account has too many image_url downloads in progress; retry shortly.",
        )
        self.retry_after = RETRY_AFTER_SECONDS


def _fetch_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(settings.FETCH_THREADS, thread_name_prefix="image-fetch")
        return _pool


def _take_slot(account_id: int | None) -> bool:
    with _lock:
        if _in_flight[account_id] >= settings.FETCH_CONCURRENCY_PER_ACCOUNT:
            return False
        _in_flight[account_id] += 1
        return True


def _give_slot(account_id: int | None) -> None:
    with _lock:
        _in_flight[account_id] -= 1
        if _in_flight[account_id] <= 0:
            del _in_flight[account_id]


async def fetch_photo(account_id: int | None, url: str) -> bytes:
    """The bytes at `url` (fetch_image under the deployment's policy); raises
    IntakeError for what it refuses, TooManyFetches when the account has no
    free slot within SLOT_WAIT_SECONDS."""
    give_up = time.monotonic() + SLOT_WAIT_SECONDS
    while not _take_slot(account_id):
        if time.monotonic() >= give_up:
            raise TooManyFetches()
        await asyncio.sleep(SLOT_POLL_SECONDS)
    policy = fetch_policy()

    def fetch() -> bytes:
        try:
            return fetch_image(url, policy)
        finally:
            _give_slot(account_id)

    try:
        future = _fetch_pool().submit(fetch)
    except BaseException:
        _give_slot(account_id)
        raise
    return await asyncio.wrap_future(future)
