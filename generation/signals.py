"""Signup wiring: a new user gets an identity avatar; a deleted user's files go."""

import logging

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.core.files.storage import default_storage
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from accounts import credits
from generation.avatars import create_identity_avatar, delete_avatar_files
from generation.jobs.retention import delete_job_files
from generation.models import (
    CustomStyle,
    IdentityAvatar,
    Job,
    ProfileAvatar,
    SubjectModel,
    TeamMember,
)
from generation.web.photo_jobs import OWNER_KEY, end_previews

logger = logging.getLogger(__name__)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def give_new_user_an_avatar(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """A failure here must not fail the signup: the avatar endpoint draws a
    missing avatar on first request. A user saved by the signup page carries
    `signup_identity` (seed identifier and style the person saw previewed)."""
    if not created or raw:
        return
    identifier, style = getattr(instance, "signup_identity", (None, None))
    try:
        create_identity_avatar(instance, identifier, style)
    except Exception:
        logger.exception("Could not create the identity avatar of user %s", instance.pk)


@receiver(post_delete, sender=IdentityAvatar)
def remove_avatar_files(sender, instance: IdentityAvatar, **kwargs) -> None:
    delete_avatar_files(instance)


@receiver(pre_delete, sender=Job)
def give_back_a_deleted_jobs_credit(sender, instance: Job, **kwargs) -> None:
    """A job deleted before it ended delivers nothing: the credit it holds goes
    back (its ledger entries stay, keeping the job's id)."""
    if not instance.is_finished:
        credits.release(instance)


@receiver(post_delete, sender=Job)
def remove_job_files(sender, instance: Job, **kwargs) -> None:
    """Deleting an account (or a job) deletes its photos and avatars."""
    delete_job_files(instance)


@receiver(post_delete, sender=ProfileAvatar)
def remove_profile_avatar_files(sender, instance: ProfileAvatar, **kwargs) -> None:
    """A picked photo or AI avatar goes with its record (changed, or the user deleted)."""
    folder = f"profile/{instance.public_id}"
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")


@receiver(post_delete, sender=SubjectModel)
@receiver(post_delete, sender=CustomStyle)
def remove_trained_model(sender, instance: SubjectModel | CustomStyle, **kwargs) -> None:
    """A deleted model (its account or site user deleted) takes its artifact,
    and a subject model the inferences drawn from it, with their images."""
    if instance.artifact.name:
        default_storage.delete(instance.artifact.name)
    if sender is SubjectModel:
        Job.objects.filter(kind=Job.Kind.INFERENCE, params__model_id=str(instance.pk)).delete()


@receiver(user_logged_out)
def end_session_previews(sender, request, user, **kwargs) -> None:
    """Signing out ends the session: its unpicked preview photos and results go."""
    if request is not None:
        end_previews(request.session.get(OWNER_KEY))


@receiver(post_delete, sender=TeamMember)
def remove_team_member_files(sender, instance: TeamMember, **kwargs) -> None:
    """A person taken off a team (or their account erased) takes their kept
    photo and approved avatar."""
    for name in (instance.photo.name, instance.avatar.name, instance.thumbnail.name):
        if name:
            default_storage.delete(name)
