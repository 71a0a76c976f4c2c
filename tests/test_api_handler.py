"""daphne's routing: /v1/ through the API's own middleware, pages through the
full stack (sessions, CSRF, clickjacking headers, static files)."""

import json

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from avatarsite.asgi import application
from tests.service_helpers import make_account

pytestmark = pytest.mark.django_db(transaction=True)


def asgi_get(path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    """A GET through the ASGI application daphne serves: status, headers, whole body."""
    sent = {"host": "localhost", **{k.lower(): v for k, v in (headers or {}).items()}}
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in sent.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }

    async def call():
        app = ApplicationCommunicator(application, scope)
        await app.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await app.receive_output(10)
        body = b""
        while True:
            chunk = await app.receive_output(10)
            body += chunk.get("body", b"")
            if not chunk.get("more_body"):
                return start, body

    start, body = async_to_sync(call)()
    received: dict[str, list[str]] = {}
    for name, value in start["headers"]:
        received.setdefault(name.decode().lower(), []).append(value.decode())
    return start["status"], received, body


def test_the_api_answers_without_the_pages_middleware():
    _, key = make_account("routing", credits=0)
    status, headers, body = asgi_get(
        "/v1/jobs/00000000-0000-0000-0000-000000000000",
        {"Authorization": f"Bearer {key}", "X-Request-ID": "trace-1"},
    )
    assert status == 404 and json.loads(body)["code"] == "not_found"
    assert headers["x-request-id"] == ["trace-1"]
    assert headers["x-content-type-options"] == ["nosniff"]  # security headers still set
    assert "x-frame-options" not in headers  # page-only middleware skipped
    assert "set-cookie" not in headers and "cookie" not in headers.get("vary", [""])[0].lower()


def test_pages_keep_sessions_csrf_and_frame_options():
    status, headers, body = asgi_get("/admin/login/")
    assert status == 200 and b"csrfmiddlewaretoken" in body
    assert headers["x-frame-options"] == ["DENY"]
    assert headers["x-content-type-options"] == ["nosniff"]
    assert any(cookie.startswith("csrftoken=") for cookie in headers["set-cookie"])
    assert headers["x-request-id"][0]


# WhiteNoise hands Django a file iterator that Django reads in a thread under ASGI, and says so.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_static_files_are_still_served():
    status, headers, body = asgi_get("/static/admin/css/base.css")
    assert status == 200 and b"body" in body
