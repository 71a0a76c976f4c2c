"""What concurrent downloads of a large batch's results.zip cost the server in memory.

Starts the real server (`python -m avatarsite.serve`, the embedded default:
SQLite and local files in a temporary var dir), builds a batch cheaply (done
jobs whose avatar files are written directly, incompressible like real PNGs,
instead of running the pipeline), downloads results.zip once to warm up and
check it, then N times at once, sampling the server's RSS every 20 ms, and
prints the RSS before, the peak during, and what the downloads added.

    .venv/bin/python bench/results_zip.py                 # 500 items of 1000 KiB, 4 downloads
    .venv/bin/python bench/results_zip.py --read-delay 0.02   # slow clients (~12 MB/s each)
    .venv/bin/python bench/results_zip.py --s3   # avatars on S3 (moto's server, in this process)

Target (issue 10): four concurrent downloads of a 500-item batch add under
100 MB to the server's RSS. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from tests.live_stack import manage  # noqa: E402

READ_BYTES = 256 * 1024
TARGET_ADDED_MB = 100.0

# Run by `manage.py shell` in the server's environment: an account, its key and
# a batch of done jobs with their avatar files; writes "<batch id> <key>" to OUT.
BUILD_BATCH = """
import os
from django.core.files.storage import default_storage
from django.core.files.base import ContentFile
from accounts.keys import issue_key
from accounts.models import PlatformAccount
from generation.models import Batch, Job

items, size = {items}, {size}
account = PlatformAccount.objects.create(name="zip-bench")
key = issue_key(account)
batch = Batch.objects.create(account=account, params={{}}, total=items)
png = b"\\x89PNG\\r\\n\\x1a\\n"
jobs = []
for n in range(items):
    name = default_storage.save(f"avatars/bench-{{n}}.png", ContentFile(png + os.urandom(size)))
    jobs.append(Job(account=account, batch=batch, external_id=f"employee-{{n:03d}}",
                    state="done", progress=1.0, avatar_file=name,
                    result={{"validation_warnings": []}}))
Job.objects.bulk_create(jobs)
open({out!r}, "w").write(f"{{batch.pk}} {{key}}")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_bytes(pid: int) -> int:
    """The process's resident set size, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class RssSampler(threading.Thread):
    """The peak RSS of a process while running (sampled every `interval` s)."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = rss_bytes(pid)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def stop(self) -> int:
        self.stopping.set()
        self.join()
        return self.peak


@dataclass
class Download:
    status: int
    length: int | None  # Content-Length, when sent
    received: int
    seconds: float
    path: Path | None = None


