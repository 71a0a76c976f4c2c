"""Deleting an account in the admin, in Chromium: the page says what erasure keeps."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_deletes_an_account_and_the_tombstone_stays_listed(live_server, page, screenshot):
    from django.contrib.auth import get_user_model

    from accounts.models import PlatformAccount
    from tests.service_helpers import make_account

    account, _ = make_account("Leaving Ltd", credits=4, seats=2)
    get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-boss-123456")
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-boss-123456")
    page.click("input[type=submit]")

    page.goto(f"{live_server.url}/admin/accounts/platformaccount/{account.pk}/delete/")
    assert page.get_by_test_id("erasure-note").is_visible()
    screenshot(page, "admin-account-delete-confirmation")
    page.click("input[type=submit]")

    page.wait_for_selector("ul.messagelist")
    assert "Leaving Ltd: erased; its credit ledger is kept" in page.inner_text("ul.messagelist")
    assert page.get_by_role("link", name=f"deleted account {account.pk}").is_visible()
    screenshot(page, "admin-account-deleted")
    page.click("text=Yes (tombstones)")
    page.wait_for_url("**?deleted=yes")
    assert page.get_by_role("link", name=f"deleted account {account.pk}").is_visible()
    page.click("#changelist-filter a[href*='deleted=no']")
    page.wait_for_url("**?deleted=no")
    assert page.locator("#result_list tbody tr").count() == 0
    account = PlatformAccount.objects.get(pk=account.pk)
    assert account.deleted_at is not None and account.credits.count() == 1
