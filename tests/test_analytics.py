"""Avatar offers: the recorder, the rates, GET /v1/analytics/avatars, the events
endpoint and the admin's chart."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from generation import offers
from generation.models import AvatarOffer, Batch, Job
from tests.service_helpers import client_for, make_account, post_json

pytestmark = pytest.mark.django_db(transaction=True)  # API views read in pool threads
ANALYTICS = "/v1/analytics/avatars"
EVENTS = "/v1/analytics/avatars/events"


def delivered(account, style="anime", platform="discord", **fields) -> Job:
    """A portrait job that ended done, offered as the worker offers it."""
    job = Job.objects.create(
        account=account,
        state=Job.State.DONE,
        params={"style": style, "platform": platform, **fields.pop("params", {})},
        **fields,
    )
    offers.record_offered(job)
    return job


def answered(account, outcome, *, style="anime", platform="discord", at=None, kept=""):
    job = delivered(account, style, platform)
    if outcome != "offered":
        offers.record_outcome(job, outcome, kept)
    if at is not None:
        AvatarOffer.objects.filter(job=job).update(offered_at=at)
    return job


@pytest.fixture
def acme():
    account, key = make_account(credits=0)
    return account, client_for(key)


# the recorder


def test_an_offer_is_recorded_once_per_job_with_its_style_platform_and_account(acme):
    account, _ = acme
    job = delivered(account, "editorial", "linkedin")
    again = offers.record_offered(job)
    assert AvatarOffer.objects.count() == 1 and again.job == job
    assert (again.style, again.platform, again.account) == ("editorial", "linkedin", account)
    assert again.outcome == "offered" and again.decided_at is None


def test_a_site_preview_is_an_offer_without_an_account():
    job = delivered(None, "corporate_headshot", "linkedin")
    offer = offers.record_accepted(job)
    assert offer.account is None and offer.outcome == "accepted" and offer.decided_at


def test_answers_replace_each_other_and_declines_say_what_was_kept(acme):
    account, _ = acme
    job = delivered(account)
    assert offers.record_regenerated(job).outcome == "regenerated"
    offer = offers.record_declined(job, "identity")
    assert (offer.outcome, offer.kept) == ("declined", "identity")
    offer = offers.record_accepted(job)  # went back to it and kept it after all
    assert (offer.outcome, offer.kept) == ("accepted", "")
    assert AvatarOffer.objects.count() == 1


def test_a_regeneration_links_the_offer_it_replaced(acme):
    account, _ = acme
    first = delivered(account)
    second = delivered(account, "editorial", params={"source_job": str(first.pk)})
    assert AvatarOffer.objects.get(job=second).previous == AvatarOffer.objects.get(job=first)


@pytest.mark.parametrize(
    "outcome,kept", [("offered", ""), ("liked", ""), ("accepted", "identity"), ("declined", "x")]
)
def test_unknown_answers_are_refused(acme, outcome, kept):
    job = delivered(acme[0])
    with pytest.raises(ValueError):
        offers.record_outcome(job, outcome, kept)
    assert AvatarOffer.objects.get(job=job).outcome == "offered"


def test_nothing_is_offered_by_a_job_that_delivered_nothing(acme):
    account, _ = acme
    queued = Job.objects.create(account=account, params={"style": "anime", "platform": "x"})
    failed = Job.objects.create(account=account, state=Job.State.FAILED, params=queued.params)
    batch = Batch.objects.create(account=account, total=1)
    item = Job.objects.create(
        account=account, batch=batch, state=Job.State.DONE, params=queued.params
    )
    for job in (queued, failed, item):
        with pytest.raises(offers.NotOffered):
            offers.record_accepted(job)
    assert AvatarOffer.objects.count() == 0


def test_counts_and_rates_by_group(acme):
    account, _ = acme
    for outcome in ("accepted", "accepted", "declined", "regenerated", "offered"):
        answered(account, outcome, style="anime")
    answered(account, "declined", style="editorial", platform="linkedin", kept="original")
    total = offers.offer_counts(AvatarOffer.objects.all())[0]
    assert total["offered"] == 6 and total["accepted"] == 2 and total["declined"] == 2
    assert total["pending"] == 1 and total["accepted_rate"] == round(2 / 6, 4)
    by_style = {row["style"]: row for row in offers.offer_counts(AvatarOffer.objects, ["style"])}
    assert by_style["anime"]["offered"] == 5 and by_style["anime"]["declined_rate"] == 0.2
    assert by_style["editorial"]["declined_rate"] == 1.0
    empty = offers.offer_counts(AvatarOffer.objects.none())[0]
    assert empty["offered"] == 0 and empty["accepted_rate"] is None
    with pytest.raises(ValueError):
        offers.offer_counts(AvatarOffer.objects.all(), ["outcome; DROP TABLE"])


# GET /v1/analytics/avatars


def test_the_api_counts_the_accounts_offers_since_a_moment(acme):
    account, api = acme
    other, _ = make_account("other")
    now = timezone.now()
    answered(account, "accepted", at=now - timedelta(days=2))
    answered(account, "declined", at=now - timedelta(days=2), kept="original")
    answered(account, "regenerated", style="editorial", platform="linkedin", at=now)
    answered(account, "accepted", at=now - timedelta(days=40))  # before the default window
    answered(other, "declined")  # someone else's
    answered(None, "declined")  # the site's own signup

    body = api.get(ANALYTICS).json()
    assert body["totals"]["offered"] == 3 and body["totals"]["declined"] == 1
    assert body["totals"]["regenerated_rate"] == round(1 / 3, 4)
    styles = {row["style"]: row for row in body["by_style"]}
    assert styles["anime"]["accepted_rate"] == 0.5 and styles["editorial"]["offered"] == 1
    assert {row["platform"] for row in body["by_platform"]} == {"discord", "linkedin"}
    pairs = {(row["style"], row["platform"]) for row in body["by_style_and_platform"]}
    assert pairs == {("anime", "discord"), ("editorial", "linkedin")}
    days = {row["day"]: row["offered"] for row in body["by_day"]}
    assert days == {str((now - timedelta(days=2)).date()): 2, str(now.date()): 1}

    since = (now - timedelta(days=60)).date().isoformat()
    assert api.get(ANALYTICS, {"since": since}).json()["totals"]["offered"] == 4
    recent = api.get(ANALYTICS, {"since": (now - timedelta(hours=1)).isoformat()}).json()
    assert recent["totals"]["offered"] == 1
    assert datetime.fromisoformat(recent["since"].replace("Z", "+00:00")) <= now


@pytest.mark.parametrize(
    "since,expected",
    [
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T08:30:00Z", datetime(2026, 11, 1, 8, 30, tzinfo=UTC)),
        ("2026-11-01T08:30:00+02:00", datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
        ("2026-11-01T08:30", datetime(2026, 11, 1, 8, 30, tzinfo=UTC)),
    ],
)
def test_since_takes_iso_dates_and_times(acme, since, expected):
    body = acme[1].get(ANALYTICS, {"since": since}).json()
    assert datetime.fromisoformat(body["since"].replace("Z", "+00:00")) == expected


@pytest.mark.parametrize(
    "since",
    [
        "yesterday",
        "2026-13-01",
        "2026-02-30",
        "2026-11-01T25:00",
        "2026-11-01T08:00:00 02:00",  # a + sent unencoded arrives as a space
        "0001-01-01T00:00:00+14:00",
        "9" * 5000,
        "2026-11-01T08:00:00+99:00",
        "' OR 1=1 --",
    ],
)
def test_a_bad_since_is_400_invalid_since(acme, since):
    response = acme[1].get(ANALYTICS, {"since": since})
    assert response.status_code == 400, response.content[:200]
    assert response.json()["code"] == "invalid_since" and "ISO 8601" in response.json()["message"]


def test_analytics_need_an_api_key(client):
    assert client.get(ANALYTICS).json()["code"] == "unauthorized"
    assert post_json(client, EVENTS, {}).status_code == 401


# POST /v1/analytics/avatars/events


def test_a_platform_reports_what_its_user_did(acme):
    account, api = acme
    job = delivered(account, "editorial", "linkedin")
    report = {"job_id": str(job.pk), "outcome": "declined", "kept": "original"}
    response = post_json(api, EVENTS, report)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["outcome"] == "declined" and body["kept"] == "original"
    assert body["style"] == "editorial" and body["decided_at"]
    accepted = post_json(api, EVENTS, {"job_id": str(job.pk), "outcome": "accepted"}).json()
    assert accepted["outcome"] == "accepted" and accepted["kept"] is None
    assert api.get(ANALYTICS).json()["totals"]["accepted"] == 1


@pytest.mark.parametrize(
    "body,status,code",
    [
        ({"outcome": "accepted"}, 422, "invalid_request"),
        ({"job_id": "JOB", "outcome": "loved"}, 422, "invalid_request"),
        ({"job_id": "JOB", "outcome": "declined", "kept": "nothing"}, 422, "invalid_request"),
        ({"job_id": "JOB", "outcome": "accepted", "kept": "identity"}, 400, "invalid_kept"),
        ({"job_id": "not-a-uuid", "outcome": "accepted"}, 404, "not_found"),
        ({"job_id": "9" * 100_000, "outcome": "accepted"}, 404, "not_found"),
        (
            {"job_id": "00000000-0000-0000-0000-0000000000ff", "outcome": "accepted"},
            404,
            "not_found",
        ),
        ({"job_id": ["JOB"], "outcome": "accepted"}, 422, "invalid_request"),
    ],
)
def test_bad_events_are_refused_and_change_nothing(acme, body, status, code):
    account, api = acme
    job = delivered(account)
    body = {k: str(job.pk) if v == "JOB" else v for k, v in body.items()}
    response = post_json(api, EVENTS, body)
    assert response.status_code == status, response.content[:200]
    assert response.json()["code"] == code
    assert AvatarOffer.objects.get(job=job).outcome == "offered"


def test_events_on_another_accounts_job_or_one_not_delivered(acme):
    account, api = acme
    other, _ = make_account("other")
    theirs = delivered(other)
    response = post_json(api, EVENTS, {"job_id": str(theirs.pk), "outcome": "accepted"})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert AvatarOffer.objects.get(job=theirs).outcome == "offered"
    running = Job.objects.create(account=account, state=Job.State.RUNNING, params={})
    response = post_json(api, EVENTS, {"job_id": str(running.pk), "outcome": "accepted"})
    assert response.status_code == 409 and response.json()["code"] == "not_offered"
    assert not AvatarOffer.objects.filter(job=running).exists()


def test_broken_json_is_a_json_error(acme):
    response = acme[1].post(EVENTS, "{nope", content_type="application/json")
    assert response.status_code in (400, 422) and response.json()["code"]


# the admin's chart

CHART = "/admin/generation/avataroffer/chart/"


def test_the_admin_chart_draws_each_style_and_platform(acme, admin_client):
    account, _ = acme
    for outcome in ("accepted", "declined", "regenerated"):
        answered(account, outcome, style="anime", platform="discord")
    answered(None, "accepted", style="editorial", platform="linkedin")
    page = admin_client.get(CHART).content.decode()
    assert "<strong>4</strong> AI avatars offered" in page
    assert page.count('data-testid="chart-panel"') == 4  # 2 styles + 2 platforms
    assert page.count('<path class="accepted"') == 4
    assert "of 3 offered" in page  # a point's figures
    site_only = admin_client.get(CHART, {"account": "site"}).content.decode()
    assert "<strong>1</strong> AI avatars offered" in site_only
    listing = admin_client.get("/admin/generation/avataroffer/").content.decode()
    assert CHART in listing and "anime" in listing


def test_the_admin_chart_ignores_bad_parameters_and_needs_staff(acme, admin_client, client):
    answered(acme[0], "accepted")
    page = admin_client.get(CHART, {"days": "-1<script>", "account": "<script>x</script>"})
    assert page.status_code == 200 and b"<script>x" not in page.content
    assert b'value="30" selected' in page.content and b"<strong>1</strong>" in page.content
    assert client.get(CHART).status_code == 302  # to the login page
