"""GET /v1/batches/{id}/results.zip, streamed: a batch's avatars and results.json.

A 500-item batch is a zip of about 500 MB. It is never held: zipstream-ng
writes stored (uncompressed: PNGs do not shrink) entries as the avatars are
read, a piece at a time, from local files or straight from the S3 object's
body (django-storages' S3File would first download each one whole). The
response is an async iterator, so Django under ASGI sends each piece as it
comes (a sync iterator would be read into a list first), and the server
waits for the client to take it (avatarsite/serve.py) before reading more.
"""

import contextlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import StreamingHttpResponse
from zipstream import ZIP_STORED, ZipStream

from generation.models import Batch, Job

READ_BYTES = 256 * 1024  # one read from storage
PIECE_BYTES = 1024 * 1024  # what one trip to a pool thread gathers for the response
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Entry:
    """One avatar in the zip: its name there, where it is stored, its size when known."""

    arcname: str
    stored_name: str
    size: int | None


def results_zip_response(batch: Batch) -> StreamingHttpResponse:
    """The batch's results as a streamed zip (reads the jobs: call in a pool thread)."""
    entries, manifest = _contents(batch, sized=sizes_known())
    return zip_response(entries, manifest, f"batch-{batch.pk}.zip")


def sizes_known() -> bool:
    """On local storage the sizes are known up front (a stat each), so the
    response has a Content-Length; on S3 they would take a request per avatar
    before the first byte, so it is sent chunked."""
    return isinstance(default_storage, FileSystemStorage)


def zip_response(
    entries: list[Entry], manifest: list[dict], filename: str
) -> StreamingHttpResponse:
    """Stored files and results.json as a streamed zip named `filename`
    (entries sized when sizes_known())."""
    local = sizes_known()
    archive = ZipStream(compress_type=ZIP_STORED, sized=local)
    for entry in entries:
        archive.add(_stored_chunks(entry.stored_name), entry.arcname, size=entry.size)
    archive.add(json.dumps(manifest, indent=1).encode(), "results.json")
    response = StreamingHttpResponse(_pieces(iter(archive)), content_type="application/zip")
    if local:
        response["Content-Length"] = str(len(archive))
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _contents(batch: Batch, *, sized: bool) -> tuple[list[Entry], list[dict]]:
    """The avatars to zip and results.json's entries, in external_id order."""
    entries: list[Entry] = []
    manifest: list[dict] = []
    taken: set[str] = set()
    jobs = batch.jobs.order_by("external_id").only(
        "external_id", "state", "avatar_file", "result", "error_code", "error_message"
    )
    for job in jobs:
        item = {"external_id": job.external_id, "state": job.state, "file": None}
        if job.state == Job.State.DONE and job.avatar_file:
            size = default_storage.size(job.avatar_file.name) if sized else None
            item["file"] = zip_name(job.external_id, taken)
            item["validation_warnings"] = (job.result or {}).get("validation_warnings", [])
            entries.append(Entry(item["file"], job.avatar_file.name, size))
        elif job.state == Job.State.FAILED:
            item["error"] = {"code": job.error_code, "message": job.error_message}
        manifest.append(item)
    return entries, manifest


def zip_name(external_id: str, taken: set[str]) -> str:
    """A safe, unique file name for an external id (no paths, no traversal)."""
    stem = _SAFE_NAME.sub("_", external_id).strip("._")[:100] or "item"
    name, n = f"{stem}.png", 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}.png"
    taken.add(name)
    return name


def _stored_chunks(name: str) -> Iterator[bytes]:
    """A stored file's bytes, READ_BYTES at a time, opened only when the zip reaches it."""
    with default_storage.open(name, "rb") as handle:
        if _is_s3_file(handle):  # its read() would download the whole object first
            body = handle.obj.get()["Body"]
            try:
                yield from body.iter_chunks(READ_BYTES)
            finally:
                body.close()
            return
        while chunk := handle.read(READ_BYTES):
            yield chunk


def _is_s3_file(handle) -> bool:
    if isinstance(default_storage, FileSystemStorage):
        return False  # and boto3 stays unimported
    from storages.backends.s3 import S3File

    return isinstance(handle, S3File)


async def _pieces(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The zip's bytes for the response, about PIECE_BYTES at a time, each
    gathered in a pool thread (storage reads block); the readers are closed
    if the client goes away."""

    def gather() -> bytes:
        piece, size = [], 0
        for chunk in chunks:
            piece.append(chunk)
            size += len(chunk)
            if size >= PIECE_BYTES:
                break
        return b"".join(piece)

    try:
        while piece := await sync_to_async(gather, thread_sensitive=False)():
            yield piece
    finally:
        # Cancelled while a thread still reads: the generator closes when collected.
        with contextlib.suppress(ValueError):
            chunks.close()
