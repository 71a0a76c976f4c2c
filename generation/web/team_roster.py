"""The team behind the /team/ pages: who runs it, its look, and its people's
photos turned into batch jobs (generation.jobs.batches: seats or credits,
all or nothing), retried, replaced, approved, excluded and published."""

import io
import uuid
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.http import Http404
from django.utils import timezone
from PIL import Image

from accounts import credits
from accounts.models import CreditEntry, PlatformAccount
from generation.api.portraits import GenerateIn, portrait_params
from generation.errors import ApiError
from generation.jobs import queue as jobs
from generation.jobs.batches import BatchItem, create_batch
from generation.jobs.seats import InsufficientSeats
from generation.jobs.worker import wake_workers
from generation.models import Batch, Job, TeamAdmin, TeamLook, TeamMember
from generation.web.team_intake import Photo

DIRECTORY_SIZE = 240


class TeamRefused(Exception):
    """Nothing was stored or charged; the message says why, for the page."""


def team_account(user, account_id: int) -> PlatformAccount:
    """The account whose team `user` runs; 404 for anyone else's (or none)."""
    if not user.is_authenticated:
        raise Http404("No such team.")
    account = PlatformAccount.objects.filter(
        pk=account_id, deleted_at=None, team_admins__user=user
    ).first()
    if account is None:
        raise Http404("No such team.")
    return account


def is_team_admin(user, account_id) -> bool:
    return (
        bool(user and user.is_authenticated)
        and TeamAdmin.objects.filter(account_id=account_id, user=user).exists()
    )


def look_of(account: PlatformAccount) -> TeamLook:
    look, _ = TeamLook.objects.get_or_create(account=account)
    return look


def look_params(account: PlatformAccount, look: TeamLook, **changes) -> dict:
    """A batch job's parameters from the team's look (with `changes`, a
    retry's other style or background), checked as the API checks them."""
    body = GenerateIn(
        style=changes.get("style") or look.style,
        background=changes.get("background", look.background) or None,
        palette=look.palette or None,
        platform=look.platform,
        seed=look.seed,
    )
    params = portrait_params(account, body)
    params["live_stages"] = True  # the progress page names each person's stage
    return params


@dataclass(frozen=True)
class Meter:
    """Seats and credits, used and left, as every team page shows them."""

    credits: int
    credits_used: int  # spent, or held by avatars still being made
    seats: int
    seats_used: int

    @property
    def seats_left(self) -> int:
        return max(0, self.seats - self.seats_used)


def meter(account: PlatformAccount) -> Meter:
    moved = CreditEntry.objects.filter(account=account).exclude(reason=CreditEntry.Reason.GRANT)
    used = -(moved.aggregate(total=Sum("delta"))["total"] or 0)
    return Meter(credits.balance(account), used, account.seats, account.seat_set.count())


def submit(account: PlatformAccount, photos: list[Photo], *, via_invite: bool = False) -> Batch:
    """One batch for the photos in the team's look, and each person's member
    row (a person already on the team gets the new photo and is reviewed
    again). All or nothing: TeamRefused with nothing stored or charged."""
    params = _team_params(account)
    return _run(account, params, [(photo.external_id, photo) for photo in photos], via_invite)


def rerun(member: TeamMember, *, style: str = "", background: str | None = None) -> Batch:
    """A new job for one person from their kept photo, with other settings."""
    changes = {"style": style}
    if background is not None:
        changes["background"] = background
    params = _team_params(member.account, **changes)
    with default_storage.open(member.photo.name, "rb") as handle:
        data = handle.read()
    return _run(member.account, params, [(member.external_id, data)], member.via_invite)


def replace_photo(member: TeamMember, photo: Photo) -> Batch:
    """The person's new photo, run in the team's look (their name and details stay)."""
    params = _team_params(member.account)
    return _run(member.account, params, [(member.external_id, photo)], member.via_invite)


def _team_params(account: PlatformAccount, **changes) -> dict:
    try:
        return look_params(account, look_of(account), **changes)
    except ApiError as exc:
        raise TeamRefused(f"The look cannot be used: {exc.message}") from None


def _run(
    account: PlatformAccount,
    params: dict,
    people: list[tuple[str, Photo | bytes]],
    via_invite: bool,
) -> Batch:
    """The batch for `people` (external id, and a new Photo or the kept
    photo's bytes); a new photo is stored and brings the person's details."""
    if not people:
        raise TeamRefused("No photo could be used.")
    if not jobs.batch_queue_has_room(account, len(people)):
        raise TeamRefused("The queue is full just now; try again in a few minutes.")
    items = [
        BatchItem(external_id, photo=photo.data if isinstance(photo, Photo) else photo)
        for external_id, photo in people
    ]
    try:
        with transaction.atomic():
            batch = create_batch(account, params, items)
            jobs_by_id = {job.external_id: job for job in batch.jobs.all()}
            for external_id, photo in people:
                _update_member(account, batch, jobs_by_id[external_id], photo, via_invite)
    except credits.InsufficientCredits:
        raise TeamRefused(
            f"Not enough credits: {len(items)} needed, {credits.balance(account)} left."
        ) from None
    except InsufficientSeats as exc:
        raise TeamRefused(
            f"Not enough seats: {exc.needed} new people, {exc.free} seats free."
        ) from None
    async_to_sync(wake_workers)()
    return batch


