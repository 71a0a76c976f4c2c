"""What an HR admin uploads on /team/: zips, photos and a CSV of people,
sorted into the photos to make avatars of and a report per file.

Every zip goes through the API's archive checks (generation.intake.archive:
paths, sizes, ratios, nesting, encryption) and every photo through its header
check (generation.photo_input), so the page accepts exactly what the batch
API would. A bad file is one line of the report and never stops the rest.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.core.files.uploadedfile import UploadedFile

from generation.errors import ApiError
from generation.intake import IntakeError
from generation.intake.archive import ArchiveLimits, read_zip_photos
from generation.jobs.batches import MAX_BATCH_ITEMS
from generation.photo_input import check_photo_header
from generation.portrait.load import DEFAULT_LIMITS
from generation.web.words import refusal

MAX_ZIP_BYTES = 300 * 1024 * 1024
MAX_CSV_BYTES = 1024 * 1024
MAX_CSV_ROWS = 5000
CSV_COLUMNS = ("file", "name", "email", "title", "team")
FILE_COLUMN_NAMES = ("file", "filename", "file name", "photo")
_SEPARATORS = re.compile(r"[._-]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Person:
    """Who a photo shows, from the CSV, or from the file name when it has no row."""

    name: str = ""
    email: str = ""
    title: str = ""
    team: str = ""


@dataclass
class Photo:
    file: str  # as the admin named it: "team.zip/jane.doe.jpg" or "jane.jpg"
    stem: str  # the base name without extension: matches the CSV's file column
    data: bytes
    person: Person = field(default_factory=Person)

    @property
    def external_id(self) -> str:
        """The person's id on the account: their email, else the photo's name."""
        return (self.person.email or self.stem).lower()[:200]


@dataclass
class Problem:
    file: str
    message: str


@dataclass
class Intake:
    photos: list[Photo] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    people: dict[str, Person] = field(default_factory=dict)  # CSV rows by file stem

    def refuse(self, file: str, message: str) -> None:
        self.problems.append(Problem(file, message))


def read_uploads(uploads: list[UploadedFile]) -> Intake:
    """Sort the uploaded files; CSV rows are matched to photos by file name."""
    intake = Intake()
    for upload in uploads:
        name = PurePosixPath((upload.name or "file").replace("\\", "/")).name[:200]
        kind = _kind(name, upload)
        if kind == "zip":
            _read_zip(intake, name, upload)
        elif kind == "csv":
            _read_csv(intake, name, upload)
        else:
            _add_photo(intake, name, PurePosixPath(name).stem, _read_capped(upload, name, intake))
    _match_people(intake)
    _one_photo_each(intake)
    if len(intake.photos) > MAX_BATCH_ITEMS:
        for photo in intake.photos[MAX_BATCH_ITEMS:]:
            intake.refuse(photo.file, f"Over {MAX_BATCH_ITEMS} photos in one upload.")
        del intake.photos[MAX_BATCH_ITEMS:]
    return intake


def _kind(name: str, upload: UploadedFile) -> str:
    lower = name.lower()
    if lower.endswith(".zip") or upload.content_type in ("application/zip",):
        return "zip"
    if lower.endswith(".csv") or upload.content_type == "text/csv":
        return "csv"
    return "photo"


def _read_capped(upload: UploadedFile, name: str, intake: Intake) -> bytes | None:
    limit = DEFAULT_LIMITS.max_bytes
    if upload.size is not None and upload.size > limit:
        intake.refuse(name, refusal("file_too_large"))
        return None
    data = upload.read(limit + 1)
    if len(data) > limit:
        intake.refuse(name, refusal("file_too_large"))
        return None
    return data


def _add_photo(intake: Intake, file: str, stem: str, data: bytes | None) -> None:
    if data is None:
        return
    try:
        check_photo_header(data)
    except ApiError as exc:
        intake.refuse(file, refusal(exc.code))
        return
    stem = stem.strip()
    if not stem:
        intake.refuse(file, "The file has no name to tell who it is.")
        return
    if any(photo.stem.lower() == stem.lower() for photo in intake.photos):
        intake.refuse(file, f"Another photo in this upload is also named {stem!r}.")
        return
    intake.photos.append(Photo(file, stem, data))


def _read_zip(intake: Intake, name: str, upload: UploadedFile) -> None:
    if upload.size is not None and upload.size > MAX_ZIP_BYTES:
        intake.refuse(name, f"The zip is over {MAX_ZIP_BYTES // 2**20} MB.")
        return
    limits = ArchiveLimits(max_files=MAX_BATCH_ITEMS, max_entry_bytes=DEFAULT_LIMITS.max_bytes)
    try:
        entries = read_zip_photos(upload.read(MAX_ZIP_BYTES + 1), limits)
    except IntakeError as exc:
        intake.refuse(name, f"The zip was not opened: {exc.message}.")
        return
    for stem, data in entries:
        _add_photo(intake, f"{name}/{stem}", stem, data)


def _read_csv(intake: Intake, name: str, upload: UploadedFile) -> None:
    if upload.size is not None and upload.size > MAX_CSV_BYTES:
        intake.refuse(name, f"The CSV is over {MAX_CSV_BYTES // 1024} KB.")
        return
    raw = upload.read(MAX_CSV_BYTES + 1)
    if len(raw) > MAX_CSV_BYTES:
        intake.refuse(name, f"The CSV is over {MAX_CSV_BYTES // 1024} KB.")
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        intake.refuse(name, "The CSV is not UTF-8 text.")
        return
    if "\x00" in text:
        intake.refuse(name, "The CSV is not text.")
        return
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        intake.refuse(name, f"The CSV cannot be read: {exc}.")
        return
    if not rows:
        intake.refuse(name, "The CSV is empty.")
        return
    header = [cell.strip().lower() for cell in rows[0]]
    file_column = next((header.index(c) for c in FILE_COLUMN_NAMES if c in header), None)
    if file_column is None:
        intake.refuse(
            name, "The CSV needs a header row with a file column: " + ",".join(CSV_COLUMNS)
        )
        return
    if len(rows) - 1 > MAX_CSV_ROWS:
        intake.refuse(name, f"The CSV has over {MAX_CSV_ROWS} people.")
        return
    columns = {column: header.index(column) for column in CSV_COLUMNS[1:] if column in header}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        stem = PurePosixPath(_cell(row, file_column).replace("\\", "/")).stem
        if not stem:
            intake.refuse(f"{name} line {number}", "No file name.")
            continue
        person = Person(**{column: _cell(row, index) for column, index in columns.items()})
        if person.email and not _EMAIL.match(person.email):
            intake.refuse(f"{name} line {number}", f"{person.email!r} is not an email address.")
            person.email = ""
        intake.people[stem.lower()] = person


def _cell(row: list[str], index: int) -> str:
    return row[index].strip()[:200] if index < len(row) else ""


def _match_people(intake: Intake) -> None:
    """Give each photo its CSV row; a row whose photo is missing is reported."""
    stems = {photo.stem.lower() for photo in intake.photos}
    for photo in intake.photos:
        photo.person = intake.people.get(photo.stem.lower()) or Person(name=name_from(photo.stem))
        if not photo.person.name:
            photo.person.name = name_from(photo.stem)
    for stem in intake.people:
        if stem not in stems and not any(p.file.endswith(stem) for p in intake.problems):
            intake.refuse(f"CSV row {stem}", "No photo with this file name in the upload.")


def _one_photo_each(intake: Intake) -> None:
    """Two photos of one person (the CSV gives both the same email): the first counts."""
    seen: dict[str, str] = {}
    kept = []
    for photo in intake.photos:
        if photo.external_id in seen:
            intake.refuse(photo.file, f"{seen[photo.external_id]} is already this person's photo.")
        else:
            seen[photo.external_id] = photo.file
            kept.append(photo)
    intake.photos = kept


def name_from(stem: str) -> str:
    """A readable name from a file name: "jane.doe" -> "Jane Doe"."""
    return " ".join(part.capitalize() for part in _SEPARATORS.split(stem) if part)[:200]
