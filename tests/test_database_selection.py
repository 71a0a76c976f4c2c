"""The PostgreSQL pass selects every database test: `-m django_db` also picks
tests that get the database from a fixture (tests/conftest.py)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def collected(*args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return {line.split("::", 1)[1] for line in result.stdout.splitlines() if "::" in line}


def test_the_django_db_marker_selects_tests_using_the_db_fixture():
    selected = collected("-m", "django_db", "tests/test_credits.py", "tests/test_operations.py")
    for name in (
        "test_ledger_is_append_only",  # the `db` fixture, no marker
        "test_reserving_more_than_the_balance_takes_nothing",
        "test_release_happens_once_per_job",
        "test_saving_a_stale_account_keeps_the_balance",
        "test_two_concurrent_requests_for_the_last_credit",  # marked
        "test_deleting_an_account_deletes_its_files",  # marked
    ):
        assert name in selected, sorted(selected)
    assert "test_json_logs_carry_request_and_job_ids" not in selected  # no database at all
