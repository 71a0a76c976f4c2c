"""/ws/preview/ through the real ASGI application (session auth, origin check)
with channels' WebsocketCommunicator: stage frames from the real worker, and
error frames (socket still open) for bad messages and other sessions' jobs."""

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from avatarsite.asgi import application
from generation.jobs.worker import run_available_jobs
from generation.portrait.pipeline import STAGES
from tests.service_helpers import PHOTOS

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 30


@pytest.fixture(autouse=True)
def no_embedded_worker(settings, identity_defaults):
    settings.EMBEDDED_WORKER = False


def session_with_job(name: str = "obama2.jpg") -> tuple[Client, str]:
    client = Client()
    client.get("/signup/")
    photo = SimpleUploadedFile(name, (PHOTOS / name).read_bytes())
    response = client.post("/preview/photo/", {"photo": photo})
    assert response.status_code == 201, response.content
    return client, response.json()["job"]


def socket_for(client: Client | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if client is not None:
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return WebsocketCommunicator(application, "/ws/preview/", headers=headers)


async def frames_until_end(socket: WebsocketCommunicator) -> list[dict]:
    frames = []
    while not frames or frames[-1].get("state") not in ("done", "failed"):
        frames.append(json.loads(await socket.receive_from(timeout=TIMEOUT)))
    return frames


def test_a_socket_follows_its_sessions_job_stage_by_stage():
    client, job_id = session_with_job()

    async def scenario() -> list[dict]:
        socket = socket_for(client)
        connected, _ = await socket.connect()
        assert connected
        await socket.send_to(text_data=json.dumps({"type": "follow", "job": job_id}))
        first = json.loads(await socket.receive_from(timeout=TIMEOUT))
        assert first == {
            "type": "job",
            "job": job_id,
            "state": "queued",
            "progress": 0.0,
            "label": "Waiting for a free worker",
        }
        worker = asyncio.ensure_future(
            sync_to_async(run_available_jobs, thread_sensitive=False)("test-worker")
        )
        frames = await frames_until_end(socket)
        await worker
        await socket.disconnect()
        return frames

    frames = async_to_sync(scenario)()
    stages = [frame["stage"] for frame in frames if frame.get("stage")]
    assert stages[0] == "load" and stages[-1] == "save" and set(stages) <= set(STAGES)
    assert {"face_detect", "style", "checks"} <= set(stages)
    labels = [frame["label"] for frame in frames if frame["state"] == "running"]
    assert "Finding your face" in labels and "Working on it" not in labels
    assert frames[-1]["state"] == "done" and frames[-1]["panel_url"] == f"/preview/jobs/{job_id}/"


def test_a_finished_job_answers_at_once():
    client, job_id = session_with_job()
    run_available_jobs("test-worker")

    async def scenario() -> dict:
        socket = socket_for(client)
        await socket.connect()
        await socket.send_to(text_data=json.dumps({"type": "follow", "job": job_id}))
        frame = json.loads(await socket.receive_from(timeout=TIMEOUT))
        await socket.disconnect()
        return frame

    assert async_to_sync(scenario)()["state"] == "done"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", "bad_message"),
        ("[1, 2]", "bad_message"),
        ('{"type": "subscribe"}', "bad_message"),
        ('{"type": "follow"}', "bad_job"),
        ('{"type": "follow", "job": 7}', "bad_job"),
        ('{"type": "follow", "job": "../../etc"}', "bad_job"),
        ('{"type": "follow", "job": "' + "x" * 2000 + '"}', "bad_message"),
        ('{"type": "follow", "job": "00000000-0000-0000-0000-000000000000"}', "not_your_job"),
    ],
)
def test_bad_messages_get_an_error_frame_and_the_socket_stays_open(message, code):
    client, job_id = session_with_job()

    async def scenario() -> tuple[dict, dict]:
        socket = socket_for(client)
        await socket.connect()
        await socket.send_to(text_data=message)
        error = json.loads(await socket.receive_from(timeout=TIMEOUT))
        await socket.send_to(text_data=json.dumps({"type": "follow", "job": job_id}))
        still = json.loads(await socket.receive_from(timeout=TIMEOUT))
        await socket.disconnect()
        return error, still

    error, still = async_to_sync(scenario)()
    assert error["type"] == "error" and error["code"] == code and error["message"]
    assert still["type"] == "job" and still["job"] == job_id


def test_binary_frames_are_refused_too():
    client, _ = session_with_job()

    async def scenario() -> dict:
        socket = socket_for(client)
        await socket.connect()
        await socket.send_to(bytes_data=b"\x00\x01")
        frame = json.loads(await socket.receive_from(timeout=TIMEOUT))
        await socket.disconnect()
        return frame

    assert async_to_sync(scenario)()["code"] == "bad_message"


def test_another_sessions_job_is_refused():
    _, job_id = session_with_job()
    stranger = Client()
    stranger.get("/signup/")

    async def scenario(client) -> dict:
        socket = socket_for(client)
        await socket.connect()
        await socket.send_to(text_data=json.dumps({"type": "follow", "job": job_id}))
        frame = json.loads(await socket.receive_from(timeout=TIMEOUT))
        assert await socket.receive_nothing(timeout=0.3)  # and no progress of it, ever
        await socket.disconnect()
        return frame

    for client in (stranger, None):  # another session, and no session at all
        frame = async_to_sync(scenario)(client)
        assert frame == {
            "type": "error",
            "code": "not_your_job",
            "message": "That preview is not one of yours.",
            "job": job_id,
        }


def test_a_foreign_origin_cannot_connect():
    async def scenario() -> bool:
        socket = WebsocketCommunicator(
            application, "/ws/preview/", headers=[(b"origin", b"http://evil.example")]
        )
        connected, _ = await socket.connect()
        await socket.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


def test_unfollow_stops_the_frames():
    client, job_id = session_with_job()

    async def scenario() -> bool:
        socket = socket_for(client)
        await socket.connect()
        await socket.send_to(text_data=json.dumps({"type": "follow", "job": job_id}))
        await socket.receive_from(timeout=TIMEOUT)  # the job as it stands
        await socket.send_to(text_data=json.dumps({"type": "unfollow", "job": job_id}))
        await socket.receive_nothing(timeout=0.3)
        await sync_to_async(run_available_jobs, thread_sensitive=False)("test-worker")
        quiet = await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()
        return quiet

    assert async_to_sync(scenario)() is True
