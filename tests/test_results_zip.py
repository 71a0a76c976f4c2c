"""GET /v1/batches/{id}/results.zip is streamed: from local files or S3, in
bounded pieces, never whole in memory, and complete and valid at the end.

The first tests drive the ASGI application daphne serves, message by message;
the last one runs the real server with a client that stops reading.
"""

import io
import json
import os
import time
import tracemalloc
import zipfile

import pytest
from asgiref.sync import async_to_sync
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from bench.results_zip import ZipServer, check_zip, rss_bytes
from generation.api.results_zip import PIECE_BYTES
from generation.models import Batch, Job
from tests.s3 import s3_server, s3_storage  # noqa: F401 (fixtures)
from tests.service_helpers import asgi_call, make_account

pytestmark = pytest.mark.django_db(transaction=True)
AVATAR_BYTES = 400_000
MiB = 1024 * 1024


def done_batch(items: int) -> tuple[Batch, str, dict[str, bytes]]:
    """A batch of `items` done jobs with stored avatars (incompressible, like
    PNGs), one failed job and one still queued; (batch, API key, avatars by
    external_id)."""
    account, key = make_account("team", credits=0)
    batch = Batch.objects.create(account=account, total=items + 2)
    avatars = {}
    for n in range(items):
        external_id = f"emp/{n:02d}"  # a slash: the zip name must not become a path
        avatars[external_id] = b"\x89PNG\r\n\x1a\n" + os.urandom(AVATAR_BYTES)
        name = default_storage.save(f"avatars/t-{n}.png", ContentFile(avatars[external_id]))
        Job.objects.create(
            account=account,
            batch=batch,
            external_id=external_id,
            state=Job.State.DONE,
            avatar_file=name,
            result={"validation_warnings": ["low_likeness"] if n == 0 else []},
        )
    Job.objects.create(
        account=account,
        batch=batch,
        external_id="mug",
        state=Job.State.FAILED,
        error_code="no_face",
        error_message="No face was found.",
    )
    Job.objects.create(account=account, batch=batch, external_id="late")
    return batch, key, avatars


def asgi_get(path: str, key: str, sink: io.BytesIO) -> tuple[int, dict[str, str], list[int]]:
    """GET through the ASGI app: status, headers and the size of each body
    message; the body goes to `sink`."""
    headers = {"authorization": f"Bearer {key}"}
    return async_to_sync(asgi_call)("GET", path, headers, on_body=sink.write)


def stream_zip(batch: Batch, key: str) -> tuple[int, dict[str, str], list[int], bytes, int]:
    """GET the zip: status, headers, the size of each body message, the body,
    and the peak of memory allocated (in any thread) while it was served."""
    path = f"/v1/batches/{batch.pk}/results.zip"
    sink = io.BytesIO(bytes(batch.jobs.count() * (AVATAR_BYTES + 1000)))  # not traced
    asgi_get(path, key, sink)  # a first download: lazy imports (boto's models) done
    sink.seek(0)
    tracemalloc.start()
    try:
        status, headers, sizes = asgi_get(path, key, sink)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return status, headers, sizes, sink.getvalue()[: sum(sizes)], peak


def check_contents(body: bytes, avatars: dict[str, bytes]) -> None:
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None  # every CRC right
    names = {f"emp_{external_id[4:]}.png": data for external_id, data in avatars.items()}
    assert sorted(archive.namelist()) == sorted([*names, "results.json"])
    assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
    for name, data in names.items():
        assert archive.read(name) == data
    manifest = {item["external_id"]: item for item in json.loads(archive.read("results.json"))}
    assert manifest["emp/00"]["file"] == "emp_00.png"
    assert manifest["emp/00"]["validation_warnings"] == ["low_likeness"]
    assert manifest["mug"]["error"] == {"code": "no_face", "message": "No face was found."}
    assert manifest["late"] == {"external_id": "late", "state": "queued", "file": None}


def test_local_results_stream_in_bounded_pieces_with_a_content_length():
    """A 16 MB zip: served in pieces of about 1 MiB, a few of them in memory at
    a time (the old view built the zip in a BytesIO and copied it: its peak
    was twice the zip's size)."""
    batch, key, avatars = done_batch(40)
    status, headers, sizes, body, peak = stream_zip(batch, key)
    assert status == 200 and headers["content-type"] == "application/zip"
    assert headers["content-disposition"] == f'attachment; filename="batch-{batch.pk}.zip"'
    assert int(headers["content-length"]) == len(body) > 40 * AVATAR_BYTES
    assert len(sizes) > 40 and max(sizes) <= PIECE_BYTES
    assert peak < 6 * MiB < len(body) / 2, f"{peak / MiB:.1f} MiB allocated at the peak"
    check_contents(body, avatars)


def test_s3_results_stream_from_the_objects(s3_storage):  # noqa: F811
    """On S3 each avatar is read from the object's body as it streams (no
    Content-Length: the sizes would cost a request per avatar). moto's server
    runs in this process, so its own copies of each object count too: the
    peak stays far below the zip's size all the same."""
    batch, key, avatars = done_batch(80)
    assert len(s3_storage.object_keys("avatars/")) == 80  # really stored on the S3 server
    status, headers, sizes, body, peak = stream_zip(batch, key)
    assert status == 200 and "content-length" not in headers
    assert len(sizes) > 80 and max(sizes) <= PIECE_BYTES
    assert peak < len(body) / 2, f"{peak / MiB:.1f} MiB allocated at the peak"
    check_contents(body, avatars)


def test_another_accounts_batch_is_not_found():
    batch, _, _ = done_batch(1)
    _, other = make_account("other", credits=0)
    sink = io.BytesIO()
    status, _, _ = asgi_get(f"/v1/batches/{batch.pk}/results.zip", other, sink)
    assert status == 404 and json.loads(sink.getvalue())["code"] == "not_found"


@pytest.mark.slow
def test_the_server_holds_little_for_a_client_that_stops_reading_or_hangs_up():
    """The real server and a 40 MB zip: a client that reads the headers and
    then nothing for 3 s; the server must not buffer the zip for it (daphne
    alone wrote every piece to Twisted at once), and the download completes
    once the client reads again. Clients hanging up mid-download leave no
    error behind, and the next download is whole."""
    with ZipServer(items=40, item_bytes=1000 * 1024) as server:
        conn, response = server.open_download()
        try:
            assert response.status == 200
            first = response.read(64 * 1024)
            before = rss_bytes(server.server.pid)
            time.sleep(3)
            stalled = rss_bytes(server.server.pid) - before
            path = server.var_dir / "results.zip"
            with open(path, "wb") as sink:
                sink.write(first)
                while chunk := response.read(256 * 1024):
                    sink.write(chunk)
        finally:
            conn.close()
        assert path.stat().st_size == int(response.getheader("Content-Length")) > 40_000_000
        check_zip(path, 40)

        for _ in range(3):
            conn, response = server.open_download()
            response.read(MiB)
            conn.close()
        again = server.download()
        assert (again.status, again.received) == (200, again.length)
        assert "Exception inside application" not in server.log_tail(100_000)
    assert stalled < 15 * MiB, f"the server grew {stalled / MiB:.1f} MiB for a stalled client"
