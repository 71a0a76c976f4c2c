"""Measuring code behind `manage.py bench_identity`: identity avatar distinctness,
render speed and served latency. It measures and returns figures; the command
prints them.

Distinctness: each id's avatar is drawn at 64 px, box-filtered to 16x16 RGB
(values in [0, 1]) and compared with every other id's; a pair is "close" when
the RMS colour distance sqrt(mean((a - b) ** 2)) is under RMS_THRESHOLD.
"""

import heapq
import http.client
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from dicebear import Avatar, Style
from PIL import Image

from generation.identity import catalog, dicebear
from generation.identity.raster import rasterise
from generation.identity.render import render_svg
from generation.identity.seed import derive_seed

# A fixed secret, so runs are comparable with each other (not the deployment's).
BENCH_SECRET = "bench-identity-secret"
THUMB_RENDER_SIZE = 64
THUMB_SIZE = 16
RMS_THRESHOLD = 0.02
DISTINCT_TARGET_PER_MILLION = 1.0
EXEMPT_STYLES = frozenset({"initials"})  # letters, not a pattern: collisions expected
SVG_TARGET_PER_S = 10_000.0
PNG_TARGET_PER_S = 500.0
PNG_SPEED_SIZE = 256
LATENCY_P50_TARGET_MS = 5.0
CORE_PARITY = 0.95  # timing noise between two back-to-back runs of the same call
PNG_THREADS = 2  # this machine's cores: what one server process can use
SERVED_PATH = "/v1/avatars/people/alice.png?size=128"
# The own style, a DiceBear style keyed, and DiceBear's compatible route: all cached.
SERVED_PATHS = (
    SERVED_PATH,
    "/v1/avatars/dicebear-lorelei/alice.png?size=128",
    "/10.x/lorelei/png?seed=alice&size=128",
)

BASE_DIR = Path(__file__).resolve().parent.parent


def user_ids(count: int, start: int = 0) -> list[str]:
    return [f"user-{i}" for i in range(start, start + count)]


@dataclass(frozen=True)
class BenchStyle:
    """A style as the service draws it for a user id (keyed seed): the own
    renderer, or dicebear-core for DiceBear's styles (slug `dicebear-NAME`)."""

    slug: str
    draw: Callable[[str], str]  # user id -> SVG
    core: Callable[[str], str] | None = None  # dicebear-core alone, for comparison

    @property
    def source(self) -> str:
        return "dicebear" if self.core else "own"


def all_style_slugs() -> list[str]:
    own = catalog.shipped_style_slugs()
    return own + [dicebear.SLUG_PREFIX + name for name in dicebear.shipped_names()]


def bench_style(slug: str) -> BenchStyle:
    if not slug.startswith(dicebear.SLUG_PREFIX):
        style = catalog.shipped_style(slug)
        return BenchStyle(
            slug,
            lambda i: render_svg(style, derive_seed(i, BENCH_SECRET), text=i),
        )
    definition = dicebear.shipped_definition(slug.removeprefix(dicebear.SLUG_PREFIX))
    ours = dicebear.DiceBearStyle(definition, published=True)
    reference = Style(definition)

    def keyed(identifier: str) -> dict:
        return {"seed": derive_seed(identifier, BENCH_SECRET).hex()}

    return BenchStyle(
        slug,
        lambda i: ours.render(keyed(i)),
        lambda i: Avatar(reference, keyed(i)).to_string(),
    )


def _flatten(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, image).convert("RGB")


def thumbnail(svg: str) -> np.ndarray:
    """64 px raster, box-filtered to 16x16 RGB, flattened to floats in [0, 1]."""
    image = _flatten(rasterise(svg, THUMB_RENDER_SIZE))
    small = image.resize((THUMB_SIZE, THUMB_SIZE), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64).reshape(-1) / 255.0


def thumbnails(style: BenchStyle, ids: list[str]) -> np.ndarray:
    out = np.empty((len(ids), THUMB_SIZE * THUMB_SIZE * 3), dtype=np.float64)
    for row, identifier in enumerate(ids):
        out[row] = thumbnail(style.draw(identifier))
    return out


