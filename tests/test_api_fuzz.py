"""Schema-driven fuzzing of every /v1 operation with schemathesis, in-process over WSGI.

Every operation in /v1/openapi.json gets bounded, derandomized runs of generated requests
(with a valid API key where one is needed): positive and negative data straight from the
schema, then "near miss" data built from real style slugs, formats, photos and ids so that
requests get past the first validation step; and, for the authenticated operations, requests
without a valid key (which must all answer 401). Every response must:

- not be a server error (>= 500);
- use a status code, content type and body that the schema documents;
- when it is a 4xx with a JSON body, carry a string ``code`` and a string ``message``;
- never accept (2xx) a request with a NUL character in a path, query or body string, and after
  the run no stored text may hold one (PostgreSQL refuses them: a 500 there, silently stored on
  SQLite).

A "hostile" pass then sends every operation that takes a body what clients get wrong or
attackers try: JSON and multipart bodies beyond DATA_UPLOAD_MAX_MEMORY_SIZE (413), a NUL
character in JSON (400), multipart without a boundary (400) or cut short (4xx).

All failures are collected and reported together; the test fails if there are any. The only
tolerance is KNOWN_UNDOCUMENTED (API bugs found here, listed in the printed summary).
"""

import base64
import io
import json
from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest
import schemathesis
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import CharField, JSONField, TextField
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from avatarsite.request_checks import contains_nul
from generation.jobs.worker import run_available_jobs
from generation.models import Batch, IdentityAvatar, Job, Palette, Style
from generation.portrait.presets import PLATFORMS
from generation.portrait.styles import BACKGROUNDS, STYLES
from tests.openapi_refs import unresolvable_refs
from tests.service_helpers import make_account, zip_of

MAX_EXAMPLES = 20  # per operation and pass; the whole test stays well under a minute
UPLOAD_LIMIT = 256 * 1024  # DATA_UPLOAD_MAX_MEMORY_SIZE for the run: bodies beyond it stay cheap


def fuzz_settings(max_examples: int = MAX_EXAMPLES) -> settings:
    return settings(
        max_examples=max_examples,
        derandomize=True,  # the same examples on every run, so CI is repeatable
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure reports as found
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def error_body_has_code_and_message(ctx, response, case):
    """A 4xx answer with a JSON body is {"code": str, "message": str, ...}."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    if "json" not in content_type.lower():
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise Failure(
            operation=case.operation.label,
            title="Error body is not valid JSON",
            message=f"{response.status_code} with Content-Type {content_type}",
        ) from None
    ok = (
        isinstance(body, dict)
        and isinstance(body.get("code"), str)
        and isinstance(body.get("message"), str)
    )
    if not ok:
        raise Failure(
            operation=case.operation.label,
            title="Error body lacks a string code and message",
            message=f"{response.status_code}: {response.content[:300]!r}",
        )
    return None


def holds_nul(value) -> bool:
    """A NUL character in a string anywhere in `value` (bytes, e.g. a zip upload, may hold any)."""
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(holds_nul(v) for v in value)
    return isinstance(value, str) and "\x00" in value


def case_holds_nul(case) -> bool:
    parts = (case.path_parameters, case.query, case.body)
    return any(holds_nul(part) for part in parts if isinstance(part, (dict, list, str)))


def inject_nul(value) -> bool:
    """Put a NUL character into the first non-empty string found in `value` (in place)."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(item, str) and item:
            value[key] = f"{item[:1]}\x00{item[1:]}"
            return True
        if isinstance(item, (dict, list)) and inject_nul(item):
            return True
    return False


def with_nul(case):
    """A near-miss case (otherwise likely valid) with a NUL in its body, else its path or query."""
    for part in (case.body, case.path_parameters, case.query):
        if isinstance(part, (dict, list)) and inject_nul(part):
            break
    return case


def nul_never_accepted(ctx, response, case):
    """No text column can hold a NUL character: a request carrying one is refused."""
    if 200 <= response.status_code < 300 and case_holds_nul(case):
        raise Failure(
            operation=case.operation.label,
            title="Accepted a NUL character",
            message=f"{response.status_code} for a request holding \\x00",
        )
    return None


def stored_nul_characters() -> list[str]:
    """Every stored text value (of this project's apps) holding a NUL character."""
    found = []
    for app in ("accounts", "generation"):
        for model in apps.get_app_config(app).get_models():
            fields = [
                f.name
                for f in model._meta.concrete_fields
                if isinstance(f, (CharField, TextField, JSONField)) and not f.primary_key
            ]
            for pk, *values in model._base_manager.values_list("pk", *fields):
                found += [
                    f"{model.__name__} {pk}: {name}"
                    for name, value in zip(fields, values, strict=True)
                    if contains_nul(value)
                ]
    return found


# API bugs the fuzzing found and that are not fixed yet: (operation, status) answered but not
# documented. Each one is printed in the summary; delete the entry once the API documents it.
KNOWN_UNDOCUMENTED: set[tuple[str, int]] = set()  # (operation, status) tolerated: none now
known_seen: Counter = Counter()


def documented_status_code(ctx, response, case):
    """status_code_conformance, tolerating only the KNOWN_UNDOCUMENTED gaps."""
    try:
        return status_code_conformance(ctx, response, case)
    except Failure:
        known = (case.operation.label, response.status_code)
        if known not in KNOWN_UNDOCUMENTED:
            raise
        known_seen[known] += 1
        return None


CHECKS = [
    not_a_server_error,
    documented_status_code,
    content_type_conformance,
    response_schema_conformance,
    error_body_has_code_and_message,
    nul_never_accepted,
]


def image_b64(side: int, fmt: str = "PNG") -> str:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (128, 120, 110)).save(out, fmt)
    return base64.b64encode(out.getvalue()).decode()


