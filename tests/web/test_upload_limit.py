"""The upload limit in front of Django: refused from Content-Length before a
byte of the body is read, and a body without one is cut off at the limit."""

import json

import pytest
from asgiref.sync import async_to_sync

from generation.web.uploads import UploadLimit, body_limit


class Downstream:
    """Stands for Django: reads the whole body, then answers 200."""

    def __init__(self) -> None:
        self.read = 0

    async def __call__(self, scope, receive, send) -> None:
        while True:
            message = await receive()
            self.read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(path: str, headers: list, chunks: list[bytes]) -> tuple[list[dict], int, Downstream]:
    app = Downstream()
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    taken = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal taken
        taken += 1
        return pending.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    async_to_sync(UploadLimit(app))(scope, receive, send)
    return sent, taken, app


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.PREVIEW_MAX_UPLOAD_BYTES = 1000


def test_an_announced_oversize_body_is_refused_unread():
    headers = [
        (b"content-length", str(body_limit() + 1).encode()),
        (b"accept", b"application/json"),
    ]
    sent, taken, app = call("/preview/photo/", headers, [b"x" * 10])
    assert taken == 0 and app.read == 0
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "file_too_large"


def test_a_form_post_gets_a_page():
    headers = [(b"content-length", str(body_limit() + 1).encode()), (b"accept", b"text/html")]
    sent, _, _ = call("/signup/", headers, [b""])
    assert sent[0]["status"] == 413 and b"That photo is too big" in sent[1]["body"]


def test_a_body_without_length_is_cut_off_at_the_limit():
    chunk = b"x" * (body_limit() // 4 + 1)
    sent, taken, _ = call("/me/avatar/", [], [chunk] * 10)
    assert sent[0]["status"] == 413 and taken == 4  # stopped at the chunk that passed it


def test_within_the_limit_and_other_paths_pass():
    sent, _, app = call("/preview/photo/", [(b"content-length", b"10")], [b"x" * 10])
    assert sent[0]["status"] == 200 and app.read == 10
    big = [(b"content-length", str(body_limit() * 10).encode())]
    sent, _, _ = call("/admin/login/", big, [b"x"])
    assert sent[0]["status"] == 200


@pytest.mark.django_db
def test_in_front_of_django_itself():
    from django.core.asgi import get_asgi_application

    app = UploadLimit(get_asgi_application())
    chunks = [b"x" * (body_limit() // 4 + 1)] * 10
    pending = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    sent: list[dict] = []

    async def receive() -> dict:
        return pending.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/preview/photo/",
        "headers": [(b"accept", b"application/json")],
        "query_string": b"",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
    }
    async_to_sync(app)(scope, receive, send)
    assert sent[0]["status"] == 413 and len(pending) == 6
