"""Photo previews on the site's own pages (signup, /me/avatar/).

A preview is an ordinary job on the API's queue and workers, with no account
(never charged) and `live_stages` on, so its page sees each pipeline stage.
The browser session that started it owns it: the session holds a random
owner token, the job's params carry it, and only that session's pages and
socket can see the job. The upload is cached (the 24-hour cache_input rule)
so regenerating needs no second upload; unpicked uploads and results are
deleted when the session ends (logout), or by the purge.
"""

import contextlib
import secrets
import uuid
from itertools import product

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.files.storage import default_storage

from generation.jobs import queue as jobs
from generation.jobs.retention import delete_job_files
from generation.jobs.source_photo import cached_photo, discard_cached_input, share_cached_input
from generation.models import Job, SignupSettings
from generation.offers import NotOffered, record_regenerated
from generation.portrait.styles import BACKGROUNDS, STYLES
from generation.profile_avatars import STORED_SIDE

OWNER_KEY = "preview_owner"
LOOKS = list(product(STYLES, BACKGROUNDS))  # (style, background) pairs regenerate cycles


def owner_token(session: SessionBase) -> str:
    """The session's preview owner token, created on first use."""
    token = session.get(OWNER_KEY)
    if not token:
        token = session[OWNER_KEY] = secrets.token_urlsafe(18)
    return token


def parse_job_id(text) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text))
    except (TypeError, ValueError):
        return None


def owned_job(owner: str | None, job_id) -> Job | None:
    """The preview job `job_id` if the session owning `owner` started it."""
    pk = parse_job_id(job_id)
    if not owner or pk is None:
        return None
    return Job.objects.filter(pk=pk, account=None, params__preview_owner=owner).first()


def signup_defaults() -> tuple[str, str]:
    """(portrait style, platform) a new preview starts with: the admin's
    SignupSettings, else the settings."""
    row = SignupSettings.objects.first()
    if row is not None:
        return row.portrait_style, row.platform
    return settings.SIGNUP_PORTRAIT_STYLE, settings.SIGNUP_PLATFORM


def _params(owner: str, style: str, platform: str, background: str | None) -> dict:
    return {
        "style": style,
        "platform": platform,
        "size": STORED_SIDE,  # what a kept AI avatar is stored at: twice as fast as 800 px
        "palette": None,
        "background": background,
        "likeness_threshold": None,
        "billing": "none",
        "live_stages": True,
        "preview_owner": owner,
    }


def start_preview(owner: str, photo: bytes) -> Job:
    """A preview of a freshly uploaded (header-checked) photo in the default style."""
    return jobs.enqueue(
        None,
        photo,
        _params(owner, *signup_defaults(), None),
        cache_input=True,
        request_id=uuid.uuid4().hex,
        reserve_credit=False,
    )


def look(job: Job) -> tuple[str, str]:
    """The job's (style, background), naming the style's own background."""
    style = job.params.get("style", settings.SIGNUP_PORTRAIT_STYLE)
    own = {draw: name for name, draw in BACKGROUNDS.items()}.get(STYLES[style].background, "")
    return style, job.params.get("background") or own


def next_look(job: Job) -> tuple[str, str]:
    """The (style, background) after the job's in LOOKS: "another result"."""
    current = look(job)
    index = LOOKS.index(current) if current in LOOKS else -1
    return LOOKS[(index + 1) % len(LOOKS)]


def regenerate(owner: str, source: Job, style: str | None, background: str | None) -> Job:
    """Another result from the source job's cached photo (no re-upload): the
    given style and background, or the next look when they are the source's
    own. Raises source_photo errors when the photo is gone. The source's
    offer, if it made one, is marked regenerated."""
    photo = cached_photo(source)
    if not style or (style, background or look(source)[1]) == look(source):
        style, background = next_look(source)
    params = _params(owner, style, source.params["platform"], background)
    params["source_job"] = str(source.pk)
    job = jobs.enqueue(None, photo, params, request_id=uuid.uuid4().hex, reserve_credit=False)
    share_cached_input(job, source)
    if source.state == Job.State.DONE:
        with contextlib.suppress(NotOffered):  # a job that delivered nothing offered nothing
            record_regenerated(source)
    return job


def end_previews(owner: str | None) -> int:
    """Delete the photos and results of every preview the session started
    (the session ended, or the person confirmed and what they picked is kept
    elsewhere); how many jobs had files."""
    if not owner:
        return 0
    previews = Job.objects.filter(account=None, params__preview_owner=owner)
    count = 0
    for job in previews:
        if job.cached_input.name or job.avatar_file.name:
            count += 1
        discard_cached_input(job)  # also for the jobs sharing it
        delete_job_files(job)
    previews.update(cached_input="", avatar_file="", thumbnail_file="")
    return count


def stored_file(name: str) -> bytes | None:
    if not name or not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as handle:
        return handle.read()
