"""fetch_image against a real HTTP server on 127.0.0.1, and against targets it must refuse.

Every socket connect in this module is checked: only loopback may ever be dialled, so a check
that failed open would fail the test instead of sending traffic anywhere.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from generation.intake import FetchPolicy, IntakeError, fetch_image

PHOTOS = Path(__file__).resolve().parent.parent / "fixtures" / "photos"
JPEG = (PHOTOS / "obama2.jpg").read_bytes()
PNG = (PHOTOS / "coffee.png").read_bytes()
HTML = b"<!doctype html><html><body>not a photo</body></html>"
LIMIT = 100_000  # max_bytes of the oversize tests


def encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, fmt)
    return buffer.getvalue()


SAMPLES = {"jpeg": JPEG, "png": PNG, "gif": encoded("GIF"), "webp": encoded("WEBP")}


class Handler(BaseHTTPRequestHandler):
    """Routes by path; the server records (path, Host header) of every request."""

    server: LocalServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers["Host"]))
        path = self.path.partition("?")[0]
        route = ROUTES.get(path) or ROUTES[path.rsplit("/", 1)[0] + "/"]
        # The client hangs up on purpose on oversize and slow answers.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            route(self, path.rsplit("/", 1)[1])

    def send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", headers.pop("length", str(len(body))))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send(302, b"", "text/plain", Location=location)


def stream(handler: Handler, pieces: Iterator[bytes], chunked: bool = False) -> None:
    """A body without Content-Length: chunked, or ended by closing the connection."""
    handler.send_response(200)
    handler.send_header("Content-Type", "image/jpeg")
    if chunked:
        handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for piece in pieces:
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        handler.wfile.flush()
    if chunked:
        handler.wfile.write(b"0\r\n\r\n")


def trickle(handler: Handler) -> Iterator[bytes]:
    yield JPEG[:100]
    for byte in JPEG[100:200]:
        if handler.server.released.wait(0.1):
            return
        yield bytes([byte])


HEADER_LINE_SECONDS = 0.45


def slow_headers(handler: Handler) -> None:
    """The status line at once, then one header line every 0.45 s, for a minute."""
    handler.send_response(200)
    for n in range(int(60 / HEADER_LINE_SECONDS)):
        handler.send_header(f"X-Slow-{n}", "x")
        handler.flush_headers()
        if handler.server.released.wait(HEADER_LINE_SECONDS):
            return
    handler.end_headers()


ROUTES: dict[str, Callable[[Handler, str], None]] = {
    "/photo.jpg": lambda h, _: h.send(200, JPEG, "image/jpeg"),
    "/sample/": lambda h, kind: h.send(200, SAMPLES[kind], "application/octet-stream"),
    "/photo-as-text": lambda h, _: h.send(200, JPEG, "text/plain"),
    "/page.html": lambda h, _: h.send(200, HTML, "text/html"),
    "/html-as-jpeg": lambda h, _: h.send(200, HTML, "image/jpeg"),
    "/tiny": lambda h, _: h.send(200, JPEG[:2], "image/jpeg"),
    "/missing": lambda h, _: h.send(404, b"not found", "text/plain"),
    "/server-error": lambda h, _: h.send(500, JPEG, "image/jpeg"),
    "/to-photo": lambda h, _: h.redirect("/photo.jpg"),
    "/to-metadata": lambda h, _: h.redirect("http://169.254.169.254/latest/meta-data/"),
    "/to-private": lambda h, _: h.redirect("http://10.0.0.1/photo.jpg"),
    "/to-localhost": lambda h, _: h.redirect(f"http://localhost:{h.server.port}/photo.jpg"),
    "/to-loopback-80": lambda h, _: h.redirect("http://127.0.0.1/photo.jpg"),
    "/to-file": lambda h, _: h.redirect("file:///etc/passwd"),
    "/to-nowhere": lambda h, _: h.send(302, b"", "text/plain"),
    "/loop": lambda h, _: h.redirect("/loop"),
    "/chain/": lambda h, n: (
        h.redirect(f"/chain/{int(n) - 1}") if int(n) else ROUTES["/photo.jpg"](h, "")
    ),
    "/big-declared": lambda h, _: h.send(200, JPEG[:1000], "image/jpeg", length=str(10**9)),
    "/big-streamed": lambda h, _: stream(h, (JPEG[:50_000] for _ in range(4))),
    "/big-chunked": lambda h, _: stream(h, (JPEG[:50_000] for _ in range(4)), chunked=True),
    "/chunked": lambda h, _: stream(
        h, (JPEG[i : i + 10_000] for i in range(0, len(JPEG), 10_000)), True
    ),
    "/truncated": lambda h, _: h.send(200, JPEG[:1000], "image/jpeg", length="2000"),
    "/slow": lambda h, _: h.server.released.wait(5) or h.send(200, JPEG, "image/jpeg"),
    "/trickle": lambda h, _: stream(h, trickle(h)),
    "/slow-headers": lambda h, _: slow_headers(h),
}


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]
        self.requests: list[tuple[str, str]] = []
        self.released = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.released.set()
        self.shutdown()
        self.server_close()


@dataclass
class Local:
    server: LocalServer
    scheme: str = "http"
    policy: FetchPolicy = field(init=False)

    def __post_init__(self) -> None:
        self.policy = FetchPolicy(allowed_hosts=frozenset({self.netloc}))

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.netloc}{path}"

    def fetch(self, path: str, **policy: object) -> bytes:
        return fetch_image(self.url(path), FetchPolicy(**{**vars(self.policy), **policy}))


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Every address dialled in the test; dialling anything but loopback fails the test."""
    dialled: list[tuple] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: tuple) -> None:
        assert ipaddress.ip_address(address[0]).is_loopback, f"dialled {address}"
        dialled.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return dialled