# Photos in base64 that pass or fail the header check: a blank (faceless) photo the worker
# will refuse quickly, one under the minimum side, and bytes that are not an image at all.
PHOTO_B64 = [
    image_b64(200),
    image_b64(64),
    base64.b64encode(b"\x89PNG\r\n\x1a\n not really").decode(),
    "not base64 at all!",
    "",
]


def mostly(valid: list[str], invalid: list[str]) -> st.SearchStrategy[str]:
    """A valid value four times in five, else an invalid one."""
    return st.integers(0, 4).flatmap(lambda n: st.sampled_from(invalid if n == 0 else valid))


SEEDS = st.text(min_size=0, max_size=40)
MAYBE = st.none() | st.text(max_size=12)


def near_miss_generate_bodies() -> st.SearchStrategy[dict]:
    body = st.fixed_dictionaries(
        {"image_base64": st.sampled_from(PHOTO_B64)},
        optional={
            "style": st.sampled_from(sorted(STYLES)) | st.text(max_size=12),
            "platform": st.none() | st.sampled_from(sorted(PLATFORMS)) | st.text(max_size=8),
            "palette": st.none()
            | st.lists(st.sampled_from(["#112233", "#abc", "fff", "red", ""]), max_size=9),
            "background": st.none() | st.sampled_from(sorted(BACKGROUNDS)) | st.text(max_size=8),
            "style_intensity": st.none() | st.floats(-1, 2, allow_nan=False),
            "cache_input": st.booleans(),
            "image_url": st.none() | st.sampled_from(["", "ftp://x/y.jpg", "http://[::1/x"]),
        },
    )
    return body


