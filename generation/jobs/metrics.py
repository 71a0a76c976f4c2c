"""GET /metrics: Prometheus text, computed from the database.

The database is the source of truth for jobs, so every server and worker
process reports the same numbers whichever one is scraped.

Access: with METRICS_TOKEN set, a scrape must send `Authorization: Bearer
<token>` (Prometheus' `authorization` scrape setting); with METRICS_ALLOWED_IPS
set, it must come from one of those addresses or networks. Both set, both
apply. Neither set: loopback only.
"""

import hmac
import ipaddress
from collections import Counter, defaultdict

from django.conf import settings
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse

from accounts.models import CreditEntry
from generation.models import Job

RECENT_JOBS = 1000  # stage latencies are summarised over the latest finished jobs
QUANTILES = (0.5, 0.95, 0.99)
CHECK_WARNINGS = ("no_face_in_output", "likeness_below_threshold", "unsafe_output")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render_metrics() -> str:
    lines: list[str] = []

    def metric(name: str, kind: str, text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)

    by_state = dict(Job.objects.values_list("state").annotate(n=Count("pk")))
    metric(
        "avatar_jobs",
        "gauge",
        "Jobs by state.",
        [(f'{{state="{s}"}}', by_state.get(s, 0)) for s in Job.State.values],
    )
    metric(
        "avatar_queue_depth",
        "gauge",
        "Jobs waiting for a worker.",
        [("", by_state.get("queued", 0))],
    )

    recent = Job.objects.filter(state=Job.State.DONE).order_by("-finished_at")
    results = [r for r in recent.values_list("result", flat=True)[:RECENT_JOBS] if r]
    stages: dict[str, list[float]] = defaultdict(list)
    failures: Counter[tuple[str, str]] = Counter()
    for result in results:
        for stage, ms in (result.get("stage_ms") or {}).items():
            stages[stage].append(float(ms))
        for warning in result.get("validation_warnings") or ():
            if warning in CHECK_WARNINGS:
                failures[(warning, result.get("style", ""))] += 1
    lines.append("# HELP avatar_stage_latency_ms Pipeline stage latency over recent jobs.")
    lines.append("# TYPE avatar_stage_latency_ms summary")
    for stage, values in sorted(stages.items()):
        name = f'stage="{_label(stage)}"'
        for q in QUANTILES:
            lines.append(
                f'avatar_stage_latency_ms{{{name},quantile="{q}"}} {_quantile(values, q):g}'
            )
        lines.append(f"avatar_stage_latency_ms_sum{{{name}}} {sum(values):g}")
        lines.append(f"avatar_stage_latency_ms_count{{{name}}} {len(values)}")
    metric(
        "avatar_quality_check_failures",
        "gauge",
        "Unmet quality checks over recent delivered jobs, by check and style.",
        [(f'{{check="{c}",style="{_label(s)}"}}', n) for (c, s), n in sorted(failures.items())],
    )
    ledger = dict(CreditEntry.objects.values_list("reason").annotate(total=Sum("delta")).order_by())
    charged = -(ledger.get("reserve", 0) or 0) - (ledger.get("release", 0) or 0)
    metric(
        "avatar_credits_charged_total",
        "counter",
        "Credits spent on delivered avatars.",
        [("", charged)],
    )
    failed = dict(
        Job.objects.filter(state=Job.State.FAILED)
        .values_list("error_code")
        .annotate(n=Count("pk"))
        .order_by()
    )
    metric(
        "avatar_jobs_failed",
        "gauge",
        "Failed jobs by error code.",
        [(f'{{code="{_label(code)}"}}', n) for code, n in sorted(failed.items())],
    )
    return "\n".join(lines) + "\n"


LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def _allowed_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None:
    """The networks a scrape may come from; None: any (a token guards it)."""
    if settings.METRICS_ALLOWED_IPS:
        return tuple(settings.METRICS_ALLOWED_IPS)
    return None if settings.METRICS_TOKEN else LOOPBACK


def _client_allowed(request: HttpRequest) -> bool:
    networks = _allowed_networks()
    if networks is None:
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _token_given(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def _refused(status: int, code: str, message: str) -> JsonResponse:
    response = JsonResponse({"code": code, "message": message}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _client_allowed(request):
        return _refused(403, "forbidden", "Metrics are not served to this address.")
    if not _token_given(request):
        return _refused(401, "unauthorized", "Metrics need the scrape token (Bearer).")
    return HttpResponse(render_metrics(), content_type="text/plain; version=0.0.4; charset=utf-8")
