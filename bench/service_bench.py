"""The generation service as deployed: PostgreSQL + Redis + daphne + N runworkers.

`ServiceStack` starts the real thing from scratch on loopback: a fresh
PostgreSQL database (migrated, dropped at the end), a flushed Redis database
index, an account with credits (`manage.py create_account`), one daphne and
any number of `manage.py runworker avatar-jobs` processes, all sharing one
AVATAR_VAR_DIR. tests/test_worker_processes.py uses it to kill a worker in
the middle of a run; `manage.py bench_service` uses it to measure

- sustained avatars per minute with 1 and with 2 runworker processes (jobs
  submitted at once with GENERATE_WAIT_SECONDS=0; the rate is taken from the
  jobs' finished_at after a warm-up), and
- the HTTP overhead of a waiting generate call: client wall time minus the
  pipeline's own `latency_ms`, sequential calls with GENERATE_WAIT_SECONDS=30.

Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
PHOTOS = BASE_DIR / "tests" / "fixtures" / "photos"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
OVERHEAD_P50_TARGET_MS = 30.0
# Redis db indexes a stack may take (0 is the other tests'); each stack locks
# its own so that concurrent runs do not flush or wake each other.
REDIS_DBS = tuple(range(8, 16))
REDIS_LOCK_KEY = "avatar-service-stack-lock"
WORKER_READY = "Running worker for channels"

# Clean portraits x styles that pass every check (no validation_warnings, so
# every job is charged) on the default `linkedin` platform.
CLEAN_PHOTOS = ("obama2.jpg", "biden2.jpg", "alex-lacamoire.png", "lin-manuel-miranda.png")
CLEAN_STYLES = ("corporate_headshot", "editorial", "anime")


class StackError(RuntimeError):
    """A process of the stack failed to start or answer."""


def postgres_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def redis_url(db_index: int | None = None) -> str:
    """TEST_REDIS_URL (default redis://127.0.0.1:6379/0), with its db index replaced."""
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)
    if db_index is None:
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db_index}", "", ""))