def near_miss_batch_bodies() -> st.SearchStrategy[dict]:
    external_id = st.sampled_from(["emp-1", "emp-2", "../x", " ", "a/b c", "nul\x00id"]) | st.text(
        max_size=9
    )
    url_ok = "http://fuzz.invalid/a.jpg"  # accepted; the worker's fetch then fails
    url = st.sampled_from([url_ok, "https://", "ftp://x/y.jpg", "", "http://fuzz.invalid/\x00"])
    valid_item = st.one_of(
        st.fixed_dictionaries({"external_id": external_id, "image_url": st.just(url_ok)}),
        st.fixed_dictionaries({"external_id": external_id, "image_base64": st.just(PHOTO_B64[0])}),
    )
    any_item = st.fixed_dictionaries(
        {"external_id": external_id},
        optional={"image_url": st.none() | url, "image_base64": st.sampled_from(PHOTO_B64)},
    )
    items = st.lists(valid_item, min_size=1, max_size=3) | st.lists(any_item, max_size=3)
    return st.fixed_dictionaries(
        {"items": items},
        optional={
            "style": st.sampled_from(sorted(STYLES)) | st.just("no_such_style"),
            "platform": st.none() | st.sampled_from(sorted(PLATFORMS)),
            "palette": st.none() | st.lists(st.sampled_from(["#112233", "bad"]), max_size=3),
            "background": st.none() | st.sampled_from(sorted(BACKGROUNDS)),
            "style_intensity": st.none() | st.floats(-1, 2, allow_nan=False),
        },
    )


PHOTO = base64.b64decode(PHOTO_B64[0])
ARCHIVES = [
    zip_of({"emp-1.png": PHOTO, "emp-2.png": PHOTO}),
    zip_of({"emp-\x001.png": PHOTO}),  # zipfile cuts a name at a NUL
    zip_of({"../../etc/passwd.png": PHOTO, "notes.txt": b"hello"}),
    zip_of({"small.png": base64.b64decode(PHOTO_B64[1])}),
    zip_of({}),
    b"PK\x03\x04 not really a zip",
]


def near_miss_archive_forms() -> st.SearchStrategy[dict]:
    """Multipart batch uploads: real zips of photos (and broken ones) with the form fields."""
    return st.fixed_dictionaries(
        {"archive": st.sampled_from(ARCHIVES)},
        optional={
            "style": st.sampled_from([*sorted(STYLES), "no_such_style", "anime\x00"]),
            "platform": st.sampled_from([*sorted(PLATFORMS), "\x00"]),
            "background": st.sampled_from([*sorted(BACKGROUNDS), ""]),
            "palette": st.sampled_from(["#112233,#abcdef", "bad", "#112233\x00"]),
        },
    )


def near_miss_cases(operation, label: str) -> st.SearchStrategy | None:
    """Cases that look like real use of `operation`, or None when there is nothing to add."""
    if label == "GET /v1/avatars/{style}/{filename}":
        slugs = list(Style.objects.values_list("slug", flat=True)) + ["no-such-style"]
        palettes = list(Palette.objects.values_list("slug", flat=True))
        paths = st.fixed_dictionaries(
            {
                "style": st.sampled_from(slugs),
                "filename": st.builds(
                    "{}.{}".format, SEEDS, st.sampled_from(["svg", "png", "webp", "gif"])
                ),
            }
        )
        queries = st.fixed_dictionaries(
            {},
            optional={
                "size": mostly(["16", "64", "1024"], ["0", "15", "1025", "2x", "-1", ""]),
                "version": mostly(["1"], ["2", "999999", "x", "", "01"]),
                "palette": mostly(palettes + [f"{p}@1" for p in palettes], ["nope", "x@9", "@"]),
                "background": mostly(["default", "transparent", "ff0000", "#abc"], ["zz", ""]),
            },
        )
        return st.tuples(paths, queries).flatmap(
            lambda pq: operation.as_strategy(path_parameters=pq[0], query=pq[1])
        )
    if label == "GET /v1/users/{public_id}/{filename}":
        public_ids = [
            str(pid) for pid in IdentityAvatar.objects.values_list("public_id", flat=True)
        ]
        paths = st.fixed_dictionaries(
            {
                "public_id": st.sampled_from([*public_ids, "nobody", "\x00"]),
                "filename": st.sampled_from(
                    ["avatar.svg", "avatar.png", "avatar.webp", "avatar", ".png", "x.png"]
                ),
            }
        )
        queries = st.fixed_dictionaries(
            {}, optional={"size": st.sampled_from(["16", "100", "1024", "0", "2000", "x", ""])}
        )
        return st.tuples(paths, queries).flatmap(
            lambda pq: operation.as_strategy(path_parameters=pq[0], query=pq[1])
        )
    if label == "POST /v1/avatar/generate":
        return near_miss_generate_bodies().flatmap(lambda body: operation.as_strategy(body=body))
    if label == "POST /v1/avatar/batch":
        as_json = near_miss_batch_bodies().flatmap(
            lambda body: operation.as_strategy(body=body, media_type="application/json")
        )
        as_zip = near_miss_archive_forms().flatmap(
            lambda form: operation.as_strategy(body=form, media_type="multipart/form-data")
        )
        return as_json | as_zip
    ids = {
        "GET /v1/jobs/{job_id}": ("job_id", Job),
        "GET /v1/batches/{batch_id}": ("batch_id", Batch),
        "GET /v1/batches/{batch_id}/results.zip": ("batch_id", Batch),
    }
    if label in ids:
        name, model = ids[label]
        known = [str(pk) for pk in model.objects.values_list("pk", flat=True)]
        if not known:
            return None
        return st.sampled_from(known).flatmap(
            lambda pk: operation.as_strategy(path_parameters={name: pk})
        )
    return None


