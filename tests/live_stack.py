"""A real server stack in subprocesses, for browser tests and benchmarks:
`python -m avatarsite.serve` on a free port (a listening socket bound to port
0 that it inherits), optionally a `manage.py runworker avatar-jobs` process,
with their own settings (environment), database migrated and identity
defaults installed."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def manage(env: dict, *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )


def wait_until_serving(url: str, processes: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + 120  # a loaded 2-core machine starts slowly
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"{process.args} exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


class Stack:
    """A server (and optionally a worker process) with its own settings."""

    def __init__(self, tmp_path: Path, env: dict, worker: bool) -> None:
        self.env = {
            **os.environ,
            "AVATAR_VAR_DIR": str(tmp_path / "var"),
            "MEDIA_ROOT": str(tmp_path / "media"),
            "DJANGO_SECRET_KEY": "signup-browser-test-" + uuid.uuid4().hex,
            "AVATAR_SEED_SECRET": "signup-browser-seed",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        manage(self.env, "migrate", "--noinput")
        manage(self.env, "load_identity_defaults")
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        fd = self.listener.fileno()
        self.processes = [
            subprocess.Popen(
                [sys.executable, "-m", "avatarsite.serve", "--fd", str(fd),
                 "avatarsite.asgi:application"],
                cwd=ROOT, env=self.env, pass_fds=[fd],
            )
        ]  # fmt: skip
        if worker:
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "runworker", "avatar-jobs"],
                    cwd=ROOT,
                    env=self.env,
                )
            )
        wait_until_serving(self.url + "/signup/", self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.listener.close()


POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


def postgres_database(name: str) -> str:
    """A fresh database of that name on the test PostgreSQL server (its URL)."""
    import psycopg

    from tests.service_helpers import require_services

    base = POSTGRES.rsplit("/", 1)[0]
    try:
        with psycopg.connect(base + "/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        require_services([f"PostgreSQL at {base}: {exc}"])
    return f"{base}/{name}"


def distributed_env(database_name: str, redis_url: str) -> dict:
    """Settings for a stack beyond one process: a fresh PostgreSQL database, an
    emptied Redis database (channel layer and cache), workers in runworker
    processes (Stack(..., worker=True)). Skips, or fails under CI, without them."""
    import redis

    from tests.service_helpers import require_services

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=2).flushdb()
    except redis.RedisError as exc:
        require_services([f"Redis at {redis_url}: {exc}"])
    return {
        "DATABASE_URL": postgres_database(database_name),
        "REDIS_URL": redis_url,
        "AVATAR_EMBEDDED_WORKER": "0",
    }
