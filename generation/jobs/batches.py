"""Team batches: many photos, one style and platform, one job per photo.

An account with seats pays per distinct employee (a seat, kept across
regenerations, given back when the employee's item fails: generation.jobs.seats);
otherwise each photo reserves a credit like a single call. Either way the
whole batch is accepted or refused as one.
"""

from dataclasses import dataclass

from django.db import transaction

from accounts import credits
from accounts.models import PlatformAccount
from generation.jobs.photos import write_photos
from generation.jobs.queue import fair_ranks
from generation.jobs.seats import take_seats
from generation.models import Batch, Job

MAX_BATCH_ITEMS = 500


@dataclass(frozen=True)
class BatchItem:
    external_id: str
    photo: bytes | None = None
    image_url: str | None = None


def create_batch(account: PlatformAccount, params: dict, items: list[BatchItem]) -> Batch:
    """Accept the whole batch or nothing: raises InsufficientSeats or
    credits.InsufficientCredits with nothing stored."""
    uses_seats = account.seats > 0
    with transaction.atomic():
        batch = Batch.objects.create(
            account=account, params=params, uses_seats=uses_seats, total=len(items)
        )
        billing = "seat" if uses_seats else "credit"
        ranks = fair_ranks(account, len(items), batch=True)
        created = Job.objects.bulk_create(
            [
                Job(
                    account=account,
                    batch=batch,
                    external_id=item.external_id,
                    params={**params, "billing": billing, "image_url": item.image_url},
                    queue_rank=rank,
                )
                for item, rank in zip(items, ranks, strict=True)
            ]
        )
        write_photos(
            {job.pk: item.photo for job, item in zip(created, items, strict=True) if item.photo}
        )
        if uses_seats:
            take_seats(account, [item.external_id for item in items])
        else:
            credits.reserve(account, created)
    return batch
