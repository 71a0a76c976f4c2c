"""Deleting a platform account, which owns an append-only credit ledger.

The ledger is kept for accounting, so the account row is never removed: it
becomes a tombstone. Everything else the account owns is deleted at once
(keys, seats, batches, jobs with their photos and avatars, trained models and
whatever else points at the account with CASCADE), a job that had not ended
first gives its held credit back, and the account's own data is replaced:
its name becomes "deleted account <id>", it is inactive and has no seats.
The ledger's rows stay against the tombstone (and keep the ids of the jobs
they paid for), so totals and the balance still add up.
"""

import logging

from django.db import models, transaction
from django.utils import timezone

from accounts.models import CreditEntry, PlatformAccount, default_thresholds

logger = logging.getLogger(__name__)


def tombstone_name(account: PlatformAccount) -> str:
    return f"deleted account {account.pk}"


def erase_account(account: PlatformAccount) -> tuple[int, dict[str, int]]:
    """Delete what `account` owns, keep its ledger, leave a tombstone; as
    QuerySet.delete() does, (rows deleted, rows deleted per model). Safe to
    run again."""
    deleted: dict[str, int] = {}
    with transaction.atomic():
        for relation in PlatformAccount._meta.related_objects:
            if relation.related_model is CreditEntry or relation.on_delete is not models.CASCADE:
                continue
            owned = relation.related_model._base_manager.filter(**{relation.field.name: account})
            _, per_model = owned.delete()
            for label, n in per_model.items():
                deleted[label] = deleted.get(label, 0) + n
        PlatformAccount.objects.filter(pk=account.pk).update(
            name=tombstone_name(account),
            is_active=False,
            seats=0,
            thresholds=default_thresholds(),
            deleted_at=account.deleted_at or timezone.now(),
        )
    account.refresh_from_db()
    logger.info("account %s erased: %s", account.pk, deleted)
    return sum(deleted.values()), deleted