def _psycopg_url(url: str) -> str:
    return re.sub(r"^postgres://", "postgresql://", url)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def unreachable_services(pg_url: str | None = None, rd_url: str | None = None) -> list[str]:
    """What of PostgreSQL and Redis does not answer (empty when both do)."""
    import psycopg
    import redis

    pg_url = pg_url or postgres_url()
    rd_url = rd_url or redis_url()
    problems = []
    try:
        psycopg.connect(_psycopg_url(pg_url), connect_timeout=3).close()
    except psycopg.Error as exc:
        problems.append(f"PostgreSQL at {pg_url}: {str(exc).strip()}")
    try:
        redis.Redis.from_url(rd_url, socket_connect_timeout=3).ping()
    except redis.exceptions.RedisError as exc:
        problems.append(f"Redis at {rd_url}: {exc}")
    return problems


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: Iterable[float], q: float) -> float:
    """Linear-interpolated percentile, q in 0..100."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rate_per_minute(finish_times: Iterable[float], warmup: int) -> float:
    """Sustained completions per minute: the finishes after the first `warmup`
    ones, over the time from the warmup-th finish to the last."""
    times = sorted(finish_times)
    if warmup < 0 or len(times) - warmup < 2:
        raise ValueError(f"need at least {warmup + 2} finishes, got {len(times)}")
    span = times[-1] - times[warmup]
    if span <= 0:
        return float("inf")
    return (len(times) - 1 - warmup) * 60.0 / span


def photo_payloads(count: int, photos=CLEAN_PHOTOS, styles=CLEAN_STYLES) -> list[dict]:
    """`count` generate bodies cycling through clean photos and styles."""
    encoded = {name: base64.b64encode((PHOTOS / name).read_bytes()).decode() for name in photos}
    combos = itertools.cycle(itertools.product(photos, styles))
    return [
        {"image_base64": encoded[photo], "style": style, "platform": "linkedin"}
        for photo, style in itertools.islice(combos, count)
    ]


@dataclass
class Response:
    status: int
    data: dict
    seconds: float


class Client:
    """JSON over HTTP/1.1 to daphne on 127.0.0.1 (one connection per thread)."""

    def __init__(self, port: int, api_key: str, timeout: float = 90.0) -> None:
        self.port = port
        self.api_key = api_key
        self.timeout = timeout

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        headers: dict | None = None,
        conn: http.client.HTTPConnection | None = None,
    ) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        sent = {"Authorization": f"Bearer {self.api_key}", **(headers or {})}
        if data is not None:
            sent["Content-Type"] = "application/json"
        own = conn is None
        conn = conn or self.connection()
        try:
            started = time.perf_counter()
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            raw = response.read()
            seconds = time.perf_counter() - started
        finally:
            if own:
                conn.close()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"raw": raw[:500].decode(errors="replace")}
        return Response(response.status, parsed, seconds)

    def generate(self, body: dict, idempotency_key: str = "", conn=None) -> Response:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self.request("POST", "/v1/avatar/generate", body, headers, conn)

    def job(self, job_id: str, conn=None) -> Response:
        return self.request("GET", f"/v1/jobs/{job_id}", conn=conn)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]


@dataclass
class ServiceStack:
    """The deployed shape on loopback; use as a context manager (cleans up always)."""

    redis_db: int | None = None  # None: the first free one of REDIS_DBS
    credits: int = 100
    lease_seconds: float = 6.0
    poll_seconds: float = 0.5
    generate_wait: float = 0.0
    max_queue_depth: int = 1000
    db_prefix: str = "avatar_stack"
    admin_url: str = field(default_factory=postgres_url)
    db_name: str = ""
    var_dir: Path | None = None
    api_key: str = ""
    port: int = 0
    server: Proc | None = None
    workers: list[Proc] = field(default_factory=list)
    _procs: list[Proc] = field(default_factory=list)
    _db = None
    _redis_token: str = ""

    # -- set-up and tear-down -------------------------------------------------

    def __enter__(self) -> ServiceStack:
        try:
            self.setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def database_url(self) -> str:
        return with_database(self.admin_url, self.db_name)

    @property
    def redis_url(self) -> str:
        return redis_url(self.redis_db)

    @property
    def media_root(self) -> Path:
        return self.var_dir / "media"

    def env(self, **overrides) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AWS_") and k not in ("MEDIA_ROOT", "STATIC_ROOT")
        }
        env.update(
            DJANGO_SETTINGS_MODULE="avatarsite.settings",
            DJANGO_DEBUG="0",
            PYTHONUNBUFFERED="1",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            AVATAR_EMBEDDED_WORKER="0",
            JOB_LEASE_SECONDS=f"{self.lease_seconds:g}",
            JOB_POLL_SECONDS=f"{self.poll_seconds:g}",
            GENERATE_WAIT_SECONDS=f"{self.generate_wait:g}",
            MAX_QUEUE_DEPTH=str(self.max_queue_depth),
            AVATAR_VAR_DIR=str(self.var_dir),
            # One secret for every process (no race writing them under var/).
            DJANGO_SECRET_KEY="service-stack-" + self.db_name,
            AVATAR_SEED_SECRET="service-stack-seed",
            ALLOWED_HOSTS="127.0.0.1,localhost",
        )
        env.update({k: str(v) for k, v in overrides.items()})
        return env

    def setup(self) -> None:
        import psycopg
        import redis

        self.var_dir = Path(tempfile.mkdtemp(prefix=f"{self.db_prefix}-"))
        (self.var_dir / "logs").mkdir()
        self.db_name = f"{self.db_prefix}_{uuid.uuid4().hex[:10]}"
        self._take_redis_db(redis)
        with psycopg.connect(_psycopg_url(self.admin_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self.manage("migrate", "--noinput", timeout=300)
        out = self.manage(
            "create_account", f"stack-{uuid.uuid4().hex[:6]}", "--credits", str(self.credits)
        )
        self.api_key = out.strip().splitlines()[-1].strip()

    def _take_redis_db(self, redis) -> None:
        """Lock a Redis db index for this stack (SET NX), then flush it."""
        token = uuid.uuid4().hex
        for index in REDIS_DBS if self.redis_db is None else (self.redis_db,):
            client = redis.Redis.from_url(redis_url(index))
            if client.set(REDIS_LOCK_KEY, token, nx=True, ex=3600):
                client.flushdb()
                client.set(REDIS_LOCK_KEY, token, ex=3600)
                self.redis_db, self._redis_token = index, token
                return
        raise StackError(f"Redis db(s) {self.redis_db or REDIS_DBS} in use by other stacks")

    def _release_redis_db(self) -> None:
        import redis

        with contextlib.suppress(redis.exceptions.RedisError):
            client = redis.Redis.from_url(self.redis_url)
            if client.get(REDIS_LOCK_KEY) == self._redis_token.encode():
                client.flushdb()
        self._redis_token = ""

    def close(self) -> None:
        for proc in reversed(self._procs):
            self.stop(proc)
        if self._redis_token:
            self._release_redis_db()
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
            self._db = None
        if self.db_name:
            import psycopg

            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(_psycopg_url(self.admin_url), autocommit=True) as conn,
            ):
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        if self.var_dir is not None and self.var_dir.exists():
            shutil.rmtree(self.var_dir, ignore_errors=True)

    def manage(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), *args],
            cwd=BASE_DIR,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise StackError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    # -- processes ------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        log = self.var_dir / "logs" / f"{name}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                argv,
                cwd=BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        proc = Proc(name, popen, log)
        self._procs.append(proc)
        return proc

    def start_server(self, timeout: float = 60.0, **env) -> int:
        """daphne on a free loopback port; returns the port once it listens."""
        if self.server is not None:
            self.stop(self.server)
        self.port = free_port()
        argv = [sys.executable, "-m", "avatarsite.serve", "-b", "127.0.0.1", "-p", str(self.port)]
        argv.append("avatarsite.asgi:application")
        self.server = self._spawn(f"daphne-{self.port}", argv, self.env(**env))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.popen.poll() is not None:
                raise StackError(f"daphne exited:\n{self.server.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self.port
            except OSError:
                time.sleep(0.1)
        raise StackError(f"daphne not listening after {timeout:g}s:\n{self.server.tail()}")

    def start_worker(self, **env) -> Proc:
        argv = [sys.executable, str(BASE_DIR / "manage.py"), "runworker", "avatar-jobs"]
        proc = self._spawn(f"worker-{len(self.workers) + 1}", argv, self.env(**env))
        self.workers.append(proc)
        return proc

    def wait_workers_ready(self, timeout: float = 60.0) -> None:
        """Until every live worker logged that it listens on the channel."""
        deadline = time.monotonic() + timeout
        for proc in self.workers:
            if proc.popen.poll() is not None and proc.popen.returncode == -signal.SIGKILL:
                continue
            while WORKER_READY not in proc.log_text():
                if proc.popen.poll() is not None:
                    raise StackError(f"{proc.name} exited:\n{proc.tail()}")
                if time.monotonic() > deadline:
                    raise StackError(f"{proc.name} not ready after {timeout:g}s:\n{proc.tail()}")
                time.sleep(0.1)
        time.sleep(0.3)  # from the log line to its first blocking receive

    def stop(self, proc: Proc, timeout: float = 10.0) -> None:
        if proc.popen.poll() is None:
            proc.popen.terminate()
            try:
                proc.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=timeout)
        if proc in self.workers:
            self.workers.remove(proc)
        if proc is self.server:
            self.server = None

    def check_alive(self) -> None:
        """StackError when daphne or a runworker has exited on its own."""
        for proc in [self.server, *self.workers]:
            if proc is not None and proc.popen.poll() is not None:
                raise StackError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")

    def client(self, timeout: float = 90.0) -> Client:
        return Client(self.port, self.api_key, timeout)

    # -- the database ---------------------------------------------------------

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        import psycopg

        if self._db is None or self._db.closed:
            self._db = psycopg.connect(_psycopg_url(self.database_url), autocommit=True)
        return self._db.execute(sql, params).fetchall()

    def finished(self, job_ids: list[str]) -> dict[str, tuple[str, float]]:
        """{job id: (state, finished_at epoch)} of those that ended."""
        rows = self.query(
            "SELECT id::text, state, extract(epoch FROM finished_at) FROM generation_job "
            "WHERE id::text = ANY(%s) AND state IN ('done', 'failed')",
            (list(job_ids),),
        )
        return {row[0]: (row[1], float(row[2])) for row in rows}

    def wait_finished(
        self, job_ids: list[str], timeout: float, interval: float = 0.2
    ) -> dict[str, tuple[str, float]]:
        deadline = time.monotonic() + timeout
        while True:
            done = self.finished(job_ids)
            if len(done) == len(set(job_ids)) or time.monotonic() > deadline:
                return done
            self.check_alive()
            time.sleep(interval)


def submit_all(
    client: Client, bodies: list[dict], keys: list[str], threads: int = 8
) -> list[Response]:
    """The generate calls from a thread pool, in order of `bodies`."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(client.generate, bodies, keys))


