"""`manage.py bench_service`: its helpers, and one --quick run (about 20 s) when
PostgreSQL and Redis answer. No timing is asserted."""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from bench import service_bench as sb
from tests.service_helpers import require_services


def test_percentile_and_rate():
    assert sb.percentile([], 50) != sb.percentile([], 50)  # nan
    assert sb.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert sb.percentile([0.0, 10.0], 95) == pytest.approx(9.5)
    # 5 finishes one second apart after 2 warm-up ones: 4 intervals in 4 s.
    assert sb.rate_per_minute([0, 0.5, 10, 11, 12, 13, 14], warmup=2) == pytest.approx(60.0)
    with pytest.raises(ValueError):
        sb.rate_per_minute([1.0, 2.0], warmup=1)


def test_urls_and_payloads():
    assert sb.redis_url(11).endswith(":6379/11")
    assert sb.with_database("postgres://u@h:5432/test", "x_1") == "postgres://u@h:5432/x_1"
    bodies = sb.photo_payloads(7)
    assert len(bodies) == 7
    assert {b["style"] for b in bodies} == set(sb.CLEAN_STYLES)
    assert all(b["image_base64"] and b["platform"] == "linkedin" for b in bodies)


def test_config_from_options():
    default = sb.config_from_options()
    assert (default.jobs, default.worker_counts, default.overhead_mode) == (40, (1, 2), "worker")
    quick = sb.config_from_options(quick=True, workers="2", calls=0)
    assert quick.jobs == sb.QUICK.jobs and quick.worker_counts == (2,) and quick.calls == 0
    assert sb.config_from_options(jobs=3).warmup == 1
    for bad in ({"jobs": 3, "warmup": 2}, {"workers": "0"}, {"overhead_mode": "x"}):
        with pytest.raises(ValueError):
            sb.config_from_options(**bad)
    with pytest.raises(CommandError):
        call_command("bench_service", "--jobs", "1", "--warmup", "5", stdout=io.StringIO())


def test_printing_helpers():
    row = sb.throughput_row(sb.Throughput(2, 40, 8, 123.45, 21.0, 0))
    assert len(row) == len(sb.throughput_header())
    assert "123.5" in row
    overhead = sb.Overhead("1 runworker", 3, {200: 3}, [10.0, 20.0, 40.0], [300.0, 310.0, 320.0])
    assert overhead.p50 == 20.0 and overhead.ok
    lines = sb.overhead_lines(overhead)
    assert "200x3" in lines[1] and "20.0 ms" in lines[1] and lines[1].endswith("OK")
    overhead.stages_ms = {name: [1.0, 2.0, 3.0] for name in sb.STAGES}
    stages = sb.overhead_lines(overhead)[2]
    assert all(f"{name} 2.0" in stages for name in sb.STAGES)
    slow = sb.Overhead("embedded", 1, {200: 1}, [45.0], [300.0])
    assert not slow.ok and sb.overhead_lines(slow)[1].endswith("MISS")


@pytest.mark.slow
def test_bench_service_quick_prints_figures():
    require_services(sb.unreachable_services())
    buf = io.StringIO()
    call_command("bench_service", "--quick", stdout=buf)
    text = buf.getvalue()
    for workers in (1, 2):
        assert re.search(rf"avatars/min with {workers} runworker\(s\): [\d.]+", text), text
    assert re.search(r"generate overhead \(1 runworker\): p50 [\d.]+ ms, p95 [\d.]+ ms", text)
    assert re.search(r"1 runworker\s+\d+ 200x\d+ ", text), text  # each waiting call: an avatar
    assert "p50 by stage" in text