def _update_member(
    account: PlatformAccount, batch: Batch, job: Job, photo, via_invite: bool
) -> TeamMember:
    member, created = TeamMember.objects.get_or_create(
        account=account, external_id=job.external_id, defaults={"via_invite": via_invite}
    )
    member.job, member.review = job, TeamMember.Review.PENDING
    if isinstance(photo, Photo):  # a new photo; a retry keeps the person on their upload's page
        member.batch = batch
        old = member.photo.name
        member.photo.save(f"team/{account.pk}/{uuid.uuid4().hex}.photo", ContentFile(photo.data))
        if old:
            default_storage.delete(old)
        person = photo.person
        for field in ("name", "email", "title", "team"):
            if getattr(person, field) or created:
                setattr(member, field, getattr(person, field))
    member.save()
    return member


def approve(member: TeamMember) -> None:
    """Keep the person's current avatar for the directory, and a small copy
    for the pages that show it (results expire; approved avatars stay while
    the person is on the team)."""
    job = member.job
    if job is None or job.state != Job.State.DONE or not job.avatar_file:
        raise TeamRefused("Only a finished avatar can be approved.")
    old = (member.avatar.name, member.thumbnail.name)
    with default_storage.open(job.avatar_file.name, "rb") as handle:
        png = handle.read()
    folder, name = f"team/{member.account_id}/avatars", uuid.uuid4().hex
    member.avatar.save(f"{folder}/{name}.png", ContentFile(png), save=False)
    member.thumbnail.save(f"{folder}/{name}-small.png", ContentFile(small_copy(png)), save=False)
    member.review = TeamMember.Review.APPROVED
    member.save()
    for stale in old:
        if stale:
            default_storage.delete(stale)


def approve_ready(account: PlatformAccount) -> int:
    """Approve everyone still to review whose avatar is made in the team's
    style with no warning (the rest wait for a person to look); the count."""
    style = look_of(account).style
    ready = TeamMember.objects.filter(
        account=account, review=TeamMember.Review.PENDING, job__state=Job.State.DONE
    ).select_related("job", "account")
    count = 0
    for member in ready:
        result = member.job.result or {}
        if member.job.params.get("style") == style and not result.get("validation_warnings"):
            approve(member)
            count += 1
    return count


def small_copy(png: bytes) -> bytes:
    """The avatar at DIRECTORY_SIZE px (sharp at 2x in a 120 px circle)."""
    with Image.open(io.BytesIO(png)) as image:
        small = image.convert("RGB").resize(
            (DIRECTORY_SIZE, DIRECTORY_SIZE), Image.Resampling.LANCZOS
        )
    out = io.BytesIO()
    small.save(out, "PNG", optimize=True)
    return out.getvalue()


def exclude(member: TeamMember) -> None:
    member.review = TeamMember.Review.EXCLUDED
    member.published = False
    member.save(update_fields=["review", "published", "updated_at"])


def publish(account: PlatformAccount) -> int:
    """The directory becomes the approved people, as they are now; the count."""
    members = TeamMember.objects.filter(account=account)
    with transaction.atomic():
        members.update(published=False)
        count = (
            members.filter(review=TeamMember.Review.APPROVED)
            .exclude(avatar="")
            .update(published=True)
        )
        TeamLook.objects.filter(account=account).update(published_at=timezone.now())
    return count


def batch_members(batch: Batch) -> list[TeamMember]:
    return list(batch.team_members.select_related("job").order_by("name", "external_id"))


def progress_of(members: list[TeamMember]) -> dict:
    """The batch's bar: each person's latest job counts its progress."""
    total = len(members)
    ended = sum(1 for m in members if m.job is None or m.job.is_finished)
    failed = sum(1 for m in members if m.job is not None and m.job.state == Job.State.FAILED)
    running = sum(m.job.progress for m in members if m.job is not None and not m.job.is_finished)
    fraction = (ended + running) / total if total else 1.0
    return {"total": total, "ended": ended, "failed": failed, "done": ended - failed,
            "fraction": round(fraction, 3), "percent": round(fraction * 100),
            "finished": ended == total}  # fmt: skip


def review_counts(account: PlatformAccount) -> dict:
    return TeamMember.objects.filter(account=account).aggregate(
        total=Count("pk"),
        approved=Count("pk", filter=Q(review=TeamMember.Review.APPROVED)),
        excluded=Count("pk", filter=Q(review=TeamMember.Review.EXCLUDED)),
        published=Count("pk", filter=Q(published=True)),
    )