@pytest.fixture
def local() -> Iterator[Local]:
    server = LocalServer()
    server.start()
    yield Local(server)
    server.stop()


@dataclass
class FakeDNS:
    """Names a test resolves itself (name -> addresses), and the lookups made of them."""

    answers: dict[str, list[str]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    dns = FakeDNS()
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[tuple]:
        if host not in dns.answers:
            return real_getaddrinfo(host, port, *args, **kwargs)
        dns.lookups.append(host)
        return [_addrinfo(address, port) for address in dns.answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return dns


def _addrinfo(address: str, port: int) -> tuple:
    if ipaddress.ip_address(address).version == 6:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


def refused(code: str, call: Callable[[], object]) -> IntakeError:
    with pytest.raises(IntakeError) as caught:
        call()
    assert caught.value.code == code, caught.value
    return caught.value


# -- what it fetches --------------------------------------------------------------------------


def test_fetches_a_jpeg(local: Local) -> None:
    assert local.fetch("/photo.jpg") == JPEG
    assert local.server.requests == [("/photo.jpg", local.netloc)]


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_sniffs_each_image_format_whatever_the_content_type(local: Local, kind: str) -> None:
    assert local.fetch(f"/sample/{kind}") == SAMPLES[kind]


def test_a_jpeg_served_as_text_is_still_a_jpeg(local: Local) -> None:
    assert local.fetch("/photo-as-text") == JPEG


def test_a_chunked_body_is_read_whole(local: Local) -> None:
    assert local.fetch("/chunked") == JPEG


def test_follows_a_relative_redirect(local: Local) -> None:
    assert local.fetch("/to-photo") == JPEG
    assert [path for path, _ in local.server.requests] == ["/to-photo", "/photo.jpg"]


def test_follows_up_to_max_redirects(local: Local) -> None:
    assert local.fetch("/chain/3") == JPEG
    refused("fetch_failed", lambda: local.fetch("/chain/4"))
    assert local.fetch("/chain/1", max_redirects=1) == JPEG
    refused("fetch_failed", lambda: local.fetch("/chain/1", max_redirects=0))


def test_an_allowed_bare_host_matches_any_port(local: Local) -> None:
    assert local.fetch("/photo.jpg", allowed_hosts=frozenset({"127.0.0.1"})) == JPEG


def test_connects_to_the_vetted_address_and_resolves_once(
    local: Local, fake_dns: FakeDNS, connections: list
) -> None:
    """No second lookup after the check, so a DNS rebinding answer has nowhere to land."""
    fake_dns.answers["images.example"] = ["127.0.0.1"]
    netloc = f"images.example:{local.server.port}"
    policy = FetchPolicy(allowed_hosts=frozenset({netloc}))
    assert fetch_image(f"http://{netloc}/photo.jpg", policy) == JPEG
    assert fake_dns.lookups == ["images.example"]
    assert connections == [("127.0.0.1", local.server.port)]
    assert local.server.requests == [("/photo.jpg", netloc)]


# -- what it refuses: the URL itself, before any lookup or connection -------------------------


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "example.com/photo.jpg",
        "/relative/photo.jpg",
        "http://",
        "http:///photo.jpg",
        "http://exa mple.com/photo.jpg",
        "http://example.com/photo.jpg\r\nX-Injected: 1",
        "http://example.com:99999/photo.jpg",
        "http://[::1/photo.jpg",
        "http://a..b/photo.jpg",
        "http://example.com/" + "a" * 3000,
    ],
)
def test_refuses_malformed_urls(url: str, connections: list) -> None:
    refused("invalid_url", lambda: fetch_image(url, FetchPolicy()))
    assert connections == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/photo.jpg",
        "gopher://example.com/_photo",
        "data:image/jpeg;base64,/9j/4AAQ",
        "javascript:alert(1)",
        "http://user:pass@example.com/photo.jpg",
        "https://user@example.com/photo.jpg",
        "http://:@example.com/photo.jpg",
    ],
)
def test_refuses_other_schemes_and_credentials(url: str, connections: list) -> None:
    refused("url_not_allowed", lambda: fetch_image(url, FetchPolicy()))
    assert connections == []


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "127.0.0.1",
        "127.1.2.3",
        "2130706433",  # 127.0.0.1 as one number
        "0177.0.0.1",  # ... in octal
        "0.0.0.0",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared (carrier-grade NAT)
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "[::1]",
        "[::]",
        "[fe80::1]",
        "[fc00::1]",
        "[fd12:3456::1]",
        "[fec0::1]",  # site-local
        "[ff02::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[::ffff:10.0.0.1]",
        "[2002:7f00:1::]",  # 6to4 wrapping 127.0.0.1
        "[2002:a9fe:a9fe::]",  # 6to4 wrapping 169.254.169.254
    ],
)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_refuses_non_public_addresses_before_connecting(
    scheme: str, host: str, connections: list
) -> None:
    refused("url_not_allowed", lambda: fetch_image(f"{scheme}://{host}/photo.jpg", FetchPolicy()))
    assert connections == []