# -- the benchmark ------------------------------------------------------------


@dataclass
class Throughput:
    workers: int
    jobs: int
    warmup: int
    per_minute: float
    seconds: float  # first submit to last finish
    failed: int


@dataclass
class Overhead:
    mode: str
    calls: int
    statuses: dict[int, int]
    overheads_ms: list[float]
    latencies_ms: list[float]
    # Where the overhead goes, per call (ms), from the job's database timestamps:
    # client send -> created_at, created_at -> started_at (wake + claim),
    # started_at -> finished_at minus latency_ms (around the pipeline),
    # finished_at -> client has the answer (notify + re-read + response).
    stages_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def p50(self) -> float:
        return percentile(self.overheads_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.overheads_ms, 95)

    @property
    def ok(self) -> bool:
        return self.p50 < OVERHEAD_P50_TARGET_MS and set(self.statuses) == {200}


def measure_throughput(
    stack: ServiceStack, workers: int, jobs: int, warmup: int, timeout: float = 600.0
) -> Throughput:
    """Submit `jobs` at once and time their completions (server-side finished_at)."""
    bodies = photo_payloads(jobs)
    keys = [f"bench-{workers}w-{uuid.uuid4().hex}" for _ in bodies]
    started = time.time()
    responses = submit_all(stack.client(), bodies, keys)
    bad = [r for r in responses if r.status not in (200, 202)]
    if bad:
        raise StackError(f"{len(bad)} generate calls failed, e.g. {bad[0].status} {bad[0].data}")
    job_ids = [r.data["id"] for r in responses]
    done = stack.wait_finished(job_ids, timeout)
    if len(done) < len(job_ids):
        raise StackError(f"only {len(done)}/{len(job_ids)} jobs finished in {timeout:g}s")
    finishes = [t for _, t in done.values()]
    return Throughput(
        workers=workers,
        jobs=jobs,
        warmup=warmup,
        per_minute=rate_per_minute(finishes, warmup),
        seconds=max(finishes) - started,
        failed=sum(1 for state, _ in done.values() if state != "done"),
    )


