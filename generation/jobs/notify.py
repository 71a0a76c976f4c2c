"""Job events: progress to a channel-layer group per job (for pages and
waiting API calls), and a process-local wake-up for callers waiting here.

A waiting request registers an asyncio event with its own loop; whoever
finishes the job in this process sets it thread-safely. Other processes hear
through the channel layer. Waiters wake when the job ends, not on progress.
The database stays the source of truth: they re-read the job after every
wake-up and on a short poll.
"""

import asyncio
import contextlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future

from channels.layers import InMemoryChannelLayer, get_channel_layer

from generation.background import in_background

logger = logging.getLogger(__name__)
_waiters: dict[str, list["JobWaiter"]] = defaultdict(list)
_lock = threading.Lock()
_events_loop: asyncio.AbstractEventLoop | None = None
FINAL_STATES = ("done", "failed")
SEND_TIMEOUT_SECONDS = 2.0


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
    """Tell this process's waiters and the job's channel-layer group. A job's
    end is sent before this returns: the worker's next claim would otherwise
    hold the interpreter while the event waits for its thread. `extra` must
    be msgpack-able (the Redis layer's encoding)."""
    key = str(job_id)
    message = {"type": "job.progress", "job": key, "state": state, "progress": progress, **extra}
    with _lock:
        waiters = list(_waiters.get(key, ()))
    for waiter in waiters:
        waiter.loop.call_soon_threadsafe(waiter.hear, message)
    layer = get_channel_layer()
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        return  # in-memory groups live in one event loop; local waiters are told above
    sending = asyncio.run_coroutine_threadsafe(
        layer.group_send(group_name(key), message), _publisher_loop()
    )
    sending.add_done_callback(_log_failure)
    if state in FINAL_STATES:
        with contextlib.suppress(Exception):  # logged by the callback
            sending.result(timeout=SEND_TIMEOUT_SECONDS)


class JobWaiter:
    """`async with JobWaiter(job_id) as waiter: await waiter.wait(timeout)`:
    wakes when this process's publish() or a channel-layer message says the
    job ended; `waiter.ended` then holds the ended job's fields, if the
    message carried them. `on_event`, if given, hears every event of the job
    (progress too) on the waiter's loop: a page's socket follows a job so."""

    def __init__(self, job_id, on_event: Callable[[dict], None] | None = None) -> None:
        self.key = str(job_id)
        self.on_event = on_event
        self.event = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.listening: asyncio.Task | None = None
        self.ended: dict | None = None

    def hear(self, message: dict) -> None:
        """An event for the job (on the waiter's loop): wake on its end."""
        if self.on_event is not None:
            self.on_event(message)
        if message.get("state") in FINAL_STATES:
            self.ended = message.get("ended")
            self.event.set()

    async def __aenter__(self) -> "JobWaiter":
        with _lock:
            _waiters[self.key].append(self)
        if self.layer is not None and not isinstance(self.layer, InMemoryChannelLayer):
            try:
                self.channel = await self.layer.new_channel()
                await self.layer.group_add(group_name(self.key), self.channel)
            except Exception:  # the waiter still polls the database
                logger.warning("Could not listen for job events", exc_info=True)
                self.channel = None
                return self
            # One receive for the waiter's life: cancelling a receive can drop
            # the message it was taking.
            self.listening = asyncio.ensure_future(self._listen())
        return self

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()

    async def _listen(self) -> None:
        try:
            while True:
                self.hear(await self.layer.receive(self.channel))
        except Exception:  # the waiter still polls the database
            logger.warning("Could not listen for job events", exc_info=True)

    async def __aexit__(self, *exc) -> None:
        with _lock:
            self._forget()
        if self.listening is not None:
            self.listening.cancel()
        if self.channel is not None:  # the answer need not wait for this
            in_background(
                self.layer.group_discard(group_name(self.key), self.channel),
                "leave a job's group",
            )

    def _forget(self) -> None:
        waiters = _waiters.get(self.key, [])
        if self in waiters:
            waiters.remove(self)
        if not waiters:
            _waiters.pop(self.key, None)
