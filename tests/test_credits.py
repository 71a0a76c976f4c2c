"""The credit ledger: append-only, and one credit cannot be spent twice."""

import threading

import pytest
from django.db import connection

from accounts import credits
from accounts.models import CreditEntry
from generation.models import Job
from tests.service_helpers import make_account


def test_ledger_is_append_only(db):
    account, _ = make_account(credits=3)
    entry = CreditEntry.objects.get(account=account)
    entry.delta = 1000
    with pytest.raises(ValueError):
        entry.save()
    assert credits.balance(account) == 3


def test_reserving_more_than_the_balance_takes_nothing(db):
    account, _ = make_account(credits=2)
    jobs = [Job.objects.create(account=account, params={}) for _ in range(3)]
    with pytest.raises(credits.InsufficientCredits):
        credits.reserve(account, jobs)
    assert credits.balance(account) == 2 == credits.ledger_total(account)
    credits.reserve(account, jobs[:2])
    assert credits.balance(account) == 0 == credits.ledger_total(account)


def test_release_happens_once_per_job(db):
    account, _ = make_account(credits=1)
    job = Job.objects.create(account=account, params={})
    credits.reserve(account, [job])
    assert credits.balance(account) == 0
    assert credits.release(job) is True
    assert credits.release(job) is False
    assert credits.balance(account) == 1 == credits.ledger_total(account)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_for_the_last_credit(db):
    """Exactly one of two racing reservations wins; meaningful on PostgreSQL,
    where the two run truly in parallel under the account row lock."""
    if connection.vendor != "postgresql":
        pytest.skip("run by `make test` in its PostgreSQL pass")
    from django.db import connections, transaction

    account, _ = make_account("racer", credits=1)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def race() -> None:
        try:
            with transaction.atomic():
                job = Job.objects.create(account=account, params={})
                barrier.wait(timeout=10)
                credits.reserve(account, [job])
            outcomes.append("charged")
        except credits.InsufficientCredits:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["charged", "refused"]
    assert credits.balance(account) == 0 == credits.ledger_total(account)
    assert CreditEntry.objects.filter(reason="reserve").count() == 1
    assert Job.objects.count() == 1


def test_saving_a_stale_account_keeps_the_balance(db):
    account, _ = make_account("stale", credits=0)  # this instance still says 0
    credits.grant(account, 7)
    account.default_platform = "twitter"
    account.save()
    assert credits.balance(account) == 7 == credits.ledger_total(account)


@pytest.mark.django_db(transaction=True)
def test_a_job_that_crashes_the_worker_gives_its_credit_back(settings):
    """The worker's crash path (internal_error), not only the pipeline's own
    refusals, releases the held credit. The crash here is real: a job whose
    params lack a platform fails where the worker builds the pipeline request."""
    from generation.jobs.queue import enqueue
    from generation.jobs.worker import run_available_jobs
    from tests.service_helpers import PHOTOS

    settings.EMBEDDED_WORKER = False
    account, _ = make_account("crashy", credits=2)
    job = enqueue(account, (PHOTOS / "obama2.jpg").read_bytes(), params={"style": "anime"})
    assert credits.balance(account) == 1

    assert run_available_jobs("crash-test") == 1
    job.refresh_from_db()
    assert (job.state, job.error_code, job.charged) == ("failed", "internal_error", False)
    assert job.photo is None  # the input is discarded as on any other ending
    entries = CreditEntry.objects.filter(job=job).order_by("pk").values_list("delta", "reason")
    assert list(entries) == [(-1, "reserve"), (1, "release")]
    assert credits.balance(account) == 2 == credits.ledger_total(account)
