"""/ws/preview/: live progress of the session's own preview jobs.

The client sends `{"type": "follow", "job": "<id>"}`; the socket answers with
the job as it stands, then one frame per pipeline stage as the worker starts
it, then the end (`done` or `failed`). Only jobs the socket's own browser
session started can be followed; a malformed message or another session's
job answers a JSON error frame and the socket stays open. Events reach the
socket through generation.jobs.notify (the in-process hand-off, or the
channel layer's group per job when workers run elsewhere).
"""

import asyncio
import contextlib
import json
import logging
from importlib import import_module

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.urls import reverse

from generation.jobs.notify import FINAL_STATES, JobWaiter
from generation.models import Job
from generation.web.photo_jobs import OWNER_KEY, owned_job, parse_job_id
from generation.web.words import stage_label

logger = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 1000
MAX_FOLLOWED = 8


def owner_of(session: SessionBase | None) -> str | None:
    """The session's preview owner token, read fresh from the session store
    (the page may have started the session after the socket connected)."""
    if session is None or not session.session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return store(session_key=session.session_key).get(OWNER_KEY)


def find_job(session: SessionBase | None, job_id: str) -> Job | None:
    return owned_job(owner_of(session), job_id)


def job_frame(job_id: str, state: str, progress: float, stage: str = "") -> dict:
    frame = {"type": "job", "job": job_id, "state": state, "progress": round(progress, 3)}
    if state == Job.State.RUNNING:
        frame["stage"] = stage
        frame["label"] = stage_label(stage) if stage else "Getting started"
    elif state == Job.State.QUEUED:
        frame["label"] = stage_label("queued")
    else:
        frame["panel_url"] = reverse("preview-panel", args=[job_id])
    return frame


class PreviewConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.followed: dict[str, JobWaiter] = {}
        self.last_heard: dict[str, tuple[str, str]] = {}
        self.outbox: asyncio.Queue[dict] = asyncio.Queue()
        self.sender = asyncio.ensure_future(self._send_outbox())
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for job_id in list(self.followed):
            await self._unfollow(job_id)
        self.sender.cancel()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        if text_data is None or len(text_data) > MAX_MESSAGE_CHARS:
            return self._error("bad_message", "Send a short JSON text message.")
        try:
            message = json.loads(text_data)
        except ValueError:
            return self._error("bad_message", "That message is not JSON.")
        if not isinstance(message, dict) or message.get("type") not in ("follow", "unfollow"):
            return self._error("bad_message", 'Send {"type": "follow", "job": "<id>"}.')
        job_id = message.get("job")
        if not isinstance(job_id, str) or parse_job_id(job_id) is None:
            return self._error("bad_job", "job must be a preview id.")
        job_id = str(parse_job_id(job_id))
        if message["type"] == "unfollow":
            return await self._unfollow(job_id)
        await self._follow(job_id)

    def _error(self, code: str, message: str, job: str | None = None) -> None:
        frame = {"type": "error", "code": code, "message": message}
        if job:
            frame["job"] = job
        self.outbox.put_nowait(frame)

    async def _follow(self, job_id: str) -> None:
        if job_id in self.followed:
            return
        if len(self.followed) >= MAX_FOLLOWED:
            return self._error("too_many_jobs", "Follow at most 8 previews at once.", job_id)
        session = self.scope.get("session")
        if await database_sync_to_async(find_job)(session, job_id) is None:
            return self._error("not_your_job", "That preview is not one of yours.", job_id)
        waiter = JobWaiter(job_id, on_event=self._heard)
        await waiter.__aenter__()
        self.followed[job_id] = waiter
        # Read after listening, so nothing falls between the two.
        job = await database_sync_to_async(Job.objects.only("state", "progress").get)(pk=job_id)
        self.outbox.put_nowait(job_frame(job_id, job.state, job.progress))
        if job.is_finished:
            await self._unfollow(job_id)

    def _heard(self, event: dict) -> None:
        """A job event (on this loop): pass it on; stop following at its end."""
        job_id = event.get("job", "")
        if job_id not in self.followed:
            return
        state, stage = event.get("state", ""), event.get("stage", "")
        if self.last_heard.get(job_id) == (state, stage):
            return  # the same event by two roads (this process and the channel layer)
        self.last_heard[job_id] = (state, stage)
        self.outbox.put_nowait(job_frame(job_id, state, event.get("progress", 0.0), stage))
        if state in FINAL_STATES:
            asyncio.ensure_future(self._unfollow(job_id))

    async def _unfollow(self, job_id: str) -> None:
        self.last_heard.pop(job_id, None)
        waiter = self.followed.pop(job_id, None)
        if waiter is not None:
            await waiter.__aexit__(None, None, None)

    async def _send_outbox(self) -> None:
        """One sender keeps the frames in order."""
        while True:
            frame = await self.outbox.get()
            with contextlib.suppress(Exception):
                await self.send(text_data=json.dumps(frame))
