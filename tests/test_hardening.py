"""Hostile and broken requests answer 4xx JSON with a stable code, store nothing
and charge nothing; a database outage answers 503 and the service recovers.

These run on SQLite and again in the PostgreSQL pass (`django_db`), where a NUL
character used to reach the database and fail the statement (a 500).
"""

import base64
import io
import ipaddress
import json
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import ANY

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.db import connections
from django.test import Client
from PIL import Image

from accounts import credits
from accounts.models import ApiKey
from avatarsite.asgi import application
from generation.models import Batch, Job
from generation.off_loop import POOL_SIZE
from generation.off_loop import pool as off_loop_pool
from generation.portrait.load import SAFE_FORMATS
from tests.openapi_refs import refs_in, unresolvable_refs
from tests.service_helpers import client_for, make_account, photo_b64, post_json, zip_of
from tests.test_settings_env import run_django

pytestmark = pytest.mark.django_db(transaction=True)

NUL_BODIES = [
    ("/v1/avatar/batch", {"items": [{"external_id": "a\x00b", "image_url": "http://x.test/a"}]}),
    ("/v1/avatar/batch", {"items": [{"external_id": "ab", "image_url": "http://x.test/\x00a"}]}),
    (
        "/v1/avatar/batch",
        {"items": [{"external_id": "ab", "image_base64": "AAAA"}], "style": "\x00"},
    ),
    ("/v1/avatar/generate", {"image_url": "http://x.test/a\x00.jpg"}),
    ("/v1/avatar/generate", {"image_base64": "AAAA", "palette": ["#112233\x00"]}),
    ("/v1/avatar/generate", {"image_base64": "AAAA", "background": "\x00", "style": "anime"}),
]


@pytest.fixture
def account(settings):
    settings.GENERATE_WAIT_SECONDS = 0
    settings.EMBEDDED_WORKER = False
    return make_account("hardening", credits=5)


def assert_nothing_stored(account_obj, balance: int = 5) -> None:
    assert Job.objects.count() == 0
    assert Batch.objects.count() == 0
    assert credits.balance(account_obj) == balance == credits.ledger_total(account_obj)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code and isinstance(body["message"], str), body
    return body


@pytest.mark.parametrize("url", ["/v1/avatar/generate", "/v1/avatar/batch"])
def test_a_body_over_the_upload_limit_is_413(account, settings, url):
    account_obj, key = account
    photo = photo_b64()
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(photo) // 2
    body = {"image_base64": photo}
    if url.endswith("batch"):
        body = {"items": [{"external_id": "e1", "image_base64": photo}]}
    assert_error(post_json(client_for(key), url, body), 413, "request_too_large")
    assert_nothing_stored(account_obj)


@pytest.mark.parametrize(("url", "body"), NUL_BODIES)
def test_a_nul_character_in_a_json_body_is_400(account, url, body):
    account_obj, key = account
    response = post_json(client_for(key), url, body)
    assert_error(response, 400, "invalid_characters")
    assert_nothing_stored(account_obj)


def test_an_escaped_backslash_before_u0000_is_not_a_nul(account):
    """The text `\\u0000` (a backslash, then u0000) is an ordinary external_id."""
    account_obj, key = account
    body = {"items": [{"external_id": "a\\u0000b", "image_base64": photo_b64()}]}
    response = post_json(client_for(key), "/v1/avatar/batch", body)
    assert response.status_code == 202, response.content[:300]
    assert Job.objects.get().external_id == "a\\u0000b"


@pytest.mark.parametrize(
    "url", ["/v1/avatars/%00/bob.png", "/v1/users/%00/avatar.png", "/v1/jobs/%00"]
)
def test_a_nul_character_in_the_path_is_404(account, identity_defaults, url):
    _, key = account
    assert_error(client_for(key).get(url), 404, "not_found")


