"""Seats: an account with seats pays batches per distinct employee who receives an avatar.

A batch takes a seat for each new employee when it is accepted (all or none,
under the account lock); regenerating a seated employee takes none. An item
that fails gives its employee's seat back, unless the employee has an avatar
already or another item still queued or running, as a failed job gives its
credit back.
"""

from accounts import credits
from accounts.models import PlatformAccount, Seat
from generation.models import Job


class InsufficientSeats(Exception):
    def __init__(self, needed: int, free: int) -> None:
        super().__init__(f"{needed} new employees, {free} free seats")
        self.needed = needed
        self.free = free


def take_seats(account: PlatformAccount, employees: list[str]) -> None:
    """Seat every employee not seated yet (takes the account lock: call inside
    the batch's transaction); raises InsufficientSeats."""
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


def release_seat(job: Job) -> bool:
    """Give a failed batch item's seat back, unless its employee received an
    avatar or has another item queued or running. Call inside the transaction
    that fails the job; the account lock orders it with take_seats. True when
    a seat was given back."""
    if job.params.get("billing") != "seat" or job.account_id is None:
        return False
    account = PlatformAccount(pk=job.account_id)
    credits.lock_account(account)
    employee_jobs = Job.objects.filter(
        account=account, external_id=job.external_id, batch__uses_seats=True
    )
    live = (Job.State.DONE, Job.State.QUEUED, Job.State.RUNNING)
    if employee_jobs.exclude(pk=job.pk).filter(state__in=live).exists():
        return False
    return Seat.objects.filter(account=account, employee=job.external_id).delete()[0] > 0
