"""Shared helpers for the generation service tests."""

import base64
import contextlib
import io
import json
import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from django.test import Client

from accounts.credits import grant
from accounts.keys import issue_key
from accounts.models import PlatformAccount

PHOTOS = Path(__file__).parent / "fixtures" / "photos"


def photo_b64(name: str = "obama2.jpg") -> str:
    return base64.b64encode((PHOTOS / name).read_bytes()).decode()


class PhotoServer(BaseHTTPRequestHandler):
    """Answers every GET with obama2.jpg, counting the requests."""

    requests = 0

    def do_GET(self) -> None:
        PhotoServer.requests += 1
        data = (PHOTOS / "obama2.jpg").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def photo_server(settings) -> Iterator[ThreadingHTTPServer]:
    """A PhotoServer on a free loopback port that image_url may fetch from."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), PhotoServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.FETCH_ALLOWED_HOSTS = frozenset({f"127.0.0.1:{server.server_port}"})
    PhotoServer.requests = 0
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def make_account(name: str = "acme", credits: int = 10, **fields) -> tuple[PlatformAccount, str]:
    account = PlatformAccount.objects.create(name=name, **fields)
    if credits:
        grant(account, credits)
    return account, issue_key(account)


def client_for(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def post_json(client: Client, url: str, body: dict, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def require_services(problems: list[str]) -> None:
    """Missing local services: a failure under CI=true (they are part of the
    machine there), a skip on a developer's machine without them."""
    if not problems:
        return
    import os

    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail("required in CI: " + "; ".join(problems))
    pytest.skip("; ".join(problems))


def shared_database_url() -> str:
    """The test database as DATABASE_URL names it, for a server or worker
    process a test starts."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = f"{db['USER']}:{db['PASSWORD']}@" if db["PASSWORD"] else f"{db['USER']}@"
    return f"postgres://{credentials}{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


async def asgi_call(
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
    on_body: Callable[[bytes], object] | None = None,
) -> tuple[int, dict[str, str], list[int]]:
    """One request through the ASGI application daphne serves, message by
    message: status, headers, and the size of each body message (each handed
    to `on_body` as it comes)."""
    from asgiref.testing import ApplicationCommunicator

    from avatarsite.asgi import application

    sent = {"host": "localhost", **{k.lower(): v for k, v in headers.items()}}
    if body:
        sent["content-length"] = str(len(body))
    scope = {
        "type": "http", "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in sent.items()],
        "client": ("127.0.0.1", 50000), "server": ("localhost", 80),
    }  # fmt: skip
    app = ApplicationCommunicator(application, scope)
    await app.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await app.receive_output(60)
    sizes = []
    while True:
        message = await app.receive_output(60)
        piece = message.get("body", b"")
        sizes.append(len(piece))
        if on_body is not None:
            on_body(piece)
        if not message.get("more_body"):
            received = {k.decode().lower(): v.decode() for k, v in start["headers"]}
            return start["status"], received, sizes
