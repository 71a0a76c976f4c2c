"""A real S3-compatible server for tests: moto's server over HTTP on loopback.

The server is moto's WSGI app (the one ``moto_server`` and ``ThreadedMotoServer`` serve) on
werkzeug's threaded HTTP server, in a thread of the test process; everything reaches it over
TCP at ``http://127.0.0.1:<port>``.

Use it from a test module (or a conftest) with::

    from tests.s3 import s3_server, s3_storage  # noqa: F401  (pytest fixtures)

- ``s3_server`` (session): moto's server on ``127.0.0.1`` at a free port, answering before the
  first test and shut down after the last. It fails the test (never skips) if it cannot start:
  moto is a pinned dev dependency.
- ``s3_storage`` (function): a fresh bucket, and Django's ``default_storage`` pointed at
  ``storages.backends.s3.S3Storage`` on it (SigV4 signed URLs, 300 s; the OPTIONS include
  ``signature_version="s3v4"``, which avatarsite/settings.py should set too). Returns an
  ``S3Bucket`` with the bucket's name, a boto3 client and ``object_keys(prefix)``.

moto does not check the signatures of presigned (query-string) URLs: it serves any URL that
carries one. So the server puts ``SigV4QueryVerifier`` in front of moto: a request whose query
has ``X-Amz-Signature`` is checked against AWS Signature Version 4 (computed here from the
specification, independently of botocore) and its expiry, and refused with 403 when either is
wrong, as S3 does; a Signature Version 2 presigned URL (``AWSAccessKeyId=...&Signature=...``)
is refused with 400, as by S3 regions and buckets that only take SigV4. Requests signed in the
``Authorization`` header (boto3's own calls) go to moto unchanged.
"""

import hashlib
import hmac
import logging
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import pytest

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
REGION = "us-east-1"
URL_EXPIRE = 300
START_TIMEOUT = 15.0

logger = logging.getLogger(__name__)


