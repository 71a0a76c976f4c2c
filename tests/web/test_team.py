"""The /team/ pages in the test client: who may see them, the look and its
free preview, uploads (zip, photos, CSV) with per-file reports, review
actions, publishing, the embeddable directory, downloads, invites and
create_account --team-admin. Jobs run on the real pipeline
(run_available_jobs), the database is real."""

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from PIL import Image

from accounts.credits import balance
from accounts.models import CreditEntry, PlatformAccount, Seat
from generation.jobs.worker import run_available_jobs
from generation.models import Batch, Job, TeamAdmin, TeamInvite, TeamLook, TeamMember
from generation.web.uploads import UploadLimit
from tests.service_helpers import PHOTOS, zip_of

pytestmark = pytest.mark.django_db(transaction=True)
FACE = (PHOTOS / "obama2.jpg").read_bytes()
OTHER_FACE = (PHOTOS / "biden2.jpg").read_bytes()
NO_FACE = (PHOTOS / "coffee.png").read_bytes()


@pytest.fixture(autouse=True)
def no_embedded_worker(settings, identity_defaults):
    settings.EMBEDDED_WORKER = False


def team(name: str = "Acme", credits: int = 20, seats: int = 0) -> tuple[PlatformAccount, Client]:
    call_command(
        "create_account", name, "--credits", str(credits), "--seats", str(seats),
        "--team-admin", f"hr@{name.lower()}.test", stdout=io.StringIO(),
    )  # fmt: skip
    account = PlatformAccount.objects.get(name=name)
    client = Client()
    client.force_login(get_user_model().objects.get(email=f"hr@{name.lower()}.test"))
    return account, client


def upload(client: Client, account: PlatformAccount, files: dict[str, bytes]):
    payload = [SimpleUploadedFile(name, data) for name, data in files.items()]
    return client.post(f"/team/{account.pk}/upload/", {"files": payload})


def members(account: PlatformAccount) -> dict[str, TeamMember]:
    return {m.name: m for m in TeamMember.objects.filter(account=account).select_related("job")}


def test_create_account_makes_or_finds_the_team_admin():
    out = io.StringIO()
    call_command("create_account", "Acme", "--credits", "50", "--team-admin", "hr@acme.test",
                 stdout=out)  # fmt: skip
    user = get_user_model().objects.get(email="hr@acme.test")
    assert not user.has_usable_password()
    assert "changepassword" in out.getvalue()
    assert TeamAdmin.objects.filter(user=user, account__name="Acme").exists()
    call_command("create_account", "Beta", "--team-admin", "HR@acme.test", stdout=io.StringIO())
    assert get_user_model().objects.filter(email__iexact="hr@acme.test").count() == 1
    assert TeamAdmin.objects.filter(user=user).count() == 2


def test_only_the_accounts_team_admins_see_its_pages():
    acme, hr = team("Acme")
    beta, other_hr = team("Beta")
    assert hr.get("/team/").url == f"/team/{acme.pk}/"
    for path in ("", "look/", "upload/", "directory/", "invites/", "admins/", "statuses.csv"):
        assert hr.get(f"/team/{acme.pk}/{path}").status_code == 200, path
        assert other_hr.get(f"/team/{acme.pk}/{path}").status_code == 404, path
    signed_out = Client().get(f"/team/{acme.pk}/")
    assert signed_out.status_code == 302 and "/login/" in signed_out.url
    stranger = Client()
    stranger.force_login(get_user_model().objects.create_user("someone", "s@x.test", "pw"))
    assert stranger.get(f"/team/{acme.pk}/").status_code == 404