def test_refuses_the_local_server_without_an_allow_list(local: Local, connections: list) -> None:
    refused("url_not_allowed", lambda: fetch_image(local.url("/photo.jpg"), FetchPolicy()))
    other_port = frozenset({f"127.0.0.1:{local.server.port + 1}"})
    refused("url_not_allowed", lambda: local.fetch("/photo.jpg", allowed_hosts=other_port))
    assert connections == []
    assert local.server.requests == []


@pytest.mark.parametrize(
    "answer",
    [["10.0.0.5"], ["93.184.216.34", "10.0.0.5"], ["2606:2800::1", "::1"], ["169.254.169.254"]],
)
def test_refuses_a_name_if_any_address_is_not_public(
    answer: list[str], fake_dns: FakeDNS, connections: list
) -> None:
    fake_dns.answers["photos.example"] = answer
    refused("url_not_allowed", lambda: fetch_image("http://photos.example/a.jpg", FetchPolicy()))
    assert connections == []


def test_a_name_that_does_not_resolve_fails(connections: list) -> None:
    refused("fetch_failed", lambda: fetch_image("http://no-such-host.invalid/a.jpg", FetchPolicy()))
    assert connections == []


# -- what it refuses: redirects, each hop checked again ---------------------------------------


@pytest.mark.parametrize(
    "path", ["/to-metadata", "/to-private", "/to-localhost", "/to-loopback-80", "/to-file"]
)
def test_refuses_redirects_to_blocked_targets(local: Local, path: str, connections: list) -> None:
    refused("url_not_allowed", lambda: local.fetch(path))
    assert local.server.requests == [(path, local.netloc)]
    assert connections == [("127.0.0.1", local.server.port)]


def test_a_redirect_loop_fails(local: Local) -> None:
    refused("fetch_failed", lambda: local.fetch("/loop"))
    assert len(local.server.requests) == 4  # the URL and 3 redirects


def test_a_redirect_without_location_fails(local: Local) -> None:
    refused("fetch_failed", lambda: local.fetch("/to-nowhere"))


# -- what it refuses: the answer --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/missing", "/server-error"])
def test_refuses_error_statuses(local: Local, path: str) -> None:
    error = refused("fetch_failed", lambda: local.fetch(path))
    assert path != "/missing" or "404" in error.message


@pytest.mark.parametrize("path", ["/page.html", "/html-as-jpeg", "/tiny"])
def test_refuses_what_is_not_an_image(local: Local, path: str) -> None:
    refused("not_an_image", lambda: local.fetch(path))


def test_refuses_an_oversize_content_length_up_front(local: Local) -> None:
    refused("file_too_large", lambda: local.fetch("/big-declared"))


@pytest.mark.parametrize("path", ["/big-streamed", "/big-chunked"])
def test_stops_an_oversize_body_without_content_length(local: Local, path: str) -> None:
    refused("file_too_large", lambda: local.fetch(path, max_bytes=LIMIT))
    assert local.fetch("/photo.jpg", max_bytes=len(JPEG)) == JPEG
    refused("file_too_large", lambda: local.fetch("/photo.jpg", max_bytes=len(JPEG) - 1))


