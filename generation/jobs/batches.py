"""Team batches: many photos, one style and platform, one job per photo.

An account with seats pays per distinct employee (a seat, kept across
regenerations); otherwise each photo reserves a credit like a single call.
Either way the whole batch is accepted or refused as one.
"""

from dataclasses import dataclass

from django.db import transaction

from accounts import credits
from accounts.models import PlatformAccount, Seat
from generation.jobs.photos import write_photos
from generation.models import Batch, Job

MAX_BATCH_ITEMS = 500


class InsufficientSeats(Exception):
    def __init__(self, needed: int, free: int) -> None:
        super().__init__(f"{needed} new employees, {free} free seats")
        self.needed = needed
        self.free = free


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
        created = Job.objects.bulk_create(
            [
                Job(
                    account=account,
                    batch=batch,
                    external_id=item.external_id,
                    params={**params, "billing": billing, "image_url": item.image_url},
                )
                for item in items
            ]
        )
        write_photos(
            {job.pk: item.photo for job, item in zip(created, items, strict=True) if item.photo}
        )
        if uses_seats:
            _take_seats(account, [item.external_id for item in items])
        else:
            credits.reserve(account, created)
    return batch


def _take_seats(account: PlatformAccount, employees: list[str]) -> None:
    """Seat every employee not seated yet (under the account lock)."""
    credits.lock_account(account)
    seated = set(
        Seat.objects.filter(account=account, employee__in=employees).values_list(
            "employee", flat=True
        )
    )
    new = sorted(set(employees) - seated)
    free = account.seats - Seat.objects.filter(account=account).count()
    if len(new) > free:
        raise InsufficientSeats(len(new), free)
    Seat.objects.bulk_create(Seat(account=account, employee=employee) for employee in new)
