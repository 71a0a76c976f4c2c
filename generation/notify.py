"""Job events: progress to a channel-layer group per job (for pages and
waiting API calls), and a process-local wake-up for callers waiting here.

A waiting request registers an asyncio event with its own loop; whoever
finishes the job in this process sets it thread-safely. Other processes hear
through the channel layer. The database stays the source of truth: waiters
re-read the job after every wake-up and on a short poll.
"""

import asyncio
import logging
import threading
from collections import defaultdict
from concurrent.futures import Future

from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)
_waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(list)
_lock = threading.Lock()
_events_loop: asyncio.AbstractEventLoop | None = None


def _publisher_loop() -> asyncio.AbstractEventLoop:
    """One event loop, on its own thread, for every group_send of this process:
    the channel layer keeps its Redis connections per loop, so a loop per
    message (async_to_sync from a worker thread) would connect every time."""
    global _events_loop
    with _lock:
        if _events_loop is None:
            _events_loop = asyncio.new_event_loop()
            threading.Thread(
                target=_events_loop.run_forever, name="job-events", daemon=True
            ).start()
        return _events_loop


def _log_failure(future: Future) -> None:
    if future.exception() is not None:
        logger.warning("Could not publish job progress", exc_info=future.exception())


def group_name(job_id) -> str:
    return f"job-{job_id}"


def publish(job_id, state: str, progress: float, **extra) -> None:
    """Tell this process's waiters and the job's channel-layer group."""
    key = str(job_id)
    with _lock:
        waiters = list(_waiters.get(key, ()))
    for loop, event in waiters:
        loop.call_soon_threadsafe(event.set)
    layer = get_channel_layer()
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        return  # in-memory groups live in one event loop; local waiters are told above
    message = {"type": "job.progress", "job": key, "state": state, "progress": progress, **extra}
    sending = asyncio.run_coroutine_threadsafe(
        layer.group_send(group_name(key), message), _publisher_loop()
    )
    sending.add_done_callback(_log_failure)


class JobWaiter:
    """`async with JobWaiter(job_id) as wait: await wait(timeout)`: wakes on this
    process's publish() or a channel-layer message for the job."""

    def __init__(self, job_id) -> None:
        self.key = str(job_id)
        self.event = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self.layer = get_channel_layer()
        self.channel: str | None = None

    async def __aenter__(self):
        with _lock:
            _waiters[self.key].append((self.loop, self.event))
        if self.layer is not None and not isinstance(self.layer, InMemoryChannelLayer):
            self.channel = await self.layer.new_channel()
            await self.layer.group_add(group_name(self.key), self.channel)
        return self.wait

    async def wait(self, timeout: float) -> None:
        tasks = [asyncio.ensure_future(self.event.wait())]
        if self.channel is not None:
            tasks.append(asyncio.ensure_future(self.layer.receive(self.channel)))
        done, pending = await asyncio.wait(tasks, timeout=timeout, return_when="FIRST_COMPLETED")
        for task in pending:
            task.cancel()
        self.event.clear()

    async def __aexit__(self, *exc) -> None:
        with _lock:
            self._forget()
        if self.channel is not None:
            await self.layer.group_discard(group_name(self.key), self.channel)

    def _forget(self) -> None:
        waiters = _waiters.get(self.key, [])
        if (self.loop, self.event) in waiters:
            waiters.remove((self.loop, self.event))
        if not waiters:
            _waiters.pop(self.key, None)
