"""Avatar analytics for API accounts: how people answer the AI avatars they are offered.

Every portrait a generate call delivers is an offer (see generation.offers).
The platform reports what its user did with POST /v1/analytics/avatars/events
(a generate call with `source_job` reports "regenerated" by itself), and reads
counts and rates by style, platform and day with GET /v1/analytics/avatars.
"""

import datetime
from typing import Literal

from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from ninja import Query, Router, Schema

from generation.api.portraits import ErrorOut, _uuid
from generation.errors import ApiError
from generation.models import Job
from generation.off_loop import in_pool
from generation.offers import NotOffered, offer_counts, offers_since, record_outcome

router = Router(tags=["analytics"])
DEFAULT_DAYS = 30
MAX_SINCE_LENGTH = 40


class RatesOut(Schema):
    offered: int
    accepted: int
    declined: int
    regenerated: int
    pending: int
    accepted_rate: float | None
    declined_rate: float | None
    regenerated_rate: float | None


class StyleRatesOut(RatesOut):
    style: str


class PlatformRatesOut(RatesOut):
    platform: str


class StylePlatformRatesOut(RatesOut):
    style: str
    platform: str


class DayRatesOut(RatesOut):
    day: datetime.date


class AnalyticsOut(Schema):
    since: datetime.datetime
    until: datetime.datetime
    totals: RatesOut
    by_style: list[StyleRatesOut]
    by_platform: list[PlatformRatesOut]
    by_style_and_platform: list[StylePlatformRatesOut]
    by_day: list[DayRatesOut]


class AnalyticsQuery(Schema):
    since: str | None = None


def parse_since(text: str | None, now: datetime.datetime) -> datetime.datetime:
    """An ISO 8601 date or date-time (naive ones are UTC); DEFAULT_DAYS ago when absent."""
    if not text:
        return now - datetime.timedelta(days=DEFAULT_DAYS)
    invalid = ApiError(
        400,
        "invalid_since",
        "since is an ISO 8601 date or date-time, e.g. 2026-11-01 or 2026-11-01T08:00:00Z "
        "(write a + offset as %2B in a URL).",
    )
    if len(text) > MAX_SINCE_LENGTH:
        raise invalid
    try:
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = datetime.datetime.combine(day, datetime.time())
        if moment is None:
            raise invalid
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment.astimezone(datetime.UTC)
    except (ValueError, OverflowError):  # a well-formed but impossible date, or out of range
        raise invalid from None


@router.get(
    "/avatars",
    response={200: AnalyticsOut, 400: ErrorOut, 401: ErrorOut},
    summary="How the account's users answer the AI avatars offered to them",
)
@in_pool
def avatar_analytics(request: HttpRequest, query: Query[AnalyticsQuery]) -> dict:
    """Offers since `since` (ISO 8601; default 30 days ago) counted as offered,
    accepted, declined, regenerated and pending (no answer yet), with each
    answer's rate among the offers, in total and by style, platform and day (UTC)."""
    now = timezone.now()
    since = parse_since(query.since, now)
    offers = offers_since(since, request.auth.pk)
    return {
        "since": since,
        "until": now,
        "totals": offer_counts(offers)[0],
        "by_style": offer_counts(offers, ["style"]),
        "by_platform": offer_counts(offers, ["platform"]),
        "by_style_and_platform": offer_counts(offers, ["style", "platform"]),
        "by_day": offer_counts(offers, ["day"]),
    }


class OfferEventIn(Schema):
    job_id: str
    outcome: Literal["accepted", "declined", "regenerated"]
    kept: Literal["original", "identity"] | None = None


class OfferOut(Schema):
    job_id: str
    style: str
    platform: str
    outcome: str
    kept: str | None
    offered_at: datetime.datetime
    decided_at: datetime.datetime | None


@router.post(
    "/avatars/events",
    response={200: OfferOut, 400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut,
              422: ErrorOut},
    summary="Report what the user did with an AI avatar: accepted, declined or regenerated",
)  # fmt: skip
@in_pool
def offer_event(request: HttpRequest, body: OfferEventIn) -> dict:
    """The latest report wins. `kept` (original or identity) says what a user
    who declined kept instead."""
    job = Job.objects.filter(pk=_uuid(body.job_id), account=request.auth).first()
    if job is None:
        raise ApiError(404, "not_found", "No such job.")
    try:
        offer = record_outcome(job, body.outcome, body.kept or "")
    except NotOffered:
        raise ApiError(409, "not_offered", "That job delivered no avatar to answer.") from None
    except ValueError as exc:
        raise ApiError(400, "invalid_kept", str(exc)) from None
    return {
        "job_id": str(job.pk),
        "style": offer.style,
        "platform": offer.platform,
        "outcome": offer.outcome,
        "kept": offer.kept or None,
        "offered_at": offer.offered_at,
        "decided_at": offer.decided_at,
    }