def measure_overhead(stack: ServiceStack, calls: int, warmup: int, mode: str) -> Overhead:
    """Sequential waiting generate calls on one keep-alive connection."""
    client = stack.client()
    bodies = photo_payloads(calls + warmup)
    statuses: dict[int, int] = {}
    overheads, latencies = [], []
    stages: dict[str, list[float]] = {}
    conn = client.connection()
    try:
        for n, body in enumerate(bodies):
            sent = time.time()
            response = client.generate(body, f"overhead-{uuid.uuid4().hex}", conn=conn)
            answered = sent + response.seconds
            if response.status != 200:
                stack.check_alive()
            if n < warmup:
                continue
            statuses[response.status] = statuses.get(response.status, 0) + 1
            latency = response.data.get("latency_ms")
            if response.status == 200 and latency is not None:
                latencies.append(float(latency))
                overheads.append(response.seconds * 1000.0 - float(latency))
                for stage, ms in job_stages(stack, response.data["id"], sent, answered).items():
                    stages.setdefault(stage, []).append(ms)
    finally:
        conn.close()
    return Overhead(mode, calls, statuses, overheads, latencies, stages)


STAGES = ("accept", "wake+claim", "around pipeline", "notify+answer")


def job_stages(stack: ServiceStack, job_id: str, sent: float, answered: float) -> dict:
    (created, started, finished, latency), *_ = stack.query(
        "SELECT extract(epoch FROM created_at), extract(epoch FROM started_at), "
        "extract(epoch FROM finished_at), (result->>'latency_ms')::float "
        "FROM generation_job WHERE id = %s",
        (job_id,),
    )
    created, started, finished = float(created), float(started), float(finished)
    return dict(
        zip(
            STAGES,
            (
                (created - sent) * 1000,
                (started - created) * 1000,
                (finished - started) * 1000 - float(latency),
                (answered - finished) * 1000,
            ),
            strict=True,
        )
    )