def close_pairs(
    vectors: np.ndarray, threshold: float = RMS_THRESHOLD, block: int = 1000, keep: int = 5
) -> tuple[int, list[tuple[float, int, int]]]:
    """Pairs (i < j) of rows whose RMS distance is under `threshold`.

    Returns the count and the `keep` closest pairs overall as (rms, i, j),
    closest first. Squared distances come from |a|^2 + |b|^2 - 2ab, a block
    of rows at a time, each row against itself and the rows after it.
    """
    x = np.ascontiguousarray(vectors, dtype=np.float64)
    n, dim = x.shape
    limit = threshold * threshold * dim
    norms = np.einsum("ij,ij->i", x, x)
    count = 0
    best: list[tuple[float, int, int]] = []  # max-heap of the closest, by -d2
    for start in range(0, n, block):
        stop = min(start + block, n)
        d2 = norms[start:stop, None] + norms[None, start:] - 2.0 * (x[start:stop] @ x[start:].T)
        rows = np.arange(stop - start)[:, None]
        cols = np.arange(n - start)[None, :]
        d2[cols <= rows] = np.inf  # keep j > i only
        np.maximum(d2, 0.0, out=d2)
        count += int(np.count_nonzero(d2 < limit))
        flat = d2.reshape(-1)
        take = min(keep, flat.size)
        if take == 0:
            continue
        for index in np.argpartition(flat, take - 1)[:take]:
            value = float(flat[index])
            if not np.isfinite(value):
                continue
            r, c = divmod(int(index), n - start)
            item = (-value, start + r, start + c)
            if len(best) < keep:
                heapq.heappush(best, item)
            elif item > best[0]:
                heapq.heapreplace(best, item)
    closest = sorted((float(np.sqrt(-neg / dim)), i, j) for neg, i, j in best)
    return count, closest


@dataclass
class ClosePair:
    a: str
    b: str
    rms: float


@dataclass
class Distinctness:
    style: str
    ids: int
    close: int
    closest: list[ClosePair]
    seconds: float

    @property
    def pairs(self) -> int:
        return self.ids * (self.ids - 1) // 2

    @property
    def per_million(self) -> float:
        return self.close / self.pairs * 1e6 if self.pairs else 0.0

    @property
    def allowed(self) -> int:
        """The most close pairs within the target for this many ids, rounded
        (10,000 ids: 49,995,000 pairs, 50 allowed)."""
        return round(self.pairs * DISTINCT_TARGET_PER_MILLION / 1e6)

    @property
    def exempt(self) -> bool:
        """Initials (letters collide by design) and DiceBear's styles (their
        figure is reported side by side; it is not this project's target)."""
        return self.style in EXEMPT_STYLES or self.style.startswith(dicebear.SLUG_PREFIX)

    @property
    def ok(self) -> bool:
        return self.close <= self.allowed


def distinctness(style_slug: str, style: BenchStyle, count: int, keep: int = 5):
    started = time.perf_counter()
    ids = user_ids(count)
    close, closest = close_pairs(thumbnails(style, ids), keep=keep)
    return Distinctness(
        style=style_slug,
        ids=count,
        close=close,
        closest=[ClosePair(ids[i], ids[j], rms) for rms, i, j in closest],
        seconds=time.perf_counter() - started,
    )


def pair_image(style: BenchStyle, pair: ClosePair, size: int = 128) -> Image.Image:
    """The two avatars of a pair side by side, for looking at."""
    sheet = Image.new("RGB", (size * 2 + 8, size), (255, 255, 255))
    for slot, identifier in enumerate((pair.a, pair.b)):
        sheet.paste(_flatten(rasterise(style.draw(identifier), size)), (slot * (size + 8), 0))
    return sheet


@dataclass
class Speed:
    style: str
    svg_per_s: float
    png_per_s: float
    png_threads_per_s: float
    core_svg_per_s: float | None = None  # dicebear-core alone (DiceBear styles)

    @property
    def raster_ms(self) -> float:
        """Mean rasterise time per PNG: what a PNG costs beyond its SVG."""
        return 1000.0 / self.png_per_s - 1000.0 / self.svg_per_s

    @property
    def svg_ok(self) -> bool:
        """Own styles: the SVG target; DiceBear's: as fast as dicebear-core alone
        (within the noise of two timed runs)."""
        if self.core_svg_per_s is not None:
            return self.svg_per_s >= CORE_PARITY * self.core_svg_per_s
        return self.svg_per_s >= SVG_TARGET_PER_S

    @property
    def png_ok(self) -> bool:
        """Judged on one process using both cores: the rasteriser runs without the GIL."""
        return self.png_threads_per_s >= PNG_TARGET_PER_S


def _rate(work, ids: list[str], warmup: int) -> float:
    for identifier in ids[:warmup]:
        work(identifier)
    started = time.perf_counter()
    for identifier in ids:
        work(identifier)
    return len(ids) / (time.perf_counter() - started)


def _paired_rates(first, second, ids: list[str], block: int = 50) -> tuple[float, float]:
    """Rates of two ways to do the same work, timed in alternating blocks so
    that load from elsewhere on the machine falls on both alike."""
    for identifier in ids[:block]:
        first(identifier)
        second(identifier)
    spent = [0.0, 0.0]
    for start in range(0, len(ids), block):
        chunk = ids[start : start + block]
        for slot, work in enumerate((first, second)):
            started = time.perf_counter()
            for identifier in chunk:
                work(identifier)
            spent[slot] += time.perf_counter() - started
    return len(ids) / spent[0], len(ids) / spent[1]


