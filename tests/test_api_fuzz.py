"""Schema-driven fuzzing of every /v1 operation with schemathesis, in-process over WSGI.

Every operation in /v1/openapi.json gets bounded, derandomized runs of generated requests
(with a valid API key where one is needed): positive and negative data straight from the
schema, then "near miss" data built from real style slugs, formats, photos and ids so that
requests get past the first validation step; and, for the authenticated operations, requests
without a valid key (which must all answer 401). Every response must:

- not be a server error (>= 500);
- use a status code, content type and body that the schema documents;
- when it is a 4xx with a JSON body, carry a string ``code`` and a string ``message``.

All failures are collected and reported together; the test fails if there are any. The only
tolerance is KNOWN_UNDOCUMENTED (API bugs found here, listed in the printed summary).
"""

import base64
import io
import json
from collections import Counter, defaultdict

import pytest
import schemathesis
from django.contrib.auth import get_user_model
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

from generation.jobs.worker import run_available_jobs
from generation.models import Batch, IdentityAvatar, Job, Palette, Style
from generation.portrait.presets import PLATFORMS
from generation.portrait.styles import BACKGROUNDS, STYLES
from tests.service_helpers import make_account

MAX_EXAMPLES = 20  # per operation and pass; the whole test stays well under a minute


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
    external_id = st.sampled_from(["emp-1", "emp-2", "../x", " ", "a/b c"]) | st.text(max_size=9)
    url_ok = "http://fuzz.invalid/a.jpg"  # accepted; the worker's fetch then fails
    url = st.sampled_from([url_ok, "https://", "ftp://x/y.jpg", ""])
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
                "public_id": st.sampled_from([*public_ids, "nobody"]),
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
        return near_miss_batch_bodies().flatmap(
            lambda body: operation.as_strategy(body=body, media_type="application/json")
        )
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
    _, key = make_account("fuzz", credits=50)
    # Signing up gives a user a stored identity avatar, for /v1/users/{public_id}/...
    get_user_model().objects.create_user("fuzzy", password="pw-123456789", first_name="Fuzz")
    auth = {"Authorization": f"Bearer {key}"}
    known_seen.clear()

    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9, [op.label for op in operations]

    statuses: dict[str, Counter] = defaultdict(Counter)
    failures: list[str] = []

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
    assert not failures, "\n\n".join(failures)
    assert all(statuses[op.label] for op in operations)