@dataclass
class ZipServer:
    """The embedded-default server on loopback with one batch of done jobs."""

    items: int = 500
    item_bytes: int = 1000 * 1024
    var_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="zip-bench-")))
    port: int = 0
    batch_id: str = ""
    api_key: str = ""
    server: subprocess.Popen | None = None
    storage_env: dict[str, str] = field(default_factory=dict)  # e.g. the AWS_* of an S3 bucket

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "TEST_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="avatarsite.settings",
            DJANGO_DEBUG="0",
            AVATAR_VAR_DIR=str(self.var_dir),
            AVATAR_EMBEDDED_WORKER="0",
            DJANGO_SECRET_KEY="zip-bench",
            AVATAR_SEED_SECRET="zip-bench",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.storage_env)
        return env

    def __enter__(self) -> ZipServer:
        try:
            manage(self.env(), "migrate", "--noinput")
            out = self.var_dir / "batch.txt"
            code = BUILD_BATCH.format(items=self.items, size=self.item_bytes, out=str(out))
            manage(self.env(), "shell", "-c", code)
            self.batch_id, self.api_key = out.read_text().split()
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self, timeout: float = 60.0) -> None:
        self.port = free_port()
        argv = [sys.executable, "-m", "avatarsite.serve", "-b", "127.0.0.1", "-p", str(self.port)]
        log = open(self.var_dir / "server.log", "wb")  # noqa: SIM115 (the process keeps it)
        self.server = subprocess.Popen(
            [*argv, "avatarsite.asgi:application"],
            cwd=BASE_DIR,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the server did not listen in {timeout:g}s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return (self.var_dir / "server.log").read_text(errors="replace")[-chars:]

    def close(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(10)
        shutil.rmtree(self.var_dir, ignore_errors=True)

    @property
    def zip_path(self) -> str:
        return f"/v1/batches/{self.batch_id}/results.zip"

    def open_download(self) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """The zip's response, headers read and body not yet."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        conn.request("GET", self.zip_path, headers={"Authorization": f"Bearer {self.api_key}"})
        return conn, conn.getresponse()

    def download(self, read_delay: float = 0.0, keep: Path | None = None) -> Download:
        """Read the whole zip (sleeping `read_delay` after each read), into `keep` if given."""
        started = time.perf_counter()
        conn, response = self.open_download()
        received = 0
        sink = open(keep, "wb") if keep else contextlib.nullcontext()  # noqa: SIM115
        with contextlib.closing(conn), sink:
            while chunk := response.read(READ_BYTES):
                received += len(chunk)
                if keep:
                    sink.write(chunk)
                if read_delay:
                    time.sleep(read_delay)
        length = response.getheader("Content-Length")
        return Download(
            response.status,
            int(length) if length else None,
            received,
            time.perf_counter() - started,
            keep,
        )


def check_zip(path: Path, items: int) -> None:
    """Every avatar and results.json present, every CRC right."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if len(names) != items + 1 or "results.json" not in names:
            raise AssertionError(f"{len(names)} entries, expected {items} avatars + results.json")
        if (bad := archive.testzip()) is not None:
            raise AssertionError(f"bad CRC in {bad}")


@contextlib.contextmanager
def s3_bucket() -> Iterator[dict[str, str]]:
    """moto's S3 server in this process (tests/s3.py) and a bucket on it: the
    server's AWS_* settings."""
    from tests.s3 import start_s3_server

    s3 = start_s3_server()
    try:
        s3.client().create_bucket(Bucket="zip-bench")
        yield {
            "AWS_STORAGE_BUCKET_NAME": "zip-bench",
            "AWS_S3_ENDPOINT_URL": s3.endpoint_url,
            "AWS_S3_REGION_NAME": s3.region,
            "AWS_ACCESS_KEY_ID": s3.access_key,
            "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1,localhost",
        }
    finally:
        s3.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--item-kib", type=int, default=1000)
    parser.add_argument("--downloads", type=int, default=4)
    parser.add_argument("--read-delay", type=float, default=0.0, help="seconds after each read")
    parser.add_argument("--s3", action="store_true", help="avatars on S3 (moto's server)")
    args = parser.parse_args()
    mb = 1024 * 1024

    with contextlib.ExitStack() as cleanup:
        storage_env = cleanup.enter_context(s3_bucket()) if args.s3 else {}
        server = cleanup.enter_context(
            ZipServer(items=args.items, item_bytes=args.item_kib * 1024, storage_env=storage_env)
        )
        warm = server.download(keep=server.var_dir / "check.zip")
        check_zip(warm.path, args.items)
        size = f"{args.items} avatars of {args.item_kib} KiB, zip {warm.received / mb:.1f} MB"
        print(f"batch: {size}, on {'S3 (moto)' if args.s3 else 'local files'}")
        print(f"warm-up download: {warm.seconds:.2f} s, zip complete and every CRC right")
        (server.var_dir / "check.zip").unlink()
        time.sleep(1.0)
        before = rss_bytes(server.server.pid)
        sampler = RssSampler(server.server.pid)
        sampler.start()
        with ThreadPoolExecutor(args.downloads) as pool:
            delays = [args.read_delay] * args.downloads
            downloads = list(pool.map(server.download, delays))
        peak = sampler.stop()
        after = rss_bytes(server.server.pid)

    for n, done in enumerate(downloads, 1):
        complete = done.status == 200 and done.received == (done.length or warm.received)
        rate = done.received / mb / done.seconds
        print(
            f"download {n}: HTTP {done.status}, {done.received / mb:.1f} MB in {done.seconds:.2f} s"
            f" ({rate:.0f} MB/s), {'complete' if complete else 'SHORT'}"
        )
    added = (peak - before) / mb
    print(f"server RSS before: {before / mb:.1f} MB, peak during: {peak / mb:.1f} MB, "
          f"after: {after / mb:.1f} MB")  # fmt: skip
    verdict = "meets" if added < TARGET_ADDED_MB else "MISSES"
    print(
        f"added by {args.downloads} concurrent downloads: {added:.1f} MB "
        f"({verdict} the < {TARGET_ADDED_MB:.0f} MB target)"
    )


if __name__ == "__main__":
    main()
