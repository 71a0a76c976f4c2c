"""/ws/team/batches/<id>/: a team upload's progress, live.

On connect the socket follows the latest job of every person of the batch
still queued or running, and sends a frame per event (`{"type": "job",
"member", "job", "state", "progress", "stage", "label", "ended"}`); the page
moves the person's state and the batch's bar, and reloads its panel when a
job ends. Only the team admins of the batch's account may follow it; anyone
else's socket is closed (4403). Without a socket the page polls over htmx.
"""

import asyncio

from channels.db import database_sync_to_async

from generation.jobs.notify import FINAL_STATES, JobWaiter
from generation.models import Batch, Job
from generation.web.team_roster import is_team_admin
from generation.web.training_consumer import ModelProgressConsumer
from generation.web.words import stage_label

FORBIDDEN = 4403


def unfinished_jobs(user, batch_id: str) -> list[tuple[str, str, str, float]] | None:
    """(member id, job id, state, progress) of the batch's people still
    being made, or None when the user may not follow the batch."""
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None or not is_team_admin(user, batch.account_id):
        return None
    running = (Job.State.QUEUED, Job.State.RUNNING)
    members = batch.team_members.select_related("job").filter(job__state__in=running)
    return [(str(m.pk), str(m.job_id), m.job.state, m.job.progress) for m in members]


class TeamBatchConsumer(ModelProgressConsumer):
    """The training page's consumer (its outbox, listen-only socket and
    cleanup) following a batch's people instead of a model's jobs."""

    async def connect(self) -> None:
        self.waiters: list[JobWaiter] = []
        self.outbox: asyncio.Queue[dict] = asyncio.Queue()
        user = self.scope.get("user")
        batch_id = str(self.scope["url_route"]["kwargs"]["batch_id"])
        jobs = await database_sync_to_async(unfinished_jobs)(user, batch_id)
        if jobs is None:
            await self.close(code=FORBIDDEN)
            return
        await self.accept()
        self.sender = asyncio.ensure_future(self._send_outbox())
        for member_id, job_id, state, progress in jobs:
            waiter = JobWaiter(job_id, on_event=lambda e, m=member_id: self._heard(m, e))
            await waiter.__aenter__()
            self.waiters.append(waiter)
            self.outbox.put_nowait(self._frame(member_id, job_id, state, progress))
        self.outbox.put_nowait({"type": "following", "jobs": len(jobs)})

    @staticmethod
    def _frame(member_id: str, job_id: str, state: str, progress: float, **extra) -> dict:
        return {"type": "job", "member": member_id, "job": job_id, "state": state,
                "progress": round(progress, 3), **extra}  # fmt: skip

    def _heard(self, member_id: str, event: dict) -> None:
        stage = event.get("stage", "")
        self.outbox.put_nowait(
            self._frame(
                member_id,
                event.get("job", ""),
                event.get("state", ""),
                event.get("progress", 0.0),
                stage=stage,
                label=stage_label(stage) if stage else "",
                ended=event.get("state") in FINAL_STATES,
            )
        )