def test_the_look_is_previewed_free_and_saved():
    account, hr = team(credits=3)
    form = {"style": "editorial", "background": "", "palette": "", "framing": "linkedin"}
    response = hr.post(f"/team/{account.pk}/look/", {**form, "action": "preview"})
    assert response.status_code == 200
    assert b'data-testid="look-preview"' in response.content
    assert b"data:image/png;base64," in response.content
    assert Job.objects.count() == 0 and balance(account) == 3  # nothing queued or charged
    assert TeamLook.objects.get(account=account).style == "corporate_headshot"  # not saved
    sample = SimpleUploadedFile("me.jpg", OTHER_FACE)
    response = hr.post(f"/team/{account.pk}/look/", {**form, "action": "preview", "sample": sample})
    assert b'data-testid="look-preview"' in response.content
    refused = hr.post(
        f"/team/{account.pk}/look/",
        {**form, "action": "preview", "sample": SimpleUploadedFile("x.jpg", b"not a photo")},
    )
    assert refused.status_code == 400 and b"not a photo we can read" in refused.content
    saved = hr.post(f"/team/{account.pk}/look/", {**form, "palette": "#1f3a5f, #dde1e6"})
    assert saved.status_code == 302
    look = TeamLook.objects.get(account=account)
    assert (look.style, look.palette) == ("editorial", ["#1f3a5f", "#dde1e6"])
    bad = hr.post(f"/team/{account.pk}/look/", {**form, "palette": "=cmd|' /C calc'!A0"})
    assert bad.status_code == 400 and b"not a #rrggbb colour" in bad.content


def test_a_zip_with_a_csv_runs_reports_bad_files_and_charges_only_delivered_avatars():
    account, hr = team(credits=10)
    archive = zip_of({"jane.jpg": FACE, "john.jpg": OTHER_FACE, "mug.png": NO_FACE,
                      "notes.jpg": b"plain text, not a photo"})  # fmt: skip
    people = (
        "file,name,email,title,team\n"
        "jane.jpg,Jane Doe,jane@acme.test,=cmd|' /C calc'!A0,Design\n"
        "john,John Roe,,@SUM(1+1),Sales\n"
        "ghost.jpg,Nobody,,,\n"
    )
    response = upload(hr, account, {"team.zip": archive, "people.csv": people.encode()})
    assert response.status_code == 302
    batch = Batch.objects.get(account=account)
    assert batch.total == 3  # jane, john, mug: notes.jpg was reported, not charged
    page = hr.get(response.url)
    assert b"team.zip/notes" in page.content and b"not a photo we can read" in page.content
    assert b"No photo with this file name" in page.content
    assert b'data-testid="batch-progress"' in page.content
    assert balance(account) == 7  # three held
    run_available_jobs("test-worker")
    panel = hr.get(f"/team/{account.pk}/batches/{batch.pk}/panel")
    assert b'data-percent="100"' in panel.content
    team_members = members(account)
    assert team_members["Jane Doe"].email == "jane@acme.test"
    assert team_members["Jane Doe"].job.state == Job.State.DONE
    assert team_members["Mug"].job.state == Job.State.FAILED
    assert balance(account) == 10 - sum(m.job.charged for m in team_members.values())
    assert CreditEntry.objects.filter(account=account, reason="release").count() >= 1
    statuses = list(
        csv.reader(io.StringIO(hr.get(f"/team/{account.pk}/statuses.csv").content.decode()))
    )
    by_name = {row[0]: row for row in statuses[1:]}
    assert by_name["Jane Doe"][2] == "'=cmd|' /C calc'!A0"
    assert by_name["John Roe"][2] == "'@SUM(1+1)"
    assert by_name["Mug"][6] == "failed" and by_name["Mug"][12] == "no_face"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"team.zip": zip_of({"../evil.jpg": FACE})}, b"is not a safe path"),
        ({"team.zip": zip_of({"inner.zip": zip_of({"a.jpg": FACE})})}, b"inside the archive"),
        ({"team.zip": b"PK\x03\x04 broken"}, b"cannot be read"),
        ({"bomb.zip": None}, b"expands over"),
        ({"big.jpg": b"\xff\xd8" + b"0" * (21 * 1024 * 1024)}, b"too big"),
        ({"mug.exe": b"MZ\x90\x00" * 100}, b"not a photo we can read"),
        ({"people.csv": b"name,title\nJane,=1+1\n"}, b"needs a header row with a file column"),
        ({"people.csv": b"\xff\xfe\x00b\x00a\x00d"}, b"not UTF-8"),
    ],
)
def test_bad_uploads_are_reported_and_nothing_is_stored_or_charged(files, message):
    if "bomb.zip" in files:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("bomb.jpg", b"\x00" * (14 * 1024 * 1024))
        files = {"bomb.zip": out.getvalue()}
    account, hr = team(credits=5)
    response = upload(hr, account, files)
    assert response.status_code == 400
    assert message in response.content
    assert b"nothing was charged" in response.content
    assert not Batch.objects.exists() and not TeamMember.objects.exists()
    assert balance(account) == 5
    assert hr.get(f"/team/{account.pk}/upload/").status_code == 200  # still serving


