"""Deleting accounts and jobs: files and personal data go at once, the credit
ledger stays (append-only, kept against a tombstone for accounting).

The account is filled through the API and a real worker run: delivered
(charged) avatars, a job that failed, a cached input photo, a seat batch and a
job still queued when the account is deleted.
"""

import base64
import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from accounts import credits
from accounts.models import ApiKey, CreditEntry, PlatformAccount, Seat
from generation.jobs.worker import run_available_jobs
from generation.models import Batch, Job, SubjectModel
from tests.service_helpers import client_for, make_account, photo_b64, post_json

pytestmark = pytest.mark.django_db(transaction=True)


def faceless_b64() -> str:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), (90, 140, 200)).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def stored_files(settings) -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def ledger(account: PlatformAccount) -> list[tuple]:
    return list(
        CreditEntry.objects.filter(account=account)
        .order_by("pk")
        .values_list("pk", "delta", "reason", "job_id")
    )


@pytest.fixture
def busy_account(settings):
    """An account with credits, seats, keys, delivered and failed jobs, a
    cached input, a seat batch, and one job still queued."""
    settings.GENERATE_WAIT_SECONDS = 0
    settings.EMBEDDED_WORKER = False
    account, key = make_account("leaving", credits=6, seats=3)
    client = client_for(key)
    for body in (
        {"image_base64": photo_b64(), "style": "anime", "cache_input": True},
        {"image_base64": faceless_b64()},
    ):
        assert post_json(client, "/v1/avatar/generate", body).status_code == 202
    batch = {"items": [{"external_id": "emp-1", "image_base64": photo_b64("obama.jpg")}]}
    assert post_json(client, "/v1/avatar/batch", batch).status_code == 202
    assert run_available_jobs("deletion-test") == 3
    queued = post_json(client, "/v1/avatar/generate", {"image_base64": photo_b64()})
    assert queued.status_code == 202
    account.refresh_from_db()
    assert Job.objects.filter(account=account, charged=True).count() == 1
    assert Job.objects.filter(account=account, state="failed").count() == 1
    assert Job.objects.filter(account=account, state="queued").count() == 1
    assert Seat.objects.filter(account=account).count() == 1
    return account, key


def assert_erased(account: PlatformAccount, key: str, ledger_before: list, settings) -> None:
    account.refresh_from_db()
    assert account.deleted_at is not None and not account.is_active
    assert account.name == f"deleted account {account.pk}" and account.seats == 0
    for model in (Job, Batch, Seat, ApiKey):
        assert not model.objects.filter(account_id=account.pk).exists(), model
    assert stored_files(settings) == []
    after = ledger(account)
    assert after[: len(ledger_before)] == ledger_before  # nothing removed or changed
    # The job that was still queued gave its held credit back.
    assert [(d, r) for _, d, r, _ in after[len(ledger_before) :]] == [(1, "release")]
    assert credits.balance(account) == credits.ledger_total(account) == 5  # 6 - 1 delivered
    assert client_for(key).get("/v1/jobs/x").status_code == 401


def test_deleting_an_account_erases_it_and_keeps_its_ledger(busy_account, settings):
    account, key = busy_account
    model = SubjectModel.objects.create(account=account, subject_type="man", engine="cpu")
    assert any(name.startswith("avatars/") for name in stored_files(settings))
    assert any(name.startswith("inputs/") for name in stored_files(settings))
    before = ledger(account)

    account.delete()

    assert_erased(account, key, before, settings)
    assert not SubjectModel.objects.filter(pk=model.pk).exists()  # whatever it owned goes
    account.delete()  # again: nothing left to do, no error
    assert ledger(account)[: len(before)] == before


def test_deleting_accounts_through_a_queryset_erases_each(busy_account, settings):
    account, key = busy_account
    other, _ = make_account("staying", credits=2)
    before = ledger(account)
    PlatformAccount.objects.filter(pk=account.pk).delete()
    assert_erased(account, key, before, settings)
    other.refresh_from_db()
    assert other.deleted_at is None and credits.balance(other) == 2


