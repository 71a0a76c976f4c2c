from collections import Counter

from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    USER = "user", "User"
    GUEST = "guest", "Guest"


class User(AbstractUser):
    """A person on the platform; role and team pick their avatar's palette."""

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.USER)
    team = models.CharField(max_length=64, blank=True, default="")


DEFAULT_THRESHOLDS = {"professional": 0.85, "social": 0.75, "gaming": 0.60}


def default_thresholds() -> dict[str, float]:
    return dict(DEFAULT_THRESHOLDS)


class PlatformAccountQuerySet(models.QuerySet):
    def delete(self) -> tuple[int, dict[str, int]]:
        """Erase each account (see PlatformAccount.delete): the ledger stays."""
        total, counts = 0, Counter()
        for account in self:
            n, per_model = account.delete()
            total += n
            counts.update(per_model)
        return total, dict(counts)


class PlatformAccount(models.Model):
    """A platform integrating through the API: owns keys, credits, seats and every job."""

    name = models.CharField(max_length=100, unique=True)
    default_platform = models.CharField(max_length=32, default="linkedin")
    thresholds = models.JSONField(
        default=default_thresholds,
        help_text="Likeness threshold per platform kind (professional, social, gaming).",
    )
    min_face_height = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.2), MaxValueValidator(0.9)],
        help_text="The smallest face a portrait photo may have, as a fraction of the photo's "
        "height (0.20-0.90). It raises the platform preset's floor (20%, 100 px), never lowers "
        "it; empty: the preset's.",
    )
    seats = models.PositiveIntegerField(
        default=0, help_text="Seats for team batches; 0: batches are paid in credits."
    )
    is_active = models.BooleanField(default=True)
    custom_model_engine = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="Engine for subject models and custom styles (cpu, diffusion); empty: the "
        "deployment's CUSTOM_MODEL_ENGINE. A request may still name one.",
    )
    credit_balance = models.BigIntegerField(
        default=0,
        editable=False,
        help_text="The running sum of the credit ledger, changed in the same transaction as "
        "each entry, so spending is one conditional update.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set when the account was deleted: a tombstone that keeps its credit ledger.",
    )

    objects = PlatformAccountQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        """Saving an account never writes its balance: only ledger entries
        move it (accounts.credits), so a stale instance cannot undo a spend."""
        if self.pk is not None and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "credit_balance"
            ]
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs) -> tuple[int, dict[str, int]]:
        """Erase the account (accounts.erasure): everything but its ledger is
        deleted, its name is replaced, and the row stays as a tombstone."""
        from accounts.erasure import erase_account

        return erase_account(self)


class ApiKey(models.Model):
    """An API key: shown once, stored as a SHA-256 of its secret part, revocable.

    Keys are 256-bit random, so a fast hash is enough (no guessing to slow down).
    """

    account = models.ForeignKey(PlatformAccount, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.account} {self.prefix}…"


class CreditEntry(models.Model):
    """The append-only credit ledger; an account's balance is the sum of its deltas.

    Entries are never deleted: a deleted account stays as a tombstone that
    holds them, and a deleted job's entries keep its id.

    A job reserves one credit when accepted; the reservation stands (the credit
    is spent) when the avatar is delivered passing every check, and a `release`
    entry gives it back otherwise. One reserve and one release per job at most.
    """

    class Reason(models.TextChoices):
        GRANT = "grant", "Grant"
        RESERVE = "reserve", "Reserve for a job"
        RELEASE = "release", "Release (not charged)"

    account = models.ForeignKey(PlatformAccount, on_delete=models.PROTECT, related_name="credits")
    delta = models.IntegerField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    # The job's id outlives the job: deleting a job (or an account's jobs) keeps
    # the ledger whole, so there is no database constraint to the job table.
    job = models.ForeignKey(
        "generation.Job",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    note = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "reason"],
                condition=models.Q(job__isnull=False),
                name="one_ledger_entry_per_job_and_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.delta:+d} {self.reason}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("The credit ledger is append-only.")
        super().save(*args, **kwargs)


class Seat(models.Model):
    """A distinct employee counted against an account's seats (batches)."""

    account = models.ForeignKey(PlatformAccount, on_delete=models.CASCADE, related_name="seat_set")
    employee = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "employee"], name="one_seat_per_employee")
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.employee}"