def test_approve_all_ready_leaves_other_looks_and_failures_for_a_person():
    account, hr = team(credits=10)
    upload(hr, account, {"jane.jpg": FACE, "john.jpg": OTHER_FACE, "mug.png": NO_FACE})
    run_available_jobs("test-worker")
    john = members(account)["John"]
    hr.post(f"/team/{account.pk}/people/{john.pk}/retry", {"style": "anime"})
    run_available_jobs("test-worker")
    hr.post(f"/team/{account.pk}/approve-ready")
    reviews = {name: member.review for name, member in members(account).items()}
    assert reviews == {"Jane": "approved", "John": "pending", "Mug": "pending"}


def test_two_photos_of_one_person_keep_the_first():
    account, hr = team(credits=5)
    people = b"file,name,email\na.jpg,Jane,jane@acme.test\nb.jpg,Jane,JANE@acme.test\n"
    response = upload(hr, account, {"a.jpg": FACE, "b.jpg": OTHER_FACE, "p.csv": people})
    assert Batch.objects.get().total == 1 and balance(account) == 4
    assert b"a.jpg is already this person&#x27;s photo" in hr.get(response.url).content


def test_a_bad_file_beside_good_ones_does_not_stop_them():
    account, hr = team(credits=5)
    response = upload(hr, account, {"jane.jpg": FACE, "bad.png": b"\x89PNG broken"})
    assert response.status_code == 302
    assert Batch.objects.get().total == 1
    assert b"bad.png" in hr.get(response.url).content


def test_not_enough_credits_or_seats_stores_nothing():
    account, hr = team(credits=1)
    response = upload(hr, account, {"jane.jpg": FACE, "john.jpg": OTHER_FACE})
    assert response.status_code == 400 and b"Not enough credits" in response.content
    assert not TeamMember.objects.exists() and balance(account) == 1
    seated, seat_hr = team("Seated", credits=0, seats=1)
    response = upload(seat_hr, seated, {"jane.jpg": FACE, "john.jpg": OTHER_FACE})
    assert response.status_code == 400 and b"Not enough seats" in response.content
    assert not Seat.objects.exists()