def admin_client() -> Client:
    admin = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-123456")
    client = Client()
    client.force_login(admin)
    return client


def test_deleting_an_account_in_the_admin(busy_account, settings):
    account, key = busy_account
    before = ledger(account)
    client = admin_client()
    url = f"/admin/accounts/platformaccount/{account.pk}/delete/"
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert b"Are you sure" in confirm.content  # not "would require deleting protected"
    assert b"protected" not in confirm.content
    assert b'data-testid="erasure-note"' in confirm.content  # says the ledger stays

    response = client.post(url, {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert b"its credit ledger is kept" in response.content
    assert_erased(account, key, before, settings)
    # The tombstone stays listed and cannot be deleted again.
    assert client.get(url).status_code == 403


def test_deleting_accounts_with_the_admin_action(busy_account, settings):
    account, key = busy_account
    before = ledger(account)
    client = admin_client()
    changelist = "/admin/accounts/platformaccount/"
    chosen = {"action": "delete_selected", "_selected_action": [account.pk]}
    confirm = client.post(changelist, chosen).content
    assert b"Are you sure" in confirm and b'data-testid="erasure-note"' in confirm
    response = client.post(changelist, {**chosen, "post": "yes"}, follow=True)
    assert response.status_code == 200
    assert_erased(account, key, before, settings)


def test_deleting_a_charged_job_keeps_its_ledger_entry(busy_account, settings):
    account, _ = busy_account
    job = Job.objects.get(account=account, charged=True)
    files = [job.avatar_file.name, job.thumbnail_file.name]
    assert all(default_storage.exists(name) for name in files)
    entries = list(CreditEntry.objects.filter(job_id=job.pk).values_list("delta", "reason"))
    assert entries == [(-1, "reserve")]
    balance = credits.balance(account)

    job_id = job.pk
    job.delete()

    assert not Job.objects.filter(pk=job_id).exists()
    assert not any(default_storage.exists(name) for name in files)
    kept = CreditEntry.objects.filter(job_id=job_id).values_list("delta", "reason")
    assert list(kept) == entries  # the spend stays on the books, under the job's id
    assert credits.balance(account) == balance == credits.ledger_total(account)


def test_deleting_a_queued_job_gives_its_credit_back(busy_account):
    account, _ = busy_account
    balance = credits.balance(account)
    Job.objects.filter(account=account, state="queued").delete()
    assert credits.balance(account) == balance + 1 == credits.ledger_total(account)


def test_deleting_jobs_in_the_admin(busy_account):
    account, _ = busy_account
    client = admin_client()
    assert client.get("/admin/generation/job/").status_code == 200
    charged = Job.objects.get(account=account, charged=True)
    files = [charged.avatar_file.name, charged.thumbnail_file.name]
    url = f"/admin/generation/job/{charged.pk}/"
    page = client.get(f"{url}change/")
    assert page.status_code == 200 and str(charged.pk).encode() in page.content
    assert b"protected" not in client.get(f"{url}delete/").content
    balance = credits.balance(account)

    assert client.post(f"{url}delete/", {"post": "yes"}).status_code == 302
    assert not Job.objects.filter(pk=charged.pk).exists()
    assert not any(default_storage.exists(name) for name in files)
    assert CreditEntry.objects.filter(job_id=charged.pk, reason="reserve").exists()
    assert credits.balance(account) == balance

    queued = Job.objects.get(account=account, state="queued")
    chosen = {"action": "delete_selected", "_selected_action": [queued.pk], "post": "yes"}
    assert client.post("/admin/generation/job/", chosen).status_code == 302
    assert not Job.objects.filter(pk=queued.pk).exists()
    assert credits.balance(account) == balance + 1 == credits.ledger_total(account)
