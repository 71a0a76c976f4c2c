"""A set of photos sent to train a custom model: as URLs (fetched as safely as
image_url), as base64, or as a zip in the multipart `archive` field.

The checks that need no model run here, before anything is stored or charged:
the count, each photo's bytes (decodable, within size), the set's total. A
failure answers 422 `IMAGE_NOT_VALID` with a reason per photo (`index` is the
photo's position; -1 for the set as a whole). The set checks that need face
or pet detection run first thing in the training job, whose model then
answers status IMAGE_NOT_VALID with the same kind of reasons.

Nothing here logs or keeps a URL, a file name or a digest of a photo.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from django.http import HttpRequest, JsonResponse
from ninja import Schema
from pydantic import ValidationError

from generation.errors import ApiError
from generation.intake import IntakeError
from generation.intake.archive import ArchiveLimits, MiB, read_zip_photos
from generation.intake.fetch import fetch_image
from generation.photo_input import check_photo_header, decode_base64, fetch_policy
from generation.portrait.load import DEFAULT_LIMITS

ARCHIVE_FIELD = "archive"
S = TypeVar("S", bound=Schema)
FETCH_THREADS = 8
INVALID = "IMAGE_NOT_VALID"


@dataclass(frozen=True)
class SetRules:
    """How many photos a set holds, and how many bytes in all."""

    noun: str
    fewest: int
    most: int
    max_total_bytes: int
    photo_checks: bool  # each one readable as a portrait photo (a style's examples may be small)

    def count_problem(self, count: int) -> dict | None:
        if count < self.fewest:
            return problem(-1, "too_few", f"{count} {self.noun}; at least {self.fewest} needed.")
        if count > self.most:
            return problem(-1, "too_many", f"{count} {self.noun}; at most {self.most} allowed.")
        return None


SUBJECT_SET = SetRules("photos", 5, 30, 200 * MiB, photo_checks=True)
STYLE_SET = SetRules("example images", 50, 200, 400 * MiB, photo_checks=False)


def problem(index: int, code: str, message: str) -> dict:
    return {"index": index, "code": code, "message": message}


class SetNotValid(Exception):
    """The set cannot be trained: a reason per photo."""

    def __init__(self, problems: list[dict]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems

    def response(self) -> JsonResponse:
        count = len(self.problems)
        return JsonResponse(
            {
                "code": INVALID,
                "message": f"The set cannot be trained ({count} problem{'s' * (count != 1)}); "
                "nothing was charged.",
                "problems": self.problems,
            },
            status=422,
        )


class SetIn(Schema):
    """The photo sources of a training call (exactly one of them)."""

    image_urls: list[str] | None = None
    images_base64: list[str] | None = None


def read_body(request: HttpRequest, schema: type[S]) -> S:
    """The call's fields, from JSON or from a multipart form (beside its zip)."""
    try:
        if request.content_type == "multipart/form-data":
            return schema(**{k: v for k, v in request.POST.items() if k != ARCHIVE_FIELD})
        return schema.model_validate_json(request.body)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", _first_error(exc)) from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ())) or "body"
    return f"{where}: {error.get('msg', 'invalid')}"


def read_set(request: HttpRequest, body: SetIn, rules: SetRules) -> list[bytes]:
    """The set's photos, each checked on its own; raises SetNotValid (or
    ApiError for a malformed call) before anything is stored."""
    if request.content_type == "multipart/form-data":
        return _checked(_archive_photos(request, rules), rules)
    if bool(body.image_urls) == bool(body.images_base64):
        raise ApiError(
            400, "missing_images", "Send exactly one of image_urls, images_base64 or an archive."
        )
    items = body.image_urls or body.images_base64
    if (count := rules.count_problem(len(items))) is not None:
        raise SetNotValid([count])
    if body.image_urls:
        readers = [_fetcher(url) for url in body.image_urls]
    else:
        readers = [_decoder(text) for text in body.images_base64]
    with ThreadPoolExecutor(FETCH_THREADS, thread_name_prefix="reference-set") as pool:
        results = list(pool.map(_attempt, readers))
    unread = {index: problem(index, code, message) for index, (_, code, message)
              in enumerate(results) if code is not None}  # fmt: skip
    return _checked([data for data, _, _ in results], rules, unread)


Reader = Callable[[], bytes]


def _fetcher(url: str) -> Reader:
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        return lambda: _refuse("bad_url", "Each image_url must be an http(s) URL.")
    return lambda: fetch_image(url, fetch_policy())


def _decoder(text: str) -> Reader:
    return lambda: decode_base64(text, DEFAULT_LIMITS.max_bytes)


def _refuse(code: str, message: str) -> bytes:
    raise IntakeError(code, message)


def _attempt(read: Reader) -> tuple[bytes, str | None, str]:
    """(photo, None, "") or (b"", code, message): one photo's failure names only itself."""
    try:
        return read(), None, ""
    except IntakeError as exc:
        return b"", exc.code, exc.message
    except ApiError as exc:
        return b"", "not_an_image", exc.message


def _archive_photos(request: HttpRequest, rules: SetRules) -> list[bytes]:
    upload = request.FILES.get(ARCHIVE_FIELD)
    if upload is None:
        raise ApiError(400, "missing_images", f"Upload the zip as the {ARCHIVE_FIELD!r} field.")
    if upload.size > rules.max_total_bytes:
        raise ApiError(413, "archive_too_large", f"The zip is over {rules.max_total_bytes} bytes.")
    limits = ArchiveLimits(
        max_files=rules.most,
        max_total_bytes=rules.max_total_bytes,
        max_entry_bytes=DEFAULT_LIMITS.max_bytes,
    )
    try:
        photos = read_zip_photos(upload.read(), limits)
    except IntakeError as exc:
        if exc.code == "too_many_files":
            raise SetNotValid([problem(-1, "too_many", exc.message)]) from None
        status = 413 if exc.code == "archive_too_large" else 400
        raise ApiError(status, exc.code, exc.message) from None
    photos.sort(key=lambda item: item[0])  # index = position by file name
    if (count := rules.count_problem(len(photos))) is not None:
        raise SetNotValid([count])
    return [data for _, data in photos]


def check_photos(photos: list[bytes], rules: SetRules) -> list[bytes]:
    """A set uploaded some other way (the training page): its count, each
    photo and its total, as for the API."""
    if (count := rules.count_problem(len(photos))) is not None:
        raise SetNotValid([count])
    return _checked(photos, rules)


def _checked(photos: list[bytes], rules: SetRules, unread: dict[int, dict] | None = None):
    """Every photo read, readable and within limits (from its header), and
    the set within its total size; `unread` holds the photos that could not
    be read at all."""
    if sum(len(photo) for photo in photos) > rules.max_total_bytes:
        raise ApiError(
            413, "set_too_large", f"The {rules.noun} add up to over {rules.max_total_bytes} bytes."
        )
    problems = dict(unread or {})
    for index, photo in enumerate(photos):
        if index in problems or not rules.photo_checks:
            continue
        try:
            check_photo_header(photo)
        except ApiError as exc:
            problems[index] = problem(index, "not_an_image", exc.message)
    if problems:
        raise SetNotValid([problems[index] for index in sorted(problems)])
    return photos
