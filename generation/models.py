"""Identity avatar data: versioned styles and palettes, the role/team mapping,
and each user's pinned avatar record."""

import hashlib
import json
import secrets
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone


def definition_digest(definition: dict[str, Any]) -> str:
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ImmutableVersion(models.Model):
    """One published version of a definition; never changed once saved."""

    number = models.PositiveIntegerField()
    definition = models.JSONField()
    # The definition as published, keys in their order: PostgreSQL's jsonb
    # reorders them, and DiceBear draws by that order.
    definition_text = models.TextField(blank=True, default="", editable=False)
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ("-number",)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValidationError("Published versions are immutable; publish a new version.")
        self.digest = definition_digest(self.definition)
        self.definition_text = json.dumps(self.definition, ensure_ascii=False)
        super().save(*args, **kwargs)

    @property
    def ordered_definition(self) -> dict[str, Any]:
        """The definition with its keys in the order it was published in."""
        return json.loads(self.definition_text) if self.definition_text else self.definition

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValidationError("Published versions are kept so pinned avatars never change.")


class VersionedDefinition(models.Model):
    """A named thing whose definition is published as immutable versions."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ("slug",)

    def __str__(self) -> str:
        return self.name or self.slug

    def publish(self, definition: dict[str, Any]) -> ImmutableVersion:
        """Make `definition` the current version (a new one unless it is unchanged)."""
        current = self.current_version
        if current is not None and current.digest == definition_digest(definition):
            return current
        with transaction.atomic():
            owner = type(self).objects.select_for_update().get(pk=self.pk)
            latest = owner.versions.aggregate(n=models.Max("number"))["n"] or 0
            version = owner.versions.create(number=latest + 1, definition=definition)
            owner.current_version = version
            owner.save(update_fields=["current_version", "updated_at"])
        self.current_version = version
        return version

    def version(self, number: int | None) -> ImmutableVersion | None:
        if number is None:
            return self.current_version
        return self.versions.filter(number=number).first()


class Style(VersionedDefinition):
    category = models.CharField(max_length=40, default="abstract")
    is_active = models.BooleanField(default=True)
    current_version = models.ForeignKey(
        "StyleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )


class StyleVersion(ImmutableVersion):
    style = models.ForeignKey(Style, on_delete=models.PROTECT, related_name="versions")

    class Meta(ImmutableVersion.Meta):
        constraints = [
            models.UniqueConstraint(fields=["style", "number"], name="unique_style_version")
        ]

    def __str__(self) -> str:
        return f"{self.style.slug} v{self.number}"


class Palette(VersionedDefinition):
    current_version = models.ForeignKey(
        "PaletteVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )


class PaletteVersion(ImmutableVersion):
    palette = models.ForeignKey(Palette, on_delete=models.PROTECT, related_name="versions")

    class Meta(ImmutableVersion.Meta):
        constraints = [
            models.UniqueConstraint(fields=["palette", "number"], name="unique_palette_version")
        ]

    def __str__(self) -> str:
        return f"{self.palette.slug} v{self.number}"


class PaletteMapping(models.Model):
    """Which palette (and optionally style) a role or a team gets; a team rule
    wins over a role rule."""

    class Kind(models.TextChoices):
        ROLE = "role", "Role"
        TEAM = "team", "Team"

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.ROLE)
    value = models.CharField(max_length=64, help_text="The role (admin, user, guest) or team name.")
    palette = models.ForeignKey(Palette, on_delete=models.PROTECT)
    style = models.ForeignKey(
        Style,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="Leave empty to use the deployment's default style.",
    )

    class Meta:
        ordering = ("kind", "value")
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="unique_palette_mapping")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.value} -> {self.palette.slug}"


def new_public_id() -> str:
    return secrets.token_hex(12)


class IdentityAvatar(models.Model):
    """A user's identity avatar, pinned to the style and palette versions it was
    drawn with, so later edits never change it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identity_avatar"
    )
    public_id = models.CharField(max_length=24, unique=True, default=new_public_id)
    seed = models.CharField(max_length=64, help_text="Hex HMAC of the user id.")
    initials_source = models.CharField(max_length=150, blank=True, default="")
    style_version = models.ForeignKey(StyleVersion, on_delete=models.PROTECT)
    palette_version = models.ForeignKey(
        PaletteVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="Empty: the palette built into the pinned style version.",
    )
    svg_file = models.FileField(max_length=200)
    png_file = models.FileField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.style_version})"


def portrait_style_choices() -> list[tuple[str, str]]:
    """(Imported when asked: the image stack is too heavy for every model import.)"""
    from generation.portrait.styles import STYLES

    return [(name, name.replace("_", " ").capitalize()) for name in STYLES]


def platform_choices() -> list[tuple[str, str]]:
    from generation.portrait.presets import PLATFORMS

    return [(name, name.capitalize()) for name in PLATFORMS]


