"""Fetching a user-supplied image URL on the server without opening an SSRF hole.

Each hop (the URL, then every redirect) is parsed and its host resolved here; the hop is
refused when any resolved address is not public. The connection then goes to the vetted
address itself, so the HTTP library never resolves the name again and a DNS rebinding answer
cannot slip in between the check and the connection.
"""

from __future__ import annotations

import http.client
import ipaddress
import select
import socket
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from generation.intake.errors import IntakeError

MiB = 1024 * 1024
MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
REQUEST_HEADERS = {
    "User-Agent": "avatar-service-intake/1",
    "Accept": "image/jpeg, image/png, image/webp, image/gif",
    "Connection": "close",
}
CHUNK_BYTES = 64 * 1024
SNIFF_BYTES = 12
NOT_PUBLIC = (
    "is_private",
    "is_loopback",
    "is_link_local",
    "is_multicast",
    "is_reserved",
    "is_unspecified",
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# getaddrinfo has no timeout of its own: it runs here so that the deadline still holds. A
# lookup given up on keeps its thread until the system resolver ends it, so there are enough
# for one account's slow names not to hold every lookup (the API allows an account 4 fetches).
_resolver = ThreadPoolExecutor(max_workers=16, thread_name_prefix="intake-dns")


@dataclass(frozen=True)
class FetchPolicy:
    """The limits of one fetch.

    ``timeout`` bounds each network step (connect, each read); ``deadline`` bounds the whole
    fetch as one total: resolving, connecting, the TLS handshake, the status line and headers,
    the body, and every redirect. ``allowed_hosts`` names hosts that may resolve to non-public
    addresses (``"name"`` for any port, ``"name:port"`` or ``"[v6]:port"`` for one), such as a
    test server on 127.0.0.1; every other host must still resolve to public addresses only.
    Production leaves it None.
    """

    max_bytes: int = 15 * MiB
    timeout: float = 5.0
    deadline: float = 10.0
    max_redirects: int = 3
    allowed_hosts: frozenset[str] | None = None


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # lower-case ASCII name, or an IP literal without brackets
    port: int
    path: str  # path and query, as sent in the request line

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class _Clock:
    """The fetch's overall deadline, turned into a timeout for each network step."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._step = policy.timeout
        self._end = time.monotonic() + policy.deadline

    def timeout(self) -> float:
        left = self._end - time.monotonic()
        if left <= 0:
            raise IntakeError("fetch_timeout", "the image took too long to download")
        return min(self._step, left)

    def step_timeout(self) -> float:
        """timeout() for a step inside a network call: a TimeoutError, which the
        call's error handling turns into fetch_timeout."""
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimeoutError("the fetch's deadline has passed")
        return min(self._step, left)


def fetch_image(url: str, policy: FetchPolicy) -> bytes:
    """Download the image at ``url`` and return its bytes.

    Raises IntakeError (invalid_url, url_not_allowed, fetch_failed, fetch_timeout,
    file_too_large, not_an_image) for anything it will not or cannot fetch.
    """
    clock = _Clock(policy)
    for _hop in range(policy.max_redirects + 1):
        target = _parse(url)
        addresses = _vetted_addresses(target, policy, clock)
        result = _fetch_once(target, addresses, policy, clock)
        if isinstance(result, bytes):
            return result
        url = urljoin(url, result)
    raise IntakeError("fetch_failed", f"more than {policy.max_redirects} redirects")


def _parse(url: str) -> _Target:
    if not url or len(url) > MAX_URL_LENGTH:
        raise IntakeError("invalid_url", "the URL is empty or too long")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise IntakeError("invalid_url", "the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise IntakeError("invalid_url", f"the URL cannot be parsed: {exc}") from exc
    if not parts.scheme:
        raise IntakeError("invalid_url", "the URL is not absolute")
    if parts.scheme not in DEFAULT_PORTS:
        raise IntakeError("url_not_allowed", "only http and https URLs can be fetched")
    if "@" in parts.netloc:
        raise IntakeError("url_not_allowed", "URLs with credentials are not allowed")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(
        parts.scheme,
        _ascii_host(parts.hostname),
        DEFAULT_PORTS[parts.scheme] if port is None else port,
        path,
    )


def _ascii_host(hostname: str | None) -> str:
    if not hostname:
        raise IntakeError("invalid_url", "the URL has no host")
    try:
        return hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise IntakeError("invalid_url", "the URL's host name is not valid") from exc


def _vetted_addresses(target: _Target, policy: FetchPolicy, clock: _Clock) -> list[str]:
    """Resolve the host once; refuse it if ANY address is not public (unless allowed)."""
    future = _resolver.submit(socket.getaddrinfo, target.host, target.port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=clock.timeout())
    except TimeoutError as exc:
        raise IntakeError("fetch_timeout", f"resolving {target.host} took too long") from exc
    except OSError as exc:
        raise IntakeError("fetch_failed", f"{target.host} cannot be resolved") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not _is_allowed_host(target, policy.allowed_hosts):
        for address in addresses:
            if not _is_public(ipaddress.ip_address(address)):
                raise IntakeError("url_not_allowed", f"{target.host} is not a public address")
    return addresses


def _is_allowed_host(target: _Target, allowed_hosts: frozenset[str] | None) -> bool:
    allowed = {entry.lower() for entry in allowed_hosts or ()}
    return target.host in allowed or target.netloc in allowed


def _is_public(ip: IPAddress) -> bool:
    if any(getattr(ip, prop) for prop in NOT_PUBLIC) or not ip.is_global:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour
        return embedded is None or _is_public(embedded)
    return True


class _DeadlineSocket(socket.socket):
    """A socket whose every receive waits no longer than the fetch has left.

    http.client reads the status line and each header line with its own receive, so a
    per-step timeout alone let a server sending one header line every 0.45 s hold a fetch
    for as long as it liked; here each receive is bounded by the deadline too.
    """

    clock: _Clock

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        self.settimeout(self.clock.step_timeout())
        return super().recv_into(buffer, nbytes, flags)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self.settimeout(self.clock.step_timeout())
        return super().recv(bufsize, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    """The TLS twin of _DeadlineSocket (http.client reads through recv_into)."""

    clock: _Clock

    def recv_into(self, buffer, nbytes: int | None = None, flags: int = 0) -> int:
        self.settimeout(self.clock.step_timeout())
        return super().recv_into(buffer, nbytes, flags)

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        self.settimeout(self.clock.step_timeout())
        return super().recv(buflen, flags)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Talks to ``host`` (for the Host header) at vetted addresses, never resolving it."""

    def __init__(self, host: str, port: int, addresses: list[str], clock: _Clock) -> None:
        super().__init__(host, port)
        self.addresses = addresses
        self.clock = clock

    def connect(self) -> None:
        self.sock = _connect_any(self.addresses, self.port, self.clock)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The TLS twin: SNI and the certificate check are for ``host``, not the address."""

    def __init__(self, host: str, port: int, addresses: list[str], clock: _Clock) -> None:
        self.tls = ssl.create_default_context()
        self.tls.sslsocket_class = _DeadlineSSLSocket
        super().__init__(host, port, context=self.tls)
        self.addresses = addresses
        self.clock = clock

    def connect(self) -> None:
        sock = _connect_any(self.addresses, self.port, self.clock)
        tls_sock = self.tls.wrap_socket(
            sock, server_hostname=self.host, do_handshake_on_connect=False
        )
        tls_sock.clock = self.clock
        _handshake(tls_sock, self.clock)
        self.sock = tls_sock


def _handshake(sock: ssl.SSLSocket, clock: _Clock) -> None:
    """The TLS handshake within the deadline: a blocking handshake waits a full step
    timeout for each piece a slow server sends."""
    sock.setblocking(False)
    try:
        while True:
            try:
                sock.do_handshake()
                return
            except ssl.SSLWantReadError:
                ready = select.select([sock], [], [], clock.step_timeout())[0]
            except ssl.SSLWantWriteError:
                ready = select.select([], [sock], [], clock.step_timeout())[1]
            if not ready:
                raise TimeoutError("the TLS handshake took too long")
    finally:
        sock.settimeout(clock.step_timeout())


def _connect_any(addresses: list[str], port: int, clock: _Clock) -> _DeadlineSocket:
    error: OSError | None = None
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = _DeadlineSocket(family, socket.SOCK_STREAM)
        sock.clock = clock
        try:
            sock.settimeout(clock.timeout())
            sock.connect((address, port))
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError("no address to connect to")


@contextmanager
def _network_errors(target: _Target) -> Iterator[None]:
    try:
        yield
    except TimeoutError as exc:
        raise IntakeError("fetch_timeout", f"{target.netloc} did not answer in time") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise IntakeError("fetch_failed", f"fetching from {target.netloc} failed: {exc}") from exc


def _fetch_once(
    target: _Target, addresses: list[str], policy: FetchPolicy, clock: _Clock
) -> str | bytes:
    """One request: a redirect's Location (str), or the image bytes of a 2xx answer."""
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target.host, target.port, addresses, clock)
    try:
        with _network_errors(target):
            connection.connect()
            connection.sock.settimeout(clock.timeout())
            connection.request("GET", target.path, headers=REQUEST_HEADERS)
            with connection.getresponse() as response:
                return _answer(response, policy)
    finally:
        connection.close()


def _answer(response: http.client.HTTPResponse, policy: FetchPolicy) -> str | bytes:
    if response.status in REDIRECT_STATUSES:
        location = response.getheader("Location")
        if not location:
            raise IntakeError("fetch_failed", f"HTTP {response.status} without a Location")
        return location
    if not 200 <= response.status < 300:
        raise IntakeError("fetch_failed", f"the server answered HTTP {response.status}")
    if response.length is not None and response.length > policy.max_bytes:
        raise IntakeError("file_too_large", f"the image is over {policy.max_bytes} bytes")
    return _read_image(response, policy)


def _read_image(response: http.client.HTTPResponse, policy: FetchPolicy) -> bytes:
    """Stream the body, stopping past ``max_bytes`` or as soon as it is clearly no image.

    ``read1`` returns after one socket read, each bounded by the deadline (_DeadlineSocket),
    so a server trickling bytes cannot hold the fetch open past it.
    """
    body = bytearray()
    while True:
        chunk = response.read1(CHUNK_BYTES)
        if not chunk:
            break
        body += chunk
        if len(body) > policy.max_bytes:
            raise IntakeError("file_too_large", f"the image is over {policy.max_bytes} bytes")
        if len(body) >= SNIFF_BYTES:
            _require_image(body)
    if response.length:
        raise IntakeError("fetch_failed", "the connection closed before the whole image came")
    _require_image(body)
    return bytes(body)


# The first bytes of the formats LoadPhoto decodes (JPEG, PNG, GIF, BMP, TIFF; WebP below):
# the same photos are taken by URL as in base64, whose header check decodes the rest.
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00",
               b"MM\x00*")  # fmt: skip


def _require_image(body: bytes | bytearray) -> None:
    """Judge by the first bytes whatever the Content-Type."""
    head = bytes(body[:SNIFF_BYTES])
    if head.startswith(_SIGNATURES):
        return
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return
    raise IntakeError(
        "not_an_image", "the URL does not point to a JPEG, PNG, GIF, WebP, BMP or TIFF image"
    )
