"""/ws/models/<id>/: live progress of one of the signed-in person's models.

On connect the socket follows the model's training job, if it is still
running, and each of its inferences still drawing; it sends one frame per
progress event (`{"type": "job", "kind", "job", "state", "progress",
"eta_seconds", "stage"}`) and a last one when each ends, after which the page
reloads its panel. Another person's model, or no sign-in, closes the socket
(4403). The page polls over htmx when there is no socket.
"""

import asyncio
import contextlib
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from generation.jobs.notify import FINAL_STATES, JobWaiter
from generation.models import Job, SubjectModel

FORBIDDEN = 4403


def unfinished_jobs(user, model_id: str) -> list[tuple[str, str, str, float]] | None:
    """(job id, kind, state, progress) of the model's running jobs, or None
    when it is not this user's model."""
    model = SubjectModel.objects.filter(pk=model_id, user=user).first() if user else None
    if model is None:
        return None
    running = Job.objects.filter(state__in=(Job.State.QUEUED, Job.State.RUNNING))
    jobs = list(running.filter(kind=Job.Kind.INFERENCE, account=None, params__model_id=model_id))
    if model.job_id and not model.is_finished:
        jobs += list(running.filter(pk=model.job_id))
    return [(str(job.pk), job.kind, job.state, job.progress) for job in jobs]


class ModelProgressConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.waiters: list[JobWaiter] = []
        self.outbox: asyncio.Queue[dict] = asyncio.Queue()
        user = self.scope.get("user")
        model_id = str(self.scope["url_route"]["kwargs"]["model_id"])
        signed_in = user is not None and user.is_authenticated
        jobs = await database_sync_to_async(unfinished_jobs)(user if signed_in else None, model_id)
        if jobs is None:
            await self.close(code=FORBIDDEN)
            return
        await self.accept()
        self.sender = asyncio.ensure_future(self._send_outbox())
        for job_id, kind, state, progress in jobs:
            waiter = JobWaiter(job_id, on_event=lambda event, kind=kind: self._heard(kind, event))
            await waiter.__aenter__()
            self.waiters.append(waiter)
            self.outbox.put_nowait(self._frame(kind, job_id, state, progress))
        # a job that ended between the read and listening: the page's poll finds it
        self.outbox.put_nowait({"type": "following", "jobs": len(jobs)})

    @staticmethod
    def _frame(kind: str, job_id: str, state: str, progress: float, **extra) -> dict:
        return {"type": "job", "kind": kind, "job": job_id, "state": state,
                "progress": round(progress, 3), **extra}  # fmt: skip

    def _heard(self, kind: str, event: dict) -> None:
        self.outbox.put_nowait(
            self._frame(
                kind,
                event.get("job", ""),
                event.get("state", ""),
                event.get("progress", 0.0),
                eta_seconds=event.get("eta_seconds"),
                stage=event.get("stage", ""),
                ended=event.get("state") in FINAL_STATES,
            )
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        """The socket only talks; anything sent to it is answered with an error frame."""
        self.outbox.put_nowait({"type": "error", "code": "bad_message", "message": "Listen only."})

    async def disconnect(self, code: int) -> None:
        for waiter in self.waiters:
            await waiter.__aexit__(None, None, None)
        self.waiters = []
        if hasattr(self, "sender"):
            self.sender.cancel()

    async def _send_outbox(self) -> None:
        while True:
            frame = await self.outbox.get()
            with contextlib.suppress(Exception):
                await self.send(text_data=json.dumps(frame))