class SignupSettings(models.Model):
    """The site's own signup, edited in the admin: the portrait style a photo
    preview starts in, and the platform preset it is sized and judged for
    (likeness threshold). One row; without it, settings.SIGNUP_PORTRAIT_STYLE
    and settings.SIGNUP_PLATFORM apply."""

    portrait_style = models.CharField(max_length=40, choices=portrait_style_choices)
    platform = models.CharField(max_length=32, choices=platform_choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "signup settings"

    def __str__(self) -> str:
        return f"photo previews start as {self.portrait_style} for {self.platform}"


class ProfileAvatar(models.Model):
    """The avatar a person picked instead of their identity avatar: their own
    photo or the AI version of it. Kept (unlike previews) until they change it."""

    class Kind(models.TextChoices):
        PHOTO = "photo", "Original photo"
        AI = "ai", "AI version"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile_avatar"
    )
    public_id = models.CharField(max_length=24, unique=True, default=new_public_id)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    image = models.FileField(max_length=200, help_text="A square PNG.")
    style = models.CharField(max_length=40, blank=True, default="", help_text="The AI style.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.get_kind_display()})"


class Batch(models.Model):
    """A team's photos submitted together: one style and platform, one job per photo."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        "accounts.PlatformAccount", on_delete=models.CASCADE, related_name="batches"
    )
    params = models.JSONField(default=dict)
    uses_seats = models.BooleanField(default=False)
    total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.total} photos)"


class JobManager(models.Manager):
    """Jobs without their input photo: it is large and only a worker needs it,
    through generation.jobs.photos."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().defer("photo")


class Job(models.Model):
    """One avatar to make: a database row with a state machine and a lease.

    queued -> running (a worker holds the lease) -> done | failed. A worker
    that dies leaves its lease to expire; another one takes the job again.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        PORTRAIT = "portrait", "Portrait avatar"
        TRAINING = "training", "Training (subject model or custom style)"
        INFERENCE = "inference", "Inference from a subject model"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PORTRAIT)
    account = models.ForeignKey(
        "accounts.PlatformAccount",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jobs",
        help_text="Empty: a preview on this site's own signup (never charged).",
    )
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    external_id = models.CharField(max_length=200, blank=True, default="")
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    progress = models.FloatField(default=0.0)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_owner = models.CharField(max_length=80, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    params = models.JSONField(default=dict)
    photo = models.BinaryField(
        null=True, blank=True, help_text="The input, only until the job ends."
    )
    cached_input = models.FileField(max_length=200, blank=True, default="")
    input_expires_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    result = models.JSONField(null=True, blank=True)
    avatar_file = models.FileField(max_length=200, blank=True, default="")
    thumbnail_file = models.FileField(max_length=200, blank=True, default="")
    result_expires_at = models.DateTimeField(null=True, blank=True)
    charged = models.BooleanField(default=False)
    error_code = models.CharField(max_length=40, blank=True, default="")
    error_message = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    queue_rank = models.FloatField(
        default=time.time,
        help_text="Workers claim the lowest rank first: the time the job may start when "
        "workers are shared fairly between accounts (generation.jobs.queue.fair_ranks).",
    )

    objects = JobManager()

    class Meta:
        ordering = ("created_at",)
        indexes = [
            models.Index(fields=["state", "created_at"], name="job_state_created"),
            models.Index(fields=["state", "queue_rank"], name="job_state_rank"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="one_job_per_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)


class AvatarOffer(models.Model):
    """One AI avatar shown to a person, and what they did with it.

    The decline rate by style and platform is a product metric (the admin's
    chart, GET /v1/analytics/avatars). A declined offer says what the person
    kept instead; a regenerated one was replaced by the offer whose `previous`
    it is.
    """

    class Outcome(models.TextChoices):
        OFFERED = "offered", "Offered (no answer yet)"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        REGENERATED = "regenerated", "Regenerated"

    class Kept(models.TextChoices):
        NOTHING = "", "-"
        ORIGINAL = "original", "Original photo"
        IDENTITY = "identity", "Identity avatar"

    account = models.ForeignKey(
        "accounts.PlatformAccount",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="avatar_offers",
        help_text="Empty: offered on this site's own signup, not through the API.",
    )
    job = models.OneToOneField(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="offer"
    )
    previous = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The offer this one was regenerated from.",
    )
    style = models.CharField(max_length=40)
    platform = models.CharField(max_length=32)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.OFFERED)
    kept = models.CharField(max_length=8, choices=Kept.choices, blank=True, default="")
    offered_at = models.DateTimeField(default=timezone.now, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-offered_at",)
        indexes = [models.Index(fields=["account", "offered_at"], name="offer_account_offered")]

    def __str__(self) -> str:
        return f"{self.style} on {self.platform}: {self.outcome}"


class TrainingStatus(models.TextChoices):
    """A custom model's life, as the API names it."""

    ACCEPTED = "ACCEPTED", "Accepted"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed"
    IMAGE_NOT_VALID = "IMAGE_NOT_VALID", "Images not valid"


class TrainedModel(models.Model):
    """What a training job makes. Its id is the only handle: nothing records
    which photos, files or URLs trained it, and the references are deleted
    when training ends (they live only in the training job's photo column)."""

    Status = TrainingStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        "accounts.PlatformAccount",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="%(class)ss",
        help_text="The API account that owns it; empty for a site user's own model.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The site user who trained it in the browser (empty for API accounts).",
    )
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(
        max_length=16, choices=TrainingStatus.choices, default=TrainingStatus.ACCEPTED
    )
    progress = models.FloatField(default=0.0)
    eta_seconds = models.FloatField(null=True, blank=True)
    engine = models.CharField(max_length=16)
    artifact = models.FileField(max_length=200, blank=True, default="")
    problems = models.JSONField(
        default=list, blank=True, help_text="Per photo (by position): why the set is not valid."
    )
    error_code = models.CharField(max_length=40, blank=True, default="")
    error_message = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ("-created_at",)

    @property
    def is_finished(self) -> bool:
        return self.status not in (TrainingStatus.ACCEPTED, TrainingStatus.IN_PROGRESS)