def _error(status: str, code: str, message: str, start_response) -> list[bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    start_response(
        status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _uri_encode(value: str, safe: str = "-_.~") -> str:
    return quote(value, safe=safe)


class SigV4QueryVerifier:
    """WSGI middleware: verify AWS SigV4 presigned URLs, then hand the request to ``app``."""

    def __init__(self, app, secrets: dict[str, str]):
        self.app = app
        self.secrets = secrets

    def __call__(self, environ: dict[str, Any], start_response):
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
        raw_path, _, raw_query = raw_uri.partition("?")
        params = parse_qsl(raw_query, keep_blank_values=True)
        names = {name for name, _ in params}
        if "Signature" in names and "AWSAccessKeyId" in names:
            # Signature Version 2 query auth: refused, as by every S3 region opened since 2014
            # and every bucket created since mid-2020.
            return _error(
                "400 Bad Request",
                "InvalidRequest",
                "The authorization mechanism you have provided is not supported. "
                "Please use AWS4-HMAC-SHA256.",
                start_response,
            )
        if "X-Amz-Signature" not in names:
            return self.app(environ, start_response)
        problem = self.problem(environ, raw_path, params)
        if problem is not None:
            code, message = problem
            return _error("403 Forbidden", code, message, start_response)
        return self.app(environ, start_response)

    def problem(
        self, environ: dict[str, Any], raw_path: str, params: list[tuple[str, str]]
    ) -> tuple[str, str] | None:
        query = dict(params)
        try:
            algorithm = query["X-Amz-Algorithm"]
            credential = query["X-Amz-Credential"]
            amz_date = query["X-Amz-Date"]
            expires = int(query["X-Amz-Expires"])
            signed_headers = query["X-Amz-SignedHeaders"]
            signature = query["X-Amz-Signature"]
        except (KeyError, ValueError):
            return "AuthorizationQueryParametersError", "Incomplete SigV4 query parameters."
        if algorithm != "AWS4-HMAC-SHA256":
            return "AuthorizationQueryParametersError", "Only AWS4-HMAC-SHA256 is supported."
        access_key, _, scope = credential.partition("/")
        secret = self.secrets.get(access_key)
        if secret is None:
            return "InvalidAccessKeyId", "The access key does not exist."
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return "AuthorizationQueryParametersError", "Bad X-Amz-Date."
        if not 1 <= expires <= 604800:
            return "AuthorizationQueryParametersError", "Bad X-Amz-Expires."
        if datetime.now(UTC) > signed_at + timedelta(seconds=expires):
            return "AccessDenied", "Request has expired"

        headers = []
        for name in signed_headers.split(";"):
            if name == "host":
                value = environ.get("HTTP_HOST", "")
            else:
                value = environ.get("HTTP_" + name.upper().replace("-", "_"), "")
            headers.append(f"{name}:{' '.join(value.split())}\n")
        canonical_query = "&".join(
            f"{_uri_encode(k)}={_uri_encode(v)}"
            for k, v in sorted(params)
            if k != "X-Amz-Signature"
        )
        canonical_request = "\n".join(
            [
                environ["REQUEST_METHOD"],
                _uri_encode(unquote(raw_path), safe="/-_.~"),
                canonical_query,
                "".join(headers),
                signed_headers,
                "UNSIGNED-PAYLOAD",
            ]
        )
        string_to_sign = "\n".join(
            [
                algorithm,
                amz_date,
                scope,
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        date, region, service, terminal = (scope.split("/") + ["", "", "", ""])[:4]
        key = _hmac(("AWS4" + secret).encode(), date)
        for part in (region, service, terminal):
            key = _hmac(key, part)
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        return None


@dataclass
class S3Server:
    """A running server: where it answers and the credentials it accepts."""

    host: str
    port: int
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    _server: Any = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self):
        """A boto3 S3 client for this server (explicit credentials, no proxy, no config files)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        ).client(
            "s3",
            endpoint_url=self.endpoint_url,
            config=Config(proxies={}, retries={"max_attempts": 1}),
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """GET ``url`` with urllib, never through a proxy; loopback only."""
    assert url.startswith(("http://127.0.0.1:", "http://localhost:")), url
    try:
        with _no_proxy_opener().open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def start_s3_server(host: str = "127.0.0.1") -> S3Server:
    """Start moto's server (behind the presigned-URL verifier) on a free port and wait for it."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:
            pass

    app = SigV4QueryVerifier(
        DomainDispatcherApplication(create_backend_app), {ACCESS_KEY: SECRET_KEY}
    )
    # Port 0: the kernel picks a free port; make_server raises at once if it cannot bind.
    try:
        server = make_server(host, 0, app, threaded=True, request_handler=QuietHandler)
    except SystemExit as error:  # werkzeug prints the bind error and exits
        raise RuntimeError(f"could not listen on {host}: exit {error.code}") from None
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="moto-s3", daemon=True)
    thread.start()
    running = S3Server(host=host, port=port, _server=server, _thread=thread)

    deadline = datetime.now(UTC) + timedelta(seconds=START_TIMEOUT)
    last_error: Exception | None = None
    while datetime.now(UTC) < deadline:
        try:
            with _no_proxy_opener().open(f"{running.endpoint_url}/moto-api/", timeout=2) as r:
                if r.status == 200:
                    return running
        except OSError as error:
            last_error = error
        threading.Event().wait(0.05)
    running.stop()
    raise RuntimeError(f"moto's S3 server did not answer on {running.endpoint_url}: {last_error}")


@dataclass
class S3Bucket:
    """A test's bucket on the server, with the client that made it."""

    server: S3Server
    name: str
    client: Any

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    def object_keys(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix``, sorted."""
        found: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.name, Prefix=prefix):
            found.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(found)

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def empty_and_delete(self) -> None:
        keys = self.object_keys()
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            self.client.delete_objects(
                Bucket=self.name, Delete={"Objects": [{"Key": key} for key in chunk]}
            )
        self.client.delete_bucket(Bucket=self.name)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1 (a free port) for the whole session."""
    try:
        running = start_s3_server()
    except Exception as error:  # any failure must fail, not skip
        pytest.fail(f"Could not start moto's S3 server (a pinned dev dependency): {error!r}")
    yield running
    running.stop()


@pytest.fixture
def s3_storage(settings, s3_server: S3Server, monkeypatch, tmp_path) -> Iterator[S3Bucket]:
    """A fresh bucket, and Django's default storage pointed at S3Storage on it."""
    from django.core.files.storage import default_storage, storages
    from django.utils.functional import empty
    from storages.backends.s3 import S3Storage

    # Hermetic botocore: dummy credentials, no profile or config files, no proxy for loopback.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config-absent"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials-absent"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")

    client = s3_server.client()
    bucket = S3Bucket(server=s3_server, name=f"test-{uuid.uuid4().hex[:20]}", client=client)
    client.create_bucket(Bucket=bucket.name)

    # Assigning the whole dict sends setting_changed; Django's storages_changed receiver
    # (django.test.signals) then drops the cached backends and resets default_storage.
    # Checked here (default_storage is set up first, so a missed reset would show), and
    # done by hand should a Django version ever stop doing it.
    default_storage._setup()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket.name,
                "endpoint_url": s3_server.endpoint_url,
                "access_key": s3_server.access_key,
                "secret_key": s3_server.secret_key,
                "region_name": s3_server.region,
                "querystring_auth": True,
                "querystring_expire": URL_EXPIRE,
                "file_overwrite": True,
                # botocore still presigns S3 URLs with SigV2 unless told otherwise.
                "signature_version": "s3v4",
            },
        },
    }
    if default_storage._wrapped is not empty:  # pragma: no cover - Django resets it today
        logger.warning("setting_changed did not reset default_storage; resetting it here")
        storages._backends = None
        storages._storages = {}
        storages.__dict__.pop("backends", None)
        default_storage._wrapped = empty
    assert isinstance(storages["default"], S3Storage)
    assert default_storage.bucket_name == bucket.name
    assert default_storage._wrapped is storages["default"]

    yield bucket
    try:
        bucket.empty_and_delete()
    except Exception:  # cleanup of a throwaway bucket must not mask the test
        logger.exception("Could not delete test bucket %s", bucket.name)
