"""Credits: an append-only ledger plus the account's running balance.

Every entry changes `PlatformAccount.credit_balance` in the same transaction.
Spending is one conditional UPDATE (`... WHERE credit_balance >= n`), which
takes the account's row lock: of two concurrent requests for the last credit,
the second re-checks the condition after the first commits and gets nothing.
"""

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from accounts.models import CreditEntry, PlatformAccount


class InsufficientCredits(Exception):
    """The account has no credit left for this job."""


def balance(account: PlatformAccount) -> int:
    return PlatformAccount.objects.values_list("credit_balance", flat=True).get(pk=account.pk)


def ledger_total(account: PlatformAccount) -> int:
    """The ledger's own sum: always equal to the balance (an audit check)."""
    return account.credits.aggregate(total=Sum("delta"))["total"] or 0


def lock_account(account: PlatformAccount) -> None:
    """Take the account's row lock (PostgreSQL) or the write lock (SQLite)
    until the surrounding transaction ends."""
    PlatformAccount.objects.filter(pk=account.pk).update(credit_balance=F("credit_balance"))


def _add(account_id: int, delta: int) -> bool:
    """Move the balance by `delta`; a spend only if the balance covers it."""
    rows = PlatformAccount.objects.filter(pk=account_id)
    if delta < 0:
        rows = rows.filter(credit_balance__gte=-delta)
    return bool(rows.update(credit_balance=F("credit_balance") + delta))


def grant(account: PlatformAccount, amount: int, note: str = "") -> None:
    with transaction.atomic():
        _add(account.pk, amount)
        CreditEntry.objects.create(account=account, delta=amount, reason="grant", note=note)


def reserve(account: PlatformAccount, jobs: list, *, each: int = 1) -> None:
    """Hold `each` credits per job (a portrait costs one; training and
    inferences are priced in settings), all or none; raises
    InsufficientCredits inside the caller's transaction, so the jobs are
    rolled back with it."""
    if not _add(account.pk, -each * len(jobs)):
        raise InsufficientCredits()
    CreditEntry.objects.bulk_create(
        CreditEntry(account=account, delta=-each, reason="reserve", job=job) for job in jobs
    )


def release(job) -> bool:
    """Give a job's held credit back (it is not charged). True when this call did."""
    held = CreditEntry.objects.filter(job=job, reason="reserve").first()
    if held is None:
        return False
    try:
        with transaction.atomic():
            CreditEntry.objects.create(
                account_id=held.account_id, delta=-held.delta, reason="release", job=job
            )
            _add(held.account_id, -held.delta)
    except IntegrityError:
        return False
    return True
