"""The team's downloads: the approved avatars as a zip (streamed like a
batch's results.zip) and a CSV of every person's status.

Cells are escaped against formula injection: a spreadsheet runs a cell that
starts with = + - @ (or a tab or carriage return before one), so such a cell
gets a leading apostrophe, which spreadsheets show as text.
"""

import csv
import io

from django.core.files.storage import default_storage
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

from accounts.models import PlatformAccount
from generation.api.results_zip import Entry, sizes_known, zip_name, zip_response
from generation.models import TeamMember

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
STATUS_COLUMNS = (
    "name", "email", "title", "team", "external_id", "photo_from", "avatar", "review",
    "published", "style", "likeness", "warnings", "error",
)  # fmt: skip


def safe_cell(value) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def status_row(member: TeamMember) -> list[str]:
    job = member.job
    result = (job.result or {}) if job else {}
    score = result.get("likeness_score")
    return [
        safe_cell(value)
        for value in (
            member.name, member.email, member.title, member.team, member.external_id,
            "invite" if member.via_invite else "upload",
            job.state if job else "none",
            member.review,
            "yes" if member.published else "no",
            job.params.get("style", "") if job else "",
            f"{score:.3f}" if score is not None else "",
            " ".join(result.get("validation_warnings", [])),
            job.error_code if job else "",
        )
    ]  # fmt: skip


def statuses_csv_response(account: PlatformAccount) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(STATUS_COLUMNS)
    for member in TeamMember.objects.filter(account=account).select_related("job"):
        writer.writerow(status_row(member))
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="team-statuses-{stamp}.csv"'
    return response


def approved_zip_response(account: PlatformAccount) -> StreamingHttpResponse:
    """Each approved person's avatar, named by their external id, and results.json."""
    sized = sizes_known()
    entries, manifest, taken = [], [], set()
    approved = TeamMember.objects.filter(account=account, review=TeamMember.Review.APPROVED)
    for member in approved.exclude(avatar=""):
        arcname = zip_name(member.external_id, taken)
        size = default_storage.size(member.avatar.name) if sized else None
        entries.append(Entry(arcname, member.avatar.name, size))
        manifest.append(
            {"external_id": member.external_id, "name": member.name, "email": member.email,
             "title": member.title, "team": member.team, "file": arcname,
             "published": member.published}
        )  # fmt: skip
    return zip_response(entries, manifest, f"team-{account.pk}-avatars.zip")
