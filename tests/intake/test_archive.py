"""read_zip_photos on real zips built in memory, hostile ones crafted by editing their bytes."""

from __future__ import annotations

import gzip
import io
import stat
import struct
import tarfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from generation.intake import ArchiveLimits, IntakeError, read_zip_photos

PHOTOS = Path(__file__).resolve().parent.parent / "fixtures" / "photos"
JPEG = (PHOTOS / "obama2.jpg").read_bytes()
PNG = (PHOTOS / "coffee.png").read_bytes()
LIMITS = ArchiveLimits()
CENTRAL_HEADER = b"PK\x01\x02"
LOCAL_HEADER = b"PK\x03\x04"

Entry = tuple[str | zipfile.ZipInfo, bytes]


def make_zip(entries: list[Entry], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name", on purpose
        with zipfile.ZipFile(buffer, "w", compression) as archive:
            for name, content in entries:
                archive.writestr(name, content)
    return buffer.getvalue()


def with_mode(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: external_attr's high 16 bits are st_mode
    info.external_attr = mode << 16
    return info


def patch(data: bytes, signature: bytes, offset: int, value: bytes, index: int = 0) -> bytes:
    """Overwrite ``value`` at ``offset`` into the ``index``-th header with ``signature``."""
    start = -1
    for _ in range(index + 1):
        start = data.index(signature, start + 1)
    at = start + offset
    return data[:at] + value + data[at + len(value) :]


def refused(code: str, data: bytes, limits: ArchiveLimits = LIMITS) -> IntakeError:
    with pytest.raises(IntakeError) as caught:
        read_zip_photos(data, limits)
    assert caught.value.code == code, caught.value
    return caught.value


def tar_of(content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        member = tarfile.TarInfo("inner.jpg")
        member.size = len(content)
        archive.addfile(member, io.BytesIO(content))
    return buffer.getvalue()


# -- what it reads ----------------------------------------------------------------------------


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_reads_photos_named_by_base_name(compression: int) -> None:
    data = make_zip([("team/jane.doe.jpg", JPEG), ("john.png", PNG)], compression)
    assert read_zip_photos(data, LIMITS) == [("jane.doe", JPEG), ("john", PNG)]


def test_skips_directories_and_junk() -> None:
    data = make_zip(
        [
            ("team/", b""),
            ("team/jane.jpg", JPEG),
            ("__MACOSX/", b""),
            ("__MACOSX/team/._jane.jpg", b"\x00\x05\x16\x07"),
            ("team/.DS_Store", b"\x00\x00\x00\x01Bud1"),
            ("._john.jpg", b"\x00\x05\x16\x07"),
            (".DS_Store", b"Bud1"),
            ("Thumbs.db", b"\xd0\xcf\x11\xe0"),
            ("john.jpg", JPEG),
        ]
    )
    assert read_zip_photos(data, LIMITS) == [("jane", JPEG), ("john", JPEG)]


def test_regular_file_modes_are_fine() -> None:
    data = make_zip([(with_mode("jane.jpg", stat.S_IFREG | 0o644), JPEG)])
    assert read_zip_photos(data, LIMITS) == [("jane", JPEG)]


def test_reads_up_to_the_limits_exactly() -> None:
    entries: list[Entry] = [(f"p{i}.jpg", JPEG[:1000]) for i in range(4)]
    limits = ArchiveLimits(max_files=4, max_total_bytes=4000, max_entry_bytes=1000)
    assert len(read_zip_photos(make_zip(entries, zipfile.ZIP_STORED), limits)) == 4


def test_checks_every_entry_before_reading_any(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def recording_open(self: zipfile.ZipFile, name: zipfile.ZipInfo, *args: object) -> object:
        opened.append(name.filename)
        return real_open(self, name, *args)

    data = make_zip([("jane.jpg", JPEG), ("../evil.jpg", JPEG)])
    monkeypatch.setattr(zipfile.ZipFile, "open", recording_open)
    refused("unsafe_archive_path", data)
    assert opened == []


# -- what it refuses: not a (whole) zip, or nothing in it -------------------------------------


@pytest.mark.parametrize(
    "data", [b"", b"hello", JPEG, gzip.compress(JPEG)], ids=["empty", "text", "jpeg", "gzip"]
)
def test_refuses_what_is_not_a_zip(data: bytes) -> None:
    refused("invalid_archive", data)


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_refuses_a_truncated_zip(keep: float) -> None:
    data = make_zip([("jane.jpg", JPEG), ("john.jpg", JPEG)])
    refused("invalid_archive", data[: int(len(data) * keep)])


def test_refuses_corrupted_content() -> None:
    data = bytearray(make_zip([("jane.jpg", JPEG)], zipfile.ZIP_STORED))
    data[len(LOCAL_HEADER) + 26 + len("jane.jpg") + 5000] ^= 0xFF  # a byte of the photo
    refused("invalid_archive", bytes(data))


def test_refuses_an_unsupported_compression_method() -> None:
    data = make_zip([("jane.jpg", JPEG)], zipfile.ZIP_STORED)
    data = patch(data, CENTRAL_HEADER, 10, struct.pack("<H", 97))
    refused("invalid_archive", patch(data, LOCAL_HEADER, 8, struct.pack("<H", 97)))


@pytest.mark.parametrize(
    "entries",
    [[], [("team/", b"")], [("__MACOSX/._jane.jpg", b"x"), (".DS_Store", b"Bud1")]],
    ids=["no entries", "a directory", "only junk"],
)
def test_refuses_an_archive_without_photos(entries: list[Entry]) -> None:
    refused("archive_empty", make_zip(entries))


# -- what it refuses: names and entry types ---------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../evil.jpg",
        "team/../../evil.jpg",
        "team/..",
        "/etc/evil.jpg",
        "C:/evil.jpg",
        "c:evil.jpg",
        "team\\..\\evil.jpg",
        "evil\x01.jpg",
        "../__MACOSX/._evil.jpg",
        "../team/",
    ],
)
def test_refuses_unsafe_paths(name: str) -> None:
    refused("unsafe_archive_path", make_zip([("jane.jpg", JPEG), (name, JPEG)]))


@pytest.mark.parametrize("mode", [stat.S_IFLNK | 0o777, stat.S_IFIFO | 0o644, stat.S_IFCHR])
def test_refuses_links_and_special_files(mode: int) -> None:
    refused("unsafe_archive_path", make_zip([(with_mode("jane.jpg", mode), b"/etc/passwd")]))


def test_refuses_encrypted_entries() -> None:
    data = make_zip([("jane.jpg", JPEG)], zipfile.ZIP_STORED)
    data = patch(data, LOCAL_HEADER, 6, struct.pack("<H", 0x1))
    refused("encrypted_archive", patch(data, CENTRAL_HEADER, 8, struct.pack("<H", 0x1)))


@pytest.mark.parametrize(
    "entries",
    [
        [("jane.jpg", JPEG), ("jane.jpg", JPEG)],
        [("a/jane.jpg", JPEG), ("b/jane.png", PNG)],
        [("jane.jpg", JPEG), ("jane.jpeg", JPEG)],
    ],
    ids=["same name", "same base name in two folders", "same id, two extensions"],
)
def test_refuses_duplicates(entries: list[Entry]) -> None:
    refused("duplicate_entry", make_zip(entries))


# -- what it refuses: archives inside ---------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["photos.zip", "photos.ZIP", "a.tar", "a.tar.gz", "a.tgz", "a.gz", "a.7z", "a.rar"]
)
def test_refuses_nested_archives_by_name(name: str) -> None:
    refused("nested_archive", make_zip([("jane.jpg", JPEG), (name, JPEG)]))


@pytest.mark.parametrize(
    "content",
    [
        make_zip([("inner.jpg", JPEG)]),
        make_zip([]),
        gzip.compress(JPEG),
        tar_of(JPEG),
        b"7z\xbc\xaf\x27\x1c" + JPEG,
        b"Rar!\x1a\x07\x01\x00" + JPEG,
    ],
    ids=["zip", "empty zip", "gzip", "tar", "7z", "rar"],
)
def test_refuses_nested_archives_by_content(content: bytes) -> None:
    refused("nested_archive", make_zip([("jane.jpg", JPEG), ("john.jpg", content)]))


# -- what it refuses: sizes, counts, bombs ----------------------------------------------------


def test_refuses_too_many_photos() -> None:
    entries: list[Entry] = [(f"p{i}.jpg", b"\xff\xd8\xff") for i in range(501)]
    refused("too_many_files", make_zip(entries))
    junk: list[Entry] = [(f"__MACOSX/._p{i}.jpg", b"x") for i in range(20)]
    assert len(read_zip_photos(make_zip(entries[:500] + junk), LIMITS)) == 500


def test_refuses_an_oversize_entry() -> None:
    limits = ArchiveLimits(max_entry_bytes=len(JPEG) - 1)
    refused("archive_too_large", make_zip([("jane.jpg", JPEG)], zipfile.ZIP_STORED), limits)


def test_refuses_an_oversize_total() -> None:
    entries: list[Entry] = [(f"p{i}.jpg", JPEG) for i in range(3)]
    limits = ArchiveLimits(max_total_bytes=3 * len(JPEG) - 1)
    refused("archive_too_large", make_zip(entries, zipfile.ZIP_STORED), limits)


def test_refuses_a_zip_bomb() -> None:
    bomb = make_zip([("jane.jpg", JPEG), ("bomb.jpg", b"\xff\xd8\xff" + bytes(5 * 1024 * 1024))])
    assert len(bomb) < len(JPEG) + 20_000
    error = refused("archive_too_large", bomb)
    assert "bomb.jpg" in error.message and "100:1" in error.message


@pytest.mark.parametrize("declared", [1000, len(JPEG) - 1], ids=["far smaller", "one byte smaller"])
def test_a_central_directory_lying_about_size_gets_nothing_through(declared: int) -> None:
    """Declared small, so every check passes; the read still stops at the declared size."""
    data = make_zip([("jane.jpg", JPEG)], zipfile.ZIP_STORED)
    lying = patch(data, CENTRAL_HEADER, 24, struct.pack("<I", declared))
    refused("invalid_archive", lying)


def test_a_lying_bomb_gets_nothing_through() -> None:
    """A bomb whose central directory claims a modest size stops at that size."""
    data = make_zip([("bomb.jpg", b"\xff\xd8\xff" + bytes(50 * 1024 * 1024))])
    compressed = zipfile.ZipFile(io.BytesIO(data)).infolist()[0].compress_size
    refused("invalid_archive", patch(data, CENTRAL_HEADER, 24, struct.pack("<I", compressed)))


def test_never_keeps_more_than_the_declared_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even if the zip library handed out more than declared, the read is cut and refused."""
    data = make_zip([("jane.jpg", JPEG[:1000])], zipfile.ZIP_STORED)
    opener: Callable[..., io.BytesIO] = lambda self, info, *args: io.BytesIO(JPEG)  # noqa: E731
    monkeypatch.setattr(zipfile.ZipFile, "open", opener)
    refused("archive_too_large", data)