def refused_without_key(ctx, response, case):
    """Without a valid API key, an authenticated operation answers 401."""
    if response.status_code != 401:
        raise Failure(
            operation=case.operation.label,
            title="Answered without a valid API key",
            message=f"{response.status_code}: {response.content[:300]!r}",
        )
    return None


UNAUTHENTICATED_CHECKS = [not_a_server_error, refused_without_key, error_body_has_code_and_message]


def run_cases(
    strategy, headers: dict | None, statuses: Counter, max_examples: int, checks=CHECKS
) -> None:
    """Send generated requests and check every response; raises on the first failure."""

    @fuzz_settings(max_examples)
    @given(case=strategy)
    def fuzz(case):
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=checks, headers=headers)

    fuzz()


@dataclass(frozen=True)
class Hostile:
    """A raw body sent in place of the generated one, and the status it must get
    (None: any 4xx)."""

    name: str
    content_type: str
    body: bytes
    status: int | None


BOUNDARY = "fuzz-boundary-7c1e"


def form_part(name: str, value: str) -> str:
    return f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'


def hostile_bodies(multipart: bool) -> list[Hostile]:
    """What clients get wrong and attackers try, for an operation taking a body (and multipart)."""
    over = "x" * (UPLOAD_LIMIT + 1)
    bodies = [
        Hostile("JSON beyond the size limit", "application/json", json.dumps({"x": over}).encode(),
                413),
        Hostile("a NUL in JSON", "application/json",
                b'{"items": [{"external_id": "a\\u0000", "image_url": "http://x.test/\\u0000"}],'
                b' "image_url": "http://x.test/\\u0000", "name": "\\u0000", "style": "\\u0000"}',
                400),
    ]  # fmt: skip
    if multipart:
        closed = f"{form_part('style', 'anime')}--{BOUNDARY}--\r\n"
        with_boundary = f"multipart/form-data; boundary={BOUNDARY}"
        bodies += [
            Hostile("multipart without a boundary", "multipart/form-data", closed.encode(), 400),
            Hostile("a multipart field beyond the size limit", with_boundary,
                    f"{form_part('style', over)}--{BOUNDARY}--\r\n".encode(), 413),
            Hostile("multipart cut short", with_boundary, closed.encode()[:40], None),
        ]  # fmt: skip
    return bodies


