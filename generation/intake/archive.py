"""Reading a zip of photos in memory, after checking the whole archive for anything hostile.

Nothing is written to disk. Every entry is checked from the central directory first (names,
types, encryption, declared sizes and compression ratios); only then are the photos read, and
each read stops at the declared size, so an archive whose headers lie cannot expand further.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from generation.intake.errors import IntakeError

MiB = 1024 * 1024
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
ARCHIVE_MAGICS = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"PK\x07\x08",
    b"\x1f\x8b",  # gzip
    b"BZh",  # bzip2
    b"\xfd7zXZ\x00",  # xz
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
)
TAR_MAGIC_OFFSET = 257
JUNK_NAMES = frozenset({"Thumbs.db", "desktop.ini"})
DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
ENCRYPTED_FLAG = 0x1


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits on the photos of one archive; ``max_ratio`` is uncompressed:compressed per entry."""

    max_files: int = 500
    max_total_bytes: int = 500 * MiB
    max_entry_bytes: int = 15 * MiB
    max_ratio: int = 100


def read_zip_photos(data: bytes, limits: ArchiveLimits) -> list[tuple[str, bytes]]:
    """Return ``(external_id, bytes)`` for each photo in the zip, in archive order.

    The external id is the file's base name without its extension ("team/jane.doe.jpg" ->
    "jane.doe"). Directories and macOS/Windows junk are skipped. The photos' contents are not
    checked for being images. Raises IntakeError (invalid_archive, archive_too_large,
    too_many_files, unsafe_archive_path, nested_archive, encrypted_archive, duplicate_entry,
    archive_empty) before returning anything.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            photos = _checked_photos(archive.infolist(), limits)
            return [(_external_id(info), _read_entry(archive, info, limits)) for info in photos]
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        ValueError,
        NotImplementedError,
    ) as exc:
        raise IntakeError("invalid_archive", f"the zip archive cannot be read: {exc}") from exc


def _checked_photos(infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """Check every entry from the central directory alone; return the photos to read."""
    names: set[str] = set()
    for info in infos:
        _check_path(info)
        if info.filename in names:
            raise IntakeError("duplicate_entry", f"{info.filename!r} is in the archive twice")
        names.add(info.filename)
    photos = [info for info in infos if not _is_skipped(info)]
    if not photos:
        raise IntakeError("archive_empty", "the archive holds no photos")
    if len(photos) > limits.max_files:
        raise IntakeError("too_many_files", f"the archive holds over {limits.max_files} photos")
    external_ids: set[str] = set()
    for info in photos:
        _check_photo(info, limits)
        external_id = _external_id(info)
        if external_id in external_ids:
            raise IntakeError("duplicate_entry", f"two photos are named {external_id!r}")
        external_ids.add(external_id)
    if sum(info.file_size for info in photos) > limits.max_total_bytes:
        raise IntakeError(
            "archive_too_large", f"the photos add up to over {limits.max_total_bytes} bytes"
        )
    return photos


def _check_path(info: zipfile.ZipInfo) -> None:
    """Refuse names that would escape an extraction folder, and links or special files."""
    name = info.filename
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or DRIVE_LETTER.match(name)
        or ".." in parts
        or any(ord(ch) < 0x20 for ch in name)
    ):
        raise IntakeError("unsafe_archive_path", f"{name!r} is not a safe path")
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise IntakeError("unsafe_archive_path", f"{name!r} is a link or a special file")


def _is_skipped(info: zipfile.ZipInfo) -> bool:
    """Directories, macOS metadata (__MACOSX/, .DS_Store, ._*) and other hidden or junk files."""
    path = PurePosixPath(info.filename)
    return (
        info.is_dir()
        or "__MACOSX" in path.parts
        or path.name.startswith(".")
        or path.name in JUNK_NAMES
    )


def _check_photo(info: zipfile.ZipInfo, limits: ArchiveLimits) -> None:
    name = info.filename
    if info.flag_bits & ENCRYPTED_FLAG:
        raise IntakeError("encrypted_archive", f"{name!r} is encrypted")
    if name.lower().endswith(ARCHIVE_SUFFIXES):
        raise IntakeError("nested_archive", f"{name!r} is an archive inside the archive")
    if info.file_size > limits.max_entry_bytes:
        raise IntakeError("archive_too_large", f"{name!r} is over {limits.max_entry_bytes} bytes")
    if info.file_size > limits.max_ratio * max(info.compress_size, 1):
        raise IntakeError("archive_too_large", f"{name!r} expands over {limits.max_ratio}:1")


def _external_id(info: zipfile.ZipInfo) -> str:
    return PurePosixPath(info.filename).stem


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits) -> bytes:
    """Read one photo, never more than its declared size (nor the per-entry limit) plus one byte."""
    cap = min(info.file_size, limits.max_entry_bytes)
    with archive.open(info) as entry:
        content = entry.read(cap + 1)
    if len(content) > cap:
        raise IntakeError("archive_too_large", f"{info.filename!r} is larger than it claims")
    if content.startswith(ARCHIVE_MAGICS) or content[TAR_MAGIC_OFFSET:].startswith(b"ustar"):
        raise IntakeError("nested_archive", f"{info.filename!r} is an archive inside the archive")
    return content
