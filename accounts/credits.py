"""Credits: an append-only ledger, written under a lock on the account row so
that concurrent requests cannot spend the same credit twice."""

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from accounts.models import CreditEntry, PlatformAccount


class InsufficientCredits(Exception):
    """The account has no credit left for this job."""


def balance(account: PlatformAccount) -> int:
    return account.credits.aggregate(total=Sum("delta"))["total"] or 0


def lock_account(account: PlatformAccount) -> None:
    """Take the account's row lock (PostgreSQL) or the write lock (SQLite)
    until the surrounding transaction ends."""
    PlatformAccount.objects.filter(pk=account.pk).update(ledger_seq=F("ledger_seq") + 1)


def grant(account: PlatformAccount, amount: int, note: str = "") -> None:
    with transaction.atomic():
        lock_account(account)
        CreditEntry.objects.create(account=account, delta=amount, reason="grant", note=note)


def reserve(account: PlatformAccount, jobs: list) -> None:
    """Hold one credit per job, all or none; raises InsufficientCredits inside
    the caller's transaction, so the jobs are rolled back with it."""
    lock_account(account)
    if balance(account) < len(jobs):
        raise InsufficientCredits()
    CreditEntry.objects.bulk_create(
        CreditEntry(account=account, delta=-1, reason="reserve", job=job) for job in jobs
    )


def release(job) -> bool:
    """Give a job's held credit back (it is not charged). True when this call did."""
    held = CreditEntry.objects.filter(job=job, reason="reserve").first()
    if held is None:
        return False
    try:
        with transaction.atomic():
            lock_account(held.account)
            CreditEntry.objects.create(
                account_id=held.account_id, delta=-held.delta, reason="release", job=job
            )
    except IntegrityError:
        return False
    return True