def test_a_nul_character_in_the_query_is_400(identity_defaults):
    response = Client().get("/v1/avatars/shapes/bob.png?palette=%00")
    assert_error(response, 400, "invalid_characters")


def test_a_nul_character_in_an_api_key_is_401(account):
    response = Client(HTTP_AUTHORIZATION="Bearer av_\x00_x").get("/v1/jobs/x")
    assert_error(response, 401, "unauthorized")


def test_a_nul_character_in_the_idempotency_key_is_400(account):
    account_obj, key = account
    response = post_json(
        client_for(key),
        "/v1/avatar/generate",
        {"image_base64": photo_b64()},
        HTTP_IDEMPOTENCY_KEY="k\x00",
    )
    assert_error(response, 400, "invalid_idempotency_key")
    assert_nothing_stored(account_obj)


def test_a_multipart_batch_without_a_boundary_is_400(account):
    account_obj, key = account
    response = client_for(key).post(
        "/v1/avatar/batch", b"--x\r\n\r\n", content_type="multipart/form-data"
    )
    assert_error(response, 400, "invalid_multipart")
    assert_nothing_stored(account_obj)


def upload(fields: dict[str, str], photos: dict[str, bytes]) -> tuple[bytes, str]:
    """A multipart body (a zip of `photos` as the archive, plus `fields`) and its Content-Type."""
    boundary = "hardening-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="archive"; filename="team.zip"\r\n'
        f"Content-Type: application/zip\r\n\r\n".encode()
        + zip_of(photos)
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_nul_character_in_an_upload_field_is_400(account):
    account_obj, key = account
    photo = base64.b64decode(photo_b64())
    body, content_type = upload({"style": "anime", "note": "a\x00b"}, {"emp-1.jpg": photo})
    response = client_for(key).post("/v1/avatar/batch", body, content_type=content_type)
    assert_error(response, 400, "invalid_characters")
    assert_nothing_stored(account_obj)
    body, content_type = upload({"style": "anime"}, {"emp-1.jpg": photo})  # the same, no NUL
    response = client_for(key).post("/v1/avatar/batch", body, content_type=content_type)
    assert response.status_code == 202, response.content[:300]


def asgi_post(path: str, body: bytes, content_type: str, key: str) -> tuple[int, dict]:
    """A POST through the ASGI application daphne serves (/v1/: the API's own async
    middleware), the body in two pieces as a server hands it over."""
    headers = {"host": "localhost", "content-type": content_type, "authorization": f"Bearer {key}",
               "content-length": str(len(body))}  # fmt: skip
    scope = {
        "type": "http", "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("localhost", 80),
    }  # fmt: skip

    async def call():
        app = ApplicationCommunicator(application, scope)
        half = len(body) // 2
        await app.send_input({"type": "http.request", "body": body[:half], "more_body": True})
        await app.send_input({"type": "http.request", "body": body[half:], "more_body": False})
        start = await app.receive_output(20)
        answer = b""
        while True:
            chunk = await app.receive_output(20)
            answer += chunk.get("body", b"")
            if not chunk.get("more_body"):
                return start["status"], json.loads(answer)

    return async_to_sync(call)()


def test_hostile_requests_through_the_asgi_api_handler(account, settings):
    """The same refusals where production serves /v1/: daphne's ASGI application."""
    account_obj, key = account
    photo = base64.b64decode(photo_b64())
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(photo)
    nul_field = upload({"style": "anime", "note": "\x00"}, {"emp-1.jpg": photo})
    big_field = upload({"style": "x" * (len(photo) + 1)}, {"emp-1.jpg": photo})
    cases = [
        ("/v1/avatar/batch", *nul_field, 400, "invalid_characters"),
        ("/v1/avatar/batch", nul_field[0], "multipart/form-data", 400, "invalid_multipart"),
        ("/v1/avatar/batch", *big_field, 413, "request_too_large"),
        ("/v1/avatar/generate", b'{"image_url": "http://x.test/\\u0000"}', "application/json",
         400, "invalid_characters"),
        ("/v1/avatar/generate", json.dumps({"image_base64": photo_b64()}).encode(),
         "application/json", 413, "request_too_large"),
    ]  # fmt: skip
    for path, body, content_type, status, code in cases:
        assert asgi_post(path, body, content_type, key) == (status, {"code": code, "message": ANY})
    assert_nothing_stored(account_obj)
    small = upload({"style": "anime"}, {"emp-1.jpg": photo})  # files are not held to the limit
    assert asgi_post("/v1/avatar/batch", *small, key)[0] == 202