def test_review_retry_replace_approve_exclude_publish_and_the_directory():
    account, hr = team("Acme", credits=0, seats=5)
    upload(hr, account, {"jane.jpg": FACE, "john.jpg": OTHER_FACE, "mug.png": NO_FACE})
    run_available_jobs("test-worker")
    people = members(account)
    jane, john, mug = people["Jane"], people["John"], people["Mug"]
    review = hr.get(f"/team/{account.pk}/")
    assert review.content.count(b'data-testid="review-item"') == 3
    assert b"Likeness" in review.content
    images = f"/team/{account.pk}/people/{jane.pk}"
    for which in ("original", "avatar"):  # review copies, not the full images
        shown = hr.get(f"{images}/{which}.png")
        assert shown["Content-Type"] == "image/jpeg"
        with Image.open(io.BytesIO(shown.content)) as copy:
            assert max(copy.size) <= 320
    # approving a failed item is refused; retrying in another style takes no new seat
    hr.post(f"/team/{account.pk}/people/{mug.pk}/approve")
    assert TeamMember.objects.get(pk=mug.pk).review == "pending"
    first_job = john.job_id
    hr.post(f"/team/{account.pk}/people/{john.pk}/retry", {"style": "anime", "background": ""})
    john.refresh_from_db()
    assert john.job_id != first_job and john.job.params["style"] == "anime"
    hr.post(
        f"/team/{account.pk}/people/{mug.pk}/replace",
        {"photo": SimpleUploadedFile("new.jpg", FACE)},
    )
    refused = hr.post(
        f"/team/{account.pk}/people/{jane.pk}/replace",
        {"photo": SimpleUploadedFile("new.jpg", b"<script>")},
        follow=True,
    )
    assert b"not a photo we can read" in refused.content
    run_available_jobs("test-worker")
    assert Seat.objects.filter(account=account).count() == 3
    for person in (jane, john, mug):
        hr.post(f"/team/{account.pk}/people/{person.pk}/approve")
    hr.post(f"/team/{account.pk}/people/{mug.pk}/exclude")
    assert hr.post(f"/team/{account.pk}/publish").status_code == 302
    directory = hr.get(f"/team/{account.pk}/directory/")
    assert directory.content.count(b'data-testid="directory-item"') == 2
    token = TeamLook.objects.get(account=account).directory_token
    embed = Client().get(f"/team/embed/{token}/")
    assert embed.status_code == 200 and "X-Frame-Options" not in embed
    assert hr.get(f"/team/{account.pk}/").get("X-Frame-Options") == "DENY"
    feed = Client().get(f"/team/embed/{token}/feed.json").json()
    assert sorted(p["name"] for p in feed["people"]) == ["Jane", "John"]
    assert "email" not in feed["people"][0]
    shown = Client().get(feed["people"][0]["avatar_url"])
    with Image.open(io.BytesIO(b"".join(shown.streaming_content))) as small:
        assert small.size == (240, 240)  # the directory's copy, not the 800 px avatar
    assert Client().get("/team/embed/not-a-token/").status_code == 404
    archive = b"".join(hr.get(f"/team/{account.pk}/avatars.zip"))  # streamed (async iterator)
    with zipfile.ZipFile(io.BytesIO(archive)) as done:
        assert sorted(done.namelist()) == ["jane.png", "john.png", "results.json"]  # not mug
        assert json.loads(done.read("results.json"))[0]["external_id"] == "jane"
    hr.post(f"/team/{account.pk}/directory/new-link")
    assert Client().get(f"/team/embed/{token}/").status_code == 404


def test_invite_links_domain_limit_and_expiry():
    account, hr = team(credits=5)
    hr.post(
        f"/team/{account.pk}/invites/", {"email_domain": "@Acme.test", "max_uses": 1, "days": 7}
    )
    invite = TeamInvite.objects.get()
    assert invite.email_domain == "acme.test" and len(invite.token) >= 43
    visitor = Client()
    url = f"/team/join/{invite.token}/"
    form = {"name": "Jane Doe", "title": "Designer", "team": "Design"}
    wrong = visitor.post(url, {**form, "email": "jane@gmail.com",
                               "photo": SimpleUploadedFile("me.jpg", FACE)})  # fmt: skip
    assert wrong.status_code == 400 and b"Use your address at acme.test" in wrong.content
    not_photo = visitor.post(url, {**form, "email": "jane@acme.test",
                                   "photo": SimpleUploadedFile("me.jpg", b"%PDF-1.4")})  # fmt: skip
    assert not_photo.status_code == 400 and not TeamMember.objects.exists()
    assert TeamInvite.objects.get().uses == 0 and balance(account) == 5
    done = visitor.post(url, {**form, "email": "jane@acme.test",
                              "photo": SimpleUploadedFile("me.jpg", FACE)})  # fmt: skip
    assert done.status_code == 200 and b"Thank you, Jane Doe" in done.content
    member = TeamMember.objects.get()
    assert (member.external_id, member.via_invite, member.title) == (
        "jane@acme.test",
        True,
        "Designer",
    )
    used_up = visitor.get(url)
    assert used_up.status_code == 410 and b"used up" in used_up.content
    TeamInvite.objects.update(max_uses=5, expires_at=timezone.now() - timedelta(seconds=1))
    expired = visitor.get(url)
    assert expired.status_code == 410 and b"has expired" in expired.content
    assert visitor.get("/team/join/guessed-token/").status_code == 404


def test_a_team_admin_adds_another_who_sets_a_password():
    account, hr = team()
    response = hr.post(f"/team/{account.pk}/admins/", {"email": "new.hr@acme.test"})
    assert b'data-testid="welcome-link"' in response.content
    link = response.content.split(b'data-testid="welcome-link"')[0].rsplit(b'value="', 1)[1]
    path = "/" + link.split(b'"')[0].decode().split("/", 3)[3]
    newcomer = Client()
    form_page = newcomer.get(path, follow=True)
    assert b"Choose your password" in form_page.content
    password = "a long pass phrase 42"
    newcomer.post(
        form_page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password}
    )
    assert newcomer.login(username="new.hr@acme.test", password=password)
    assert newcomer.get(f"/team/{account.pk}/").status_code == 200


