"""Coroutines left to finish after the request that started them has answered."""

import asyncio
import logging
from collections.abc import Coroutine

logger = logging.getLogger(__name__)
_running: set[asyncio.Task] = set()  # the loop holds tasks weakly


def in_background(work: Coroutine, what: str) -> None:
    """Run `work` on the current event loop without waiting for it; a failure
    is logged as "Could not <what>"."""
    task = asyncio.ensure_future(work)
    _running.add(task)

    def finished(task: asyncio.Task) -> None:
        _running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("Could not %s", what, exc_info=task.exception())

    task.add_done_callback(finished)