@dataclass
class BenchConfig:
    jobs: int = 40
    warmup: int = 8
    calls: int = 30
    overhead_warmup: int = 3
    worker_counts: tuple[int, ...] = (1, 2)
    overhead_mode: str = "worker"  # "worker" (1 runworker) or "embedded"
    redis_db: int | None = None


QUICK = BenchConfig(jobs=10, warmup=3, calls=8, overhead_warmup=2)


def config_from_options(
    quick: bool = False,
    jobs: int | None = None,
    warmup: int | None = None,
    calls: int | None = None,
    workers: str | None = None,
    overhead_mode: str | None = None,
    redis_db: int | None = None,
) -> BenchConfig:
    """The run's sizes: --quick defaults, then explicit options on top."""
    base = QUICK if quick else BenchConfig()
    counts = base.worker_counts
    if workers:
        counts = tuple(int(w) for w in workers.split(",") if w.strip())
        if not counts or min(counts) < 1:
            raise ValueError("--workers lists positive worker counts, e.g. 1,2")
    jobs = jobs if jobs is not None else base.jobs
    warmup = warmup if warmup is not None else min(base.warmup, max(jobs - 2, 0))
    if jobs < warmup + 2:
        raise ValueError("--jobs must exceed --warmup by at least 2")
    calls = calls if calls is not None else base.calls
    if calls < 0:
        raise ValueError("--calls cannot be negative")
    mode = overhead_mode or base.overhead_mode
    if mode not in ("worker", "embedded"):
        raise ValueError("--overhead-mode is worker or embedded")
    return BenchConfig(
        jobs=jobs,
        warmup=warmup,
        calls=calls,
        overhead_warmup=base.overhead_warmup,
        worker_counts=counts,
        overhead_mode=mode,
        redis_db=base.redis_db if redis_db is None else redis_db,
    )


def throughput_header() -> str:
    return (
        f"{'runworkers':>10} {'jobs':>5} {'warm-up':>8} {'failed':>6} "
        f"{'avatars/min':>12} {'secs':>6}"
    )


def throughput_row(t: Throughput) -> str:
    return (
        f"{t.workers:>10} {t.jobs:>5} {t.warmup:>8} {t.failed:>6} "
        f"{t.per_minute:>12.1f} {t.seconds:>6.1f}"
    )