def test_operator_admin_grants_credits_with_a_reason_and_reads_the_ledger(admin_client):
    account, _ = team(credits=5)
    changelist = "/admin/accounts/platformaccount/"
    chosen = {"action": "grant_credits", "_selected_action": [account.pk]}
    refused = admin_client.post(changelist, {**chosen, "apply": "1", "amount": "-3", "reason": ""})
    assert b"errorlist" in refused.content and balance(account) == 5
    admin_client.post(changelist, {**chosen, "apply": "1", "amount": "40", "reason": "Q4 plan"})
    assert balance(account) == 45
    ledger = admin_client.get(f"/admin/accounts/creditentry/?account__id__exact={account.pk}")
    assert ledger.status_code == 200 and b"Q4 plan (by admin)" in ledger.content
    assert admin_client.get("/admin/accounts/creditentry/add/").status_code == 403
    entry = CreditEntry.objects.filter(account=account).first()
    change = admin_client.post(f"/admin/accounts/creditentry/{entry.pk}/change/", {"delta": 999})
    assert change.status_code == 403 or CreditEntry.objects.get(pk=entry.pk).delta != 999
    upload(Client(), account, {})  # no effect: signed out
    hr = Client()
    hr.force_login(get_user_model().objects.get(email="hr@acme.test"))
    upload(hr, account, {"jane.jpg": FACE})
    for path in ("/admin/generation/batch/", "/admin/generation/job/"):
        for query in ("", f"?account__id__exact={account.pk}", "?state=queued", "?state=done"):
            assert admin_client.get(path + query).status_code == 200, path + query
    batch = Batch.objects.get()
    assert admin_client.get(f"/admin/generation/batch/{batch.pk}/change/").status_code == 200
    assert admin_client.get("/admin/generation/batch/add/").status_code == 403
    assert admin_client.get("/admin/generation/teamadmin/").status_code == 200


def test_an_invite_upload_over_the_limit_is_refused_before_it_is_read(settings):
    account, hr = team(credits=5)
    hr.post(f"/team/{account.pk}/invites/", {"email_domain": "acme.test", "max_uses": 5, "days": 1})
    path = f"/team/join/{TeamInvite.objects.get().token}/"
    sent: list[dict] = []

    async def app(scope, receive, send):  # never reached
        raise AssertionError("the body was read")

    async def receive():
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message):
        sent.append(message)

    length = str(settings.PREVIEW_MAX_UPLOAD_BYTES * 2).encode()
    scope = {"type": "http", "method": "POST", "path": path,
             "headers": [(b"content-length", length)]}  # fmt: skip
    async_to_sync(UploadLimit(app))(scope, receive, send)
    assert sent[0]["status"] == 413 and b"too big" in sent[1]["body"]
    assert TeamInvite.objects.get().uses == 0 and balance(account) == 5


def test_the_last_team_admin_stays_and_an_erased_account_takes_its_team(settings):
    account, hr = team(credits=5)
    only = TeamAdmin.objects.get(account=account)
    response = hr.post(f"/team/{account.pk}/admins/{only.pk}/remove", follow=True)
    assert b"at least one admin" in response.content and TeamAdmin.objects.count() == 1
    upload(hr, account, {"jane.jpg": FACE})
    run_available_jobs("test-worker")
    jane = TeamMember.objects.get()
    hr.post(f"/team/{account.pk}/people/{jane.pk}/approve")
    jane.refresh_from_db()
    files = [settings.MEDIA_ROOT / name for name in (jane.photo.name, jane.avatar.name,
                                                      jane.thumbnail.name)]  # fmt: skip
    assert all(path.exists() for path in files)
    token = TeamLook.objects.get(account=account).directory_token
    account.delete()
    assert not TeamMember.objects.exists() and not TeamAdmin.objects.exists()
    assert not any(path.exists() for path in files)
    assert Client().get(f"/team/embed/{token}/").status_code == 404
    assert hr.get(f"/team/{account.pk}/").status_code == 404