def test_a_multipart_batch_with_too_many_fields_is_400(account, settings):
    account_obj, key = account
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    response = client_for(key).post(
        "/v1/avatar/batch", {f"f{n}": "x" for n in range(10)}, format="multipart"
    )
    assert_error(response, 400, "bad_request")
    assert_nothing_stored(account_obj)


def test_a_reused_idempotency_key_with_another_body_is_422(account):
    account_obj, key = account
    client = client_for(key)
    body = {"image_base64": photo_b64(), "style": "anime"}
    first = post_json(client, "/v1/avatar/generate", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 202, first.content[:300]
    job_id = first.json()["id"]

    # The same request, spelled with its defaults: the same job, no new charge.
    same = post_json(
        client,
        "/v1/avatar/generate",
        {**body, "cache_input": False, "platform": None},
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert same.status_code == 202 and same.json()["id"] == job_id

    for changed in (
        {**body, "style": "editorial"},
        {**body, "image_base64": photo_b64("obama.jpg")},
    ):
        response = post_json(client, "/v1/avatar/generate", changed, HTTP_IDEMPOTENCY_KEY="k-1")
        assert_error(response, 422, "idempotency_key_reused")
    assert Job.objects.count() == 1
    assert credits.balance(account_obj) == 4 == credits.ledger_total(account_obj)


def test_a_reused_idempotency_key_by_url_with_another_url_is_422(account, settings):
    """Calls by image_url look the key up before fetching: still compared."""
    account_obj, key = account
    client = client_for(key)
    first = post_json(
        client, "/v1/avatar/generate", {"image_base64": photo_b64()}, HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert first.status_code == 202
    other = {"image_url": "http://unresolvable.invalid/a.jpg"}
    response = post_json(client, "/v1/avatar/generate", other, HTTP_IDEMPOTENCY_KEY="k-2")
    assert_error(response, 422, "idempotency_key_reused")
    assert Job.objects.count() == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def drop_pool_connections() -> None:
    """Close the database connections every off_loop thread holds, as an outage would:
    as many tasks as the pool has threads, each waiting for all the others, so every
    thread runs one."""
    size = POOL_SIZE
    everyone = threading.Barrier(size)

    def drop(_) -> None:
        everyone.wait(timeout=10)
        connections.close_all()

    list(off_loop_pool.map(drop, range(size)))


def test_an_unreachable_database_answers_503_and_the_service_recovers(
    account, monkeypatch, tmp_path
):
    """The settings pointed at nothing and every open connection dropped (the pool's
    threads keep theirs between requests): a database that is down."""
    _, key = account
    job = Job.objects.create(account=ApiKey.objects.get().account, params={})
    client = client_for(key)
    client.get(f"/v1/jobs/{job.pk}")  # the pool's threads now hold connections
    database = connections.settings["default"]
    with monkeypatch.context() as outage:
        if connections["default"].vendor == "postgresql":
            outage.setitem(database, "HOST", "127.0.0.1")
            outage.setitem(database, "PORT", str(closed_port()))
        else:
            outage.setitem(database, "NAME", str(tmp_path / "no-such-dir" / "db.sqlite3"))
        drop_pool_connections()
        for response in (
            client.get(f"/v1/jobs/{job.pk}"),
            post_json(client, "/v1/avatar/generate", {"image_base64": photo_b64()}),
        ):
            body = assert_error(response, 503, "service_unavailable")
            assert int(response["Retry-After"]) > 0, body
    response = client.get(f"/v1/jobs/{job.pk}")
    assert response.status_code == 200, response.content[:300]
    assert json.loads(response.content)["id"] == str(job.pk)


def test_every_ref_in_the_openapi_document_resolves():
    document = Client().get("/v1/openapi.json").json()
    assert "#/components/schemas/BatchIn" in set(refs_in(document))
    assert unresolvable_refs(document) == []
    assert "items" in document["components"]["schemas"]["BatchIn"]["required"]


def image_bytes(fmt: str, side: int = 256) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (120, 110, 100)).save(out, fmt)
    return out.getvalue()


@pytest.fixture
def image_server(settings):
    """A local HTTP server answering /<FORMAT> with an image in that format."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            body = image_bytes(self.path.strip("/"))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.FETCH_ALLOWED_HOSTS = frozenset({"127.0.0.1"})
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("fmt", [*SAFE_FORMATS, "PPM", "ICO"])
def test_one_format_rule_for_base64_and_url(account, image_server, fmt):
    """A photo format is taken by URL exactly when it is taken in base64."""
    _, key = account
    client = client_for(key)
    by_base64 = post_json(
        client,
        "/v1/avatar/generate",
        {"image_base64": base64.b64encode(image_bytes(fmt)).decode()},
    )
    by_url = post_json(client, "/v1/avatar/generate", {"image_url": f"{image_server}/{fmt}"})
    if fmt in SAFE_FORMATS:
        assert (by_base64.status_code, by_url.status_code) == (202, 202), by_url.content[:300]
    else:
        assert_error(by_base64, 400, "not_an_image")
        assert_error(by_url, 400, "not_an_image")


def scrape(settings, address: str = "127.0.0.1", token: str | None = None):
    headers = {"REMOTE_ADDR": address}
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return Client().get("/metrics", **headers)


def assert_scraped(response) -> None:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"# TYPE avatar_queue_depth gauge" in response.content


def test_metrics_default_to_loopback_only(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", ()
    assert_scraped(scrape(settings, "127.0.0.1"))
    assert_scraped(scrape(settings, "::1"))
    assert_error(scrape(settings, "203.0.113.9"), 403, "forbidden")


def test_metrics_behind_a_bearer_token(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "s3cret-scrape", ()
    for token in (None, "wrong", "s3cret-scrape-and-more", ""):
        response = scrape(settings, "203.0.113.9", token)
        assert_error(response, 401, "unauthorized")
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert_scraped(scrape(settings, "203.0.113.9", "s3cret-scrape"))


def test_metrics_with_an_allow_list_and_a_token_need_both(settings):
    settings.METRICS_TOKEN = "s3cret-scrape"
    settings.METRICS_ALLOWED_IPS = (ipaddress.ip_network("10.0.0.0/8"),)
    assert_scraped(scrape(settings, "10.1.2.3", "s3cret-scrape"))
    assert_error(scrape(settings, "10.1.2.3"), 401, "unauthorized")
    assert_error(scrape(settings, "127.0.0.1", "s3cret-scrape"), 403, "forbidden")


def test_metrics_access_settings_come_from_the_environment(tmp_path):
    probe = (
        "import django\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        "print(settings.METRICS_TOKEN, *settings.METRICS_ALLOWED_IPS)\n"
    )
    out = run_django(probe, tmp_path, METRICS_TOKEN="tok", METRICS_ALLOWED_IPS=" 10.1.2.3/8, ::1 ,")
    assert out.split() == ["tok", "10.0.0.0/8", "::1/128"]
    with pytest.raises(subprocess.CalledProcessError) as refused:
        run_django(probe, tmp_path, METRICS_ALLOWED_IPS="10.0.0.0/40")
    assert "does not appear to be an IPv4 or IPv6 network" in refused.value.stderr