def overhead_lines(o: Overhead) -> list[str]:
    statuses = ",".join(f"{code}x{n}" for code, n in sorted(o.statuses.items())) or "-"
    result = "OK" if o.ok else "MISS"
    return [
        f"{'setup':<12} {'calls':>5} {'statuses':<10} {'pipeline p50':>12} "
        f"{'overhead p50':>12} {'p95':>8} {'max':>8}  {'target':<12} result",
        f"{o.mode:<12} {o.calls:>5} {statuses:<10} {percentile(o.latencies_ms, 50):>9.1f} ms "
        f"{o.p50:>9.1f} ms {o.p95:>5.1f} ms {max(o.overheads_ms, default=float('nan')):>5.1f} ms"
        f"  p50 < {OVERHEAD_P50_TARGET_MS:g} ms {result}",
    ] + stage_lines(o.stages_ms)


def stage_lines(stages: dict[str, list[float]]) -> list[str]:
    if not stages:
        return []
    parts = [f"{name} {percentile(stages[name], 50):.1f}" for name in STAGES if name in stages]
    return ["  p50 by stage (ms, from the job's timestamps): " + ", ".join(parts)]


def run_bench(config: BenchConfig, out=print) -> tuple[list[Throughput], Overhead | None]:
    """Everything `manage.py bench_service` prints, one stack for all of it."""
    problems = unreachable_services()
    if problems:
        raise StackError("; ".join(problems))
    credits = config.jobs * len(config.worker_counts) + config.calls + config.overhead_warmup + 10
    throughputs: list[Throughput] = []
    overhead = None
    started = time.perf_counter()
    with ServiceStack(redis_db=config.redis_db, credits=credits, db_prefix="avatar_bench") as st:
        out(f"Stack: PostgreSQL db {st.db_name}, Redis {st.redis_url}, var {st.var_dir}")
        st.start_server(GENERATE_WAIT_SECONDS=0)
        out("")
        out(
            f"1. Sustained throughput: {config.jobs} jobs submitted at once (8 client threads, "
            f"GENERATE_WAIT_SECONDS=0); rate over finishes after the first {config.warmup}"
        )
        out(throughput_header())
        for count in config.worker_counts:
            while len(st.workers) > count:
                st.stop(st.workers[-1])
            while len(st.workers) < count:
                st.start_worker()
            st.wait_workers_ready()
            result = measure_throughput(st, count, config.jobs, config.warmup)
            throughputs.append(result)
            out(throughput_row(result))
        if config.calls:
            out("")
            out(
                f"2. HTTP overhead of POST /v1/avatar/generate (GENERATE_WAIT_SECONDS=30): "
                f"{config.calls} sequential calls on one keep-alive connection after "
                f"{config.overhead_warmup} warm-up; overhead = client wall time - latency_ms"
            )
            if config.overhead_mode == "embedded":
                while st.workers:
                    st.stop(st.workers[-1])
                st.start_server(GENERATE_WAIT_SECONDS=30, AVATAR_EMBEDDED_WORKER=1)
                mode = "embedded"
            else:
                while len(st.workers) > 1:
                    st.stop(st.workers[-1])
                if not st.workers:
                    st.start_worker()
                    st.wait_workers_ready()
                st.start_server(GENERATE_WAIT_SECONDS=30)
                mode = "1 runworker"
            overhead = measure_overhead(st, config.calls, config.overhead_warmup, mode)
            for line in overhead_lines(overhead):
                out(line)
    out("")
    out("Summary")
    for t in throughputs:
        out(f"avatars/min with {t.workers} runworker(s): {t.per_minute:.1f}")
    if overhead is not None:
        out(
            f"generate overhead ({overhead.mode}): p50 {overhead.p50:.1f} ms, "
            f"p95 {overhead.p95:.1f} ms (target p50 < {OVERHEAD_P50_TARGET_MS:g} ms: "
            f"{'OK' if overhead.ok else 'MISS'})"
        )
    out(f"({time.perf_counter() - started:.0f} s)")
    return throughputs, overhead