class SubjectModel(TrainedModel):
    """A person, couple or pet learned from 5-30 photos; inferences draw it by prompt."""

    class SubjectType(models.TextChoices):
        MAN = "man", "Man"
        WOMAN = "woman", "Woman"
        COUPLE = "couple", "Couple"
        DOG = "dog", "Dog"
        CAT = "cat", "Cat"

    subject_type = models.CharField(max_length=8, choices=SubjectType.choices)

    def __str__(self) -> str:
        return f"{self.subject_type} model {self.pk} ({self.status})"


STYLE_TOKEN_PREFIX = "style_"  # no portrait style's name starts so


def new_style_token() -> str:
    return f"{STYLE_TOKEN_PREFIX}{secrets.token_urlsafe(16)}"


class CustomStyle(TrainedModel):
    """A platform's own look learned from 50-200 examples; its token works as a
    `style` for the account that trained it, and for no one else."""

    name = models.CharField(max_length=100)
    style_token = models.CharField(max_length=40, unique=True, default=new_style_token)

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


def new_team_token() -> str:
    return secrets.token_urlsafe(32)


def new_layout_seed() -> int:
    return secrets.randbelow(2**31)


class TeamAdmin(models.Model):
    """A person who runs an account's team pages under /team/ (an HR admin)."""

    account = models.ForeignKey(
        "accounts.PlatformAccount", on_delete=models.CASCADE, related_name="team_admins"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="one_team_admin_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} runs {self.account}'s team"


class TeamLook(models.Model):
    """The one look of an account's team: every upload, invite and retry
    starts from it, and one layout seed keeps the backgrounds alike."""

    account = models.OneToOneField(
        "accounts.PlatformAccount", on_delete=models.CASCADE, related_name="team_look"
    )
    style = models.CharField(max_length=40, default="corporate_headshot")
    background = models.CharField(
        max_length=16, blank=True, default="", help_text="Empty: the style's own."
    )
    palette = models.JSONField(default=list, blank=True, help_text="Empty: the style's own.")
    platform = models.CharField(
        max_length=32, default="linkedin", help_text="The framing: a platform preset's square."
    )
    seed = models.BigIntegerField(default=new_layout_seed)
    directory_token = models.CharField(max_length=64, unique=True, default=new_team_token)
    published_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.account}'s team look ({self.style})"


class TeamMember(models.Model):
    """One person of a team: their photo (kept for retries while they are on
    the team), their latest job, HR's review and, once approved, their avatar."""

    class Review(models.TextChoices):
        PENDING = "pending", "To review"
        APPROVED = "approved", "Approved"
        EXCLUDED = "excluded", "Excluded"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        "accounts.PlatformAccount", on_delete=models.CASCADE, related_name="team_members"
    )
    batch = models.ForeignKey(
        Batch,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="team_members",
        help_text="The upload (or invite) that brought the person's latest photo.",
    )
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    external_id = models.CharField(max_length=200)
    name = models.CharField(max_length=200, blank=True, default="")
    email = models.EmailField(max_length=254, blank=True, default="")
    title = models.CharField(max_length=200, blank=True, default="")
    team = models.CharField(max_length=200, blank=True, default="")
    photo = models.FileField(max_length=200, blank=True, default="")
    avatar = models.FileField(max_length=200, blank=True, default="")
    thumbnail = models.FileField(
        max_length=200, blank=True, default="", help_text="The approved avatar, small."
    )
    review = models.CharField(max_length=10, choices=Review.choices, default=Review.PENDING)
    published = models.BooleanField(default=False)
    via_invite = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "external_id")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"], name="one_team_member_per_person"
            )
        ]

    def __str__(self) -> str:
        return self.name or self.external_id


class TeamInvite(models.Model):
    """A link employees open to upload their own photo: an email domain, a
    number of uses and an expiry. The token is 256 bits from `secrets`."""

    account = models.ForeignKey(
        "accounts.PlatformAccount", on_delete=models.CASCADE, related_name="team_invites"
    )
    token = models.CharField(max_length=64, unique=True, default=new_team_token)
    email_domain = models.CharField(max_length=253)
    max_uses = models.PositiveIntegerField()
    uses = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"invite for @{self.email_domain} ({self.uses}/{self.max_uses})"