def speed(style_slug: str, style: BenchStyle, svgs: int, pngs: int) -> Speed:
    """SVGs/s (seed derivation + render) and PNGs/s (+ rasterise at 256 px).

    Ids start past the distinctness range's warm-up; a short warm-up runs first.
    """
    ids = user_ids(max(svgs, pngs), start=1_000_000)
    if style.core is None:
        svg_rate, core_rate = _rate(style.draw, ids[:svgs], warmup=min(200, svgs)), None
    else:
        svg_rate, core_rate = _paired_rates(style.draw, style.core, ids[:svgs])

    def png(identifier: str) -> bytes:
        return rasterise(style.draw(identifier), PNG_SPEED_SIZE)

    png_rate = _rate(png, ids[:pngs], warmup=min(20, pngs))
    with ThreadPoolExecutor(PNG_THREADS) as pool:
        list(pool.map(png, ids[:20]))
        started = time.perf_counter()
        list(pool.map(png, ids[:pngs]))
        threaded_rate = pngs / (time.perf_counter() - started)
    return Speed(style_slug, svg_rate, png_rate, threaded_rate, core_rate)


@dataclass
class Latency:
    label: str
    statuses: dict[int, int]
    samples_ms: list[float] = field(repr=False)
    connections: int
    expected: int = 200

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.samples_ms, q))

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p95(self) -> float:
        return self.percentile(95)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def ok(self) -> bool:
        """Under the p50 target, and every answer the status it should be."""
        return self.p50 < LATENCY_P50_TARGET_MS and set(self.statuses) == {self.expected}


class ServerError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(var_dir: Path) -> dict[str, str]:
    """The environment for a throwaway server: its own var folder and SQLite db,
    the in-memory cache, DEBUG off."""
    env = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "STATIC_ROOT"):
        env.pop(name, None)
    env.update(
        AVATAR_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="avatarsite.settings",
        DJANGO_DEBUG="0",
        PYTHONUNBUFFERED="1",
    )
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise ServerError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-2000:]}")


def _log_tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


@contextmanager
def daphne_server(startup_timeout: float = 60.0) -> Iterator[int]:
    """A daphne on 127.0.0.1 with a fresh var folder (migrated, defaults loaded).

    Yields the port; the server is stopped on the way out, error or not.
    """
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as folder:
        var_dir = Path(folder)
        env = _server_env(var_dir)
        _manage(env, "migrate", "--noinput")
        _manage(env, "load_identity_defaults")
        port = _free_port()
        log_path = var_dir / "daphne.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "avatarsite.serve", "-b", "127.0.0.1", "-p", str(port)]
                + ["avatarsite.asgi:application"],
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_listening(process, port, startup_timeout, log_path)
                yield port
            finally:
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(timeout=10)


def _wait_listening(process: subprocess.Popen, port: int, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"daphne exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise ServerError(f"daphne did not listen on port {port} in {timeout:g}s:\n{_log_tail(log)}")


def _get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]):
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    return response, body


def time_gets(
    port: int,
    path: str,
    count: int,
    headers: dict[str, str] | None = None,
    label: str = "",
    expected: int = 200,
) -> Latency:
    """`count` sequential GETs over one keep-alive connection (reopened only if
    the server closes it); client-side wall time per request."""
    headers = headers or {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    statuses: dict[int, int] = {}
    samples: list[float] = []
    connections = 0
    try:
        for _ in range(count):
            if conn.sock is None:
                conn.connect()
                connections += 1
            started = time.perf_counter()
            response, _ = _get(conn, path, headers)
            samples.append((time.perf_counter() - started) * 1000.0)
            statuses[response.status] = statuses.get(response.status, 0) + 1
            if response.will_close:
                conn.close()
    finally:
        conn.close()
    return Latency(label or path, statuses, samples, connections, expected)


@dataclass
class Served:
    path: str
    port: int
    warm_status: int
    etag: str
    results: list[Latency]


def served_latency(requests: int, path: str = SERVED_PATH) -> Served:
    """Cached-path latency (200) and revalidation latency (304) through daphne."""
    with daphne_server() as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            response, body = _get(conn, path, {})  # warm: renders and caches
        finally:
            conn.close()
        etag = response.getheader("ETag") or ""
        if response.status != 200 or not etag:
            raise ServerError(
                f"warm-up GET {path} gave {response.status} (ETag {etag!r}): {body[:300]!r}"
            )
        cached = time_gets(port, path, requests, label="GET 200 (cached)")
        revalidate = time_gets(
            port, path, requests, {"If-None-Match": etag}, "GET 304 (If-None-Match)", 304
        )
    return Served(path, port, response.status, etag, [cached, revalidate])
