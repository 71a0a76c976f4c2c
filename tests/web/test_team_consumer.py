"""/ws/team/batches/<id>/ through the real ASGI application (session auth,
origin check): the account's team admin hears each person's stages from the
real worker until every job ends; other accounts' admins, people who run no
team and signed-out sockets are refused (4403)."""

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from avatarsite.asgi import application
from generation.jobs.worker import run_available_jobs
from generation.models import Batch, TeamMember
from tests.web.test_team import FACE, NO_FACE, team, upload

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 30


@pytest.fixture(autouse=True)
def no_embedded_worker(settings, identity_defaults):
    settings.EMBEDDED_WORKER = False


def cookie_of(client: Client | None) -> str:
    return f"sessionid={client.cookies['sessionid'].value}" if client else ""


def socket_for(cookie: str, batch: Batch) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, f"/ws/team/batches/{batch.pk}/", headers=headers)


def test_the_team_admin_hears_every_person_until_the_batch_ends():
    account, hr = team(credits=5)
    upload(hr, account, {"jane.jpg": FACE, "mug.png": NO_FACE})
    batch = Batch.objects.get()
    members = {str(m.pk): m.name for m in TeamMember.objects.all()}
    cookie = cookie_of(hr)

    async def scenario() -> list[dict]:
        socket = socket_for(cookie, batch)
        connected, _ = await socket.connect()
        assert connected
        frames = [json.loads(await socket.receive_from(timeout=TIMEOUT)) for _ in range(3)]
        worker = asyncio.ensure_future(
            sync_to_async(run_available_jobs, thread_sensitive=False)("test-worker")
        )
        ended: set[str] = set()
        while len(ended) < 2:
            frame = json.loads(await socket.receive_from(timeout=TIMEOUT))
            frames.append(frame)
            if frame.get("ended"):
                ended.add(frame["member"])
        await worker
        await socket.disconnect()
        return frames

    frames = async_to_sync(scenario)()
    assert {f["member"] for f in frames[:2]} == set(members)
    assert frames[:2][0]["state"] == "queued" and frames[2] == {"type": "following", "jobs": 2}
    labels = {f["label"] for f in frames if f.get("label")}
    assert "Finding your face" in labels
    last = {f["member"]: f["state"] for f in frames if f.get("ended")}
    by_name = {members[member]: state for member, state in last.items()}
    assert by_name == {"Jane": "done", "Mug": "failed"}


def test_others_cannot_follow_the_batch():
    account, hr = team("Acme", credits=5)
    upload(hr, account, {"jane.jpg": FACE})
    batch = Batch.objects.get()
    _, other_hr = team("Beta")
    stranger = Client()
    stranger.force_login(get_user_model().objects.create_user("x", "x@y.test", "pw"))

    async def refused(cookie: str) -> int:
        socket = socket_for(cookie, batch)
        connected, code = await socket.connect()
        assert not connected
        return code

    for client in (other_hr, stranger, None):
        assert async_to_sync(refused)(cookie_of(client)) == 4403