def test_a_body_cut_short_fails(local: Local) -> None:
    refused("fetch_failed", lambda: local.fetch("/truncated"))


def test_a_server_that_does_not_answer_times_out(local: Local) -> None:
    refused("fetch_timeout", lambda: local.fetch("/slow", timeout=0.3))


def test_a_trickling_body_hits_the_overall_deadline(local: Local) -> None:
    """Each byte comes well within the step timeout; the deadline still ends it."""
    refused("fetch_timeout", lambda: local.fetch("/trickle", timeout=0.5, deadline=0.6))


def test_headers_sent_one_line_at_a_time_hit_the_overall_deadline(local: Local) -> None:
    """Each header line comes well within the step timeout; the deadline covers the
    headers too, so the fetch ends at the deadline, not when the server stops."""
    started = time.monotonic()
    refused("fetch_timeout", lambda: local.fetch("/slow-headers", timeout=5.0, deadline=2.0))
    assert 1.9 <= time.monotonic() - started < 2.5


def test_the_default_deadline_of_10_seconds_covers_slow_headers(local: Local) -> None:
    started = time.monotonic()
    refused("fetch_timeout", lambda: local.fetch("/slow-headers"))
    assert 9.9 <= time.monotonic() - started < 10.5


def test_a_closed_port_fails(local: Local) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = FetchPolicy(allowed_hosts=frozenset({f"127.0.0.1:{port}"}))
    refused("fetch_failed", lambda: fetch_image(f"http://127.0.0.1:{port}/", policy))


# -- https: the certificate is checked for the URL's name, not the pinned address -------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate (and key, in the same file) for images.example."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    path = tmp_path_factory.mktemp("tls") / "images.example.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=images.example",
            "-addext",
            "subjectAltName=DNS:images.example",
            "-keyout",
            str(path),
            "-out",
            str(path),
        ],  # fmt: skip
        check=True,
        capture_output=True,
    )
    return path


@pytest.fixture
def tls_server(certificate: Path) -> Iterator[LocalServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate)
    server = LocalServer(tls=context)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def trust(monkeypatch: pytest.MonkeyPatch, certificate: Path) -> None:
    """Clients trust the test certificate (and nothing else)."""
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda: real(cafile=str(certificate)))


@pytest.mark.usefixtures("trust")
def test_https_checks_the_certificate_against_the_url_name(
    tls_server: LocalServer, fake_dns: FakeDNS
) -> None:
    fake_dns.answers["images.example"] = ["127.0.0.1"]
    fake_dns.answers["other.example"] = ["127.0.0.1"]
    policy = FetchPolicy(allowed_hosts=frozenset({"images.example", "other.example"}))
    port = tls_server.port
    assert fetch_image(f"https://images.example:{port}/photo.jpg", policy) == JPEG
    assert tls_server.requests == [("/photo.jpg", f"images.example:{port}")]
    refused("fetch_failed", lambda: fetch_image(f"https://other.example:{port}/a.jpg", policy))


@pytest.mark.usefixtures("trust")
def test_https_slow_headers_hit_the_overall_deadline(
    tls_server: LocalServer, fake_dns: FakeDNS
) -> None:
    fake_dns.answers["images.example"] = ["127.0.0.1"]
    policy = FetchPolicy(allowed_hosts=frozenset({"images.example"}), deadline=2.0)
    started = time.monotonic()
    url = f"https://images.example:{tls_server.port}/slow-headers"
    refused("fetch_timeout", lambda: fetch_image(url, policy))
    assert 1.9 <= time.monotonic() - started < 2.5


def test_https_a_server_that_never_completes_the_handshake_times_out() -> None:
    """A TCP server that accepts and says nothing: the TLS handshake waits within the deadline."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        policy = FetchPolicy(allowed_hosts=frozenset({f"127.0.0.1:{port}"}), deadline=1.0)
        started = time.monotonic()
        refused("fetch_timeout", lambda: fetch_image(f"https://127.0.0.1:{port}/a.jpg", policy))
        assert time.monotonic() - started < 1.5


def test_https_refuses_an_untrusted_certificate(tls_server: LocalServer, fake_dns: FakeDNS) -> None:
    fake_dns.answers["images.example"] = ["127.0.0.1"]
    policy = FetchPolicy(allowed_hosts=frozenset({"images.example"}))
    url = f"https://images.example:{tls_server.port}/photo.jpg"
    refused("fetch_failed", lambda: fetch_image(url, policy))
    assert tls_server.requests == []
