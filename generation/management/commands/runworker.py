"""`manage.py runworker avatar-jobs` (and `avatar-training`): Channels'
runworker, serving the job queue from the start.

Channels creates a consumer only when its channel gets a message, so a worker
started after its wake-up message went elsewhere (to a worker that then died,
say) would idle with jobs queued. This worker hands its own job consumer a
wake-up first, so it polls the queue, and expired leases, from the start.
"""

from channels.management.commands.runworker import Command as ChannelsRunworker
from channels.worker import Worker
from django.conf import settings


class JobQueueWorker(Worker):
    async def handle(self) -> None:
        for channel in (settings.WORKER_CHANNEL, settings.TRAINING_CHANNEL):
            if channel in self.channels:
                scope = {"type": "channel", "channel": channel}
                queue = self.get_or_create_application_instance(channel, scope)
                await queue.put({"type": "job.wake"})
        await super().handle()


class Command(ChannelsRunworker):
    worker_class = JobQueueWorker