def run_hostile(strategy, hostile: Hostile, headers: dict | None, statuses: Counter) -> None:
    """Send `hostile` in place of a generated case's body; check as any response, and its status."""

    def expected_status(ctx, response, case):
        status = response.status_code
        if (hostile.status is None and 400 <= status < 500) or status == hostile.status:
            return None
        raise Failure(
            operation=case.operation.label,
            title=f"{hostile.name}: answered {status}",
            message=f"expected {hostile.status or '4xx'}: {response.content[:300]!r}",
        )

    @fuzz_settings(1)
    @given(case=strategy)
    def send(case):
        sent = {**(headers or {}), "Content-Type": hostile.content_type}
        response = case.call(headers=sent, data=hostile.body)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=[*CHECKS, expected_status], headers=sent)

    send()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_operation_survives_schema_fuzzing(settings, identity_defaults, capsys):
    from avatarsite.wsgi import application

    settings.GENERATE_WAIT_SECONDS = 0
    settings.FETCH_ALLOWED_HOSTS = frozenset()
    # Accepted jobs wait in the queue and run below, between passes, in this thread: an
    # embedded worker thread writing beside the fuzzed requests makes SQLite's shared-cache
    # test database answer "table is locked" at random (a 500), and the run unrepeatable.
    settings.EMBEDDED_WORKER = False
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_LIMIT
    _, key = make_account("fuzz", credits=50)
    # Signing up gives a user a stored identity avatar, for /v1/users/{public_id}/...
    get_user_model().objects.create_user("fuzzy", password="pw-123456789", first_name="Fuzz")
    auth = {"Authorization": f"Bearer {key}"}
    known_seen.clear()

    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", application)
    # Unresolvable references leave operations unreadable to schema-driven clients.
    failures: list[str] = [
        f"[document] unresolvable {ref}" for ref in unresolvable_refs(schema.raw_schema)
    ]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9, [op.label for op in operations]

    statuses: dict[str, Counter] = defaultdict(Counter)

    def attempt(operation, pass_name: str, strategy, max_examples: int = MAX_EXAMPLES) -> None:
        headers = auth if operation.definition.raw.get("security") else None
        checks = CHECKS
        if pass_name == "no key":
            headers, checks = None, UNAUTHENTICATED_CHECKS
        try:
            run_cases(strategy, headers, statuses[operation.label], max_examples, checks)
        except (Exception, FailureGroup) as exc:  # collected, then all reported below
            failures.append(f"[{pass_name}] {operation.label}: {exc}")

    for operation in operations:
        attempt(operation, "positive", operation.as_strategy())
        raw = operation.definition.raw
        if raw.get("parameters") or raw.get("requestBody"):  # else there is nothing to break
            negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
            attempt(operation, "negative", negative, MAX_EXAMPLES // 2)
        if raw.get("security"):  # any generated credentials are wrong: always 401
            attempt(operation, "no key", operation.as_strategy(), MAX_EXAMPLES // 4)
        if raw.get("requestBody"):
            takes = raw["requestBody"].get("content", {})
            multipart = any(media.startswith("multipart/") for media in takes)
            headers = auth if raw.get("security") else None
            for hostile in hostile_bodies(multipart):
                try:
                    run_hostile(
                        operation.as_strategy(), hostile, headers, statuses[operation.label]
                    )
                except (Exception, FailureGroup) as exc:
                    failures.append(f"[hostile: {hostile.name}] {operation.label}: {exc}")
    # Generate and batch first, then run what they queued, so that the job and batch
    # lookups have real, finished jobs and batches to ask for.
    order = {"POST": 0, "GET": 1}
    ran = 0
    for operation in sorted(operations, key=lambda op: order.get(op.method.upper(), 2)):
        if operation.method.upper() != "POST" and not ran:
            ran = run_available_jobs("fuzz-worker") or -1
        strategy = near_miss_cases(operation, operation.label)
        if strategy is not None:
            attempt(operation, "near miss", strategy)
            attempt(operation, "near miss with a NUL", strategy.map(with_nul), MAX_EXAMPLES // 2)

    with capsys.disabled():
        total = sum(sum(counts.values()) for counts in statuses.values())
        jobs_run = max(ran, 0)
        print(
            f"\nschemathesis: {len(operations)} operations, {total} requests, {jobs_run} jobs run"
        )
        for label, counts in statuses.items():
            codes = ", ".join(f"{code}x{n}" for code, n in sorted(counts.items()))
            print(f"  {label}: {sum(counts.values())} ({codes})")
        for (label, code), n in sorted(known_seen.items()):
            print(f"  KNOWN API BUG, tolerated: {label} answered {code} (undocumented) x{n}")
    failures += [f"[stored] NUL character in {where}" for where in stored_nul_characters()]
    assert not failures, "\n\n".join(failures)
    assert all(statuses[op.label] for op in operations)
