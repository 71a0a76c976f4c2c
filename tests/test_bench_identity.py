"""`manage.py bench_identity`: it runs and prints parseable figures (no timing asserted)."""

import io
import re

import numpy as np
import pytest
from django.core.management import call_command

from bench.identity_bench import close_pairs

NUMBER = r"[\d,]+(?:\.\d+)?"


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def test_close_pairs_matches_brute_force():
    rng = np.random.default_rng(7)
    points = rng.random((230, 12))
    points[50] = points[3] + 0.001  # a few near-duplicates across blocks
    points[180] = points[3] + 0.002
    points[101] = points[100]
    diff = points[:, None, :] - points[None, :, :]
    rms = np.sqrt((diff**2).mean(axis=2))
    upper = np.triu(np.ones_like(rms, dtype=bool), k=1)
    threshold = 0.2
    count, closest = close_pairs(points, threshold, block=64, keep=4)
    assert count == int(np.count_nonzero((rms < threshold) & upper))
    expected = sorted((rms[i, j], i, j) for i, j in zip(*np.nonzero(upper), strict=True))[:4]
    assert [(i, j) for _, i, j in closest] == [(i, j) for _, i, j in expected]
    assert np.allclose([r for r, _, _ in closest], [r for r, _, _ in expected], atol=1e-7)


def test_bench_identity_quick_prints_all_sections():
    buf = io.StringIO()
    styles = "identicon,dicebear-identicon"
    call_command(
        "bench_identity", "--quick", "--dicebear-ids", "50", "--styles", styles, stdout=buf
    )
    text = buf.getvalue()

    for heading in ("1. Distinctness", "2. Speed", "3. Served latency", "Summary"):
        assert heading in text, text

    pairs = re.search(rf"close = RMS < ({NUMBER}), ({NUMBER}) pairs", text, re.MULTILINE)
    assert pairs, text
    threshold, pair_count = _number(pairs[1]), _number(pairs[2])
    distinct = re.search(
        rf"^identicon\s+(\d+)\s+({NUMBER})\s+({NUMBER}|-)\s+({NUMBER})\s+<= 1/M \((\d+)\)"
        rf"\s+(OK|MISS)$",
        text,
        re.MULTILINE,
    )
    assert distinct, text
    close, per_million, seconds = int(distinct[1]), _number(distinct[2]), _number(distinct[4])
    # The figures agree with each other: the rate is the count over the pairs, the
    # verdict follows the allowance, and the nearest pair is close exactly when any is.
    assert per_million == pytest.approx(close / pair_count * 1e6, abs=0.006)
    assert distinct[6] == ("OK" if close <= int(distinct[5]) else "MISS")
    assert seconds > 0
    assert f"Closest pairs in the worst style (identicon, {close} close):" in text
    listed = re.findall(r"^  user-\d+\s+user-\d+\s+rms (\d\.\d{4})$", text, re.MULTILINE)
    assert listed, text
    rms = [float(value) for value in listed]
    assert rms == sorted(rms) and f"{rms[0]:.4f}" == distinct[3]
    assert (rms[0] < threshold) == (close > 0)
    assert sum(value < threshold for value in rms) == min(close, len(rms))

    speed = re.search(
        rf"^identicon\s+({NUMBER})\s+-\s+>= 10,000/s\s+(OK|MISS)\s+({NUMBER})\s+({NUMBER})"
        rf"\s+>= 500/s\s+(OK|MISS)"
        rf"\s+-?{NUMBER}$",
        text,
        re.MULTILINE,
    )
    assert speed, text
    assert _number(speed[1]) > 0 and _number(speed[3]) > 0 and _number(speed[4]) > 0

    # DiceBear's identicon: timed beside dicebear-core alone, its figures for comparison.
    core = re.search(
        rf"^dicebear-identicon\s+({NUMBER})\s+({NUMBER})\s+~ core alone\s+(OK|MISS)"
        rf"\s+({NUMBER})\s+({NUMBER})\s+>= 500/s\s+INFO",
        text,
        re.MULTILINE,
    )
    assert core, text
    assert _number(core[1]) > 0 and _number(core[2]) > 0
    assert re.search(r"^dicebear-identicon\s+\d+\s+[\d.]+.*\sINFO$", text, re.MULTILINE), text

    for label, status in (("GET 200 \\(cached\\)", 200), ("GET 304 \\(If-None-Match\\)", 304)):
        row = re.search(
            rf"^{label}\s+{status}x100\s+(\d+)\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})"
            rf"\s+p50 < 5 ms\s+(OK|MISS)$",
            text,
            re.MULTILINE,
        )
        assert row, text
        p50, p95, p99 = (_number(row[i]) for i in (2, 3, 4))
        assert 0 < p50 <= p95 <= p99

    served = re.findall(r"^URL http://127.0.0.1:\d+(\S+) ", text, re.MULTILINE)
    assert served == [
        "/v1/avatars/people/alice.png?size=128",
        "/v1/avatars/dicebear-lorelei/alice.png?size=128",
        "/10.x/lorelei/png?seed=alice&size=128",
    ]
    summary = re.search(r"^(\d+) OK, (\d+) MISS, (\d+) exempt, (\d+) DiceBear", text, re.M)
    assert summary, text
    # per style: distinct, SVG, PNG; then 200 and 304 for each of the three served paths
    assert sum(int(summary[i]) for i in (1, 2, 3, 4)) == 2 * 3 + 3 * 2
    assert int(summary[4]) == 2  # DiceBear's distinctness and PNG rate
