"""Pages in a real headless Chromium: the gallery and the admin's style preview."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BROKEN_IMAGES = "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length"


def wait_for_images(page) -> None:
    page.wait_for_function("[...document.images].every(i => i.complete)")


def test_gallery_shows_every_style_and_draws_a_typed_name(live_server, page, screenshot):
    from generation.avatars import install_defaults

    install_defaults()
    page.goto(live_server.url + "/")
    wait_for_images(page)
    assert page.locator("section.style").count() >= 10
    assert page.locator("section.style img").count() >= 80
    assert page.evaluate(BROKEN_IMAGES) == 0
    screenshot(page, "gallery")

    page.fill("#name", "Zed Quill")
    page.wait_for_selector("img[alt$='for Zed Quill']")
    wait_for_images(page)
    assert page.locator("section.style img").count() == page.locator("section.style").count()
    assert page.evaluate(BROKEN_IMAGES) == 0
    assert "name=Zed%20Quill" in page.url
    page.select_option("#palette", "blue")
    page.wait_for_selector("img[src*='palette=blue']")
    wait_for_images(page)
    screenshot(page, "gallery-typed-name-blue")


def test_admin_style_page_previews_twelve_seeds(live_server, page, screenshot):
    from django.contrib.auth import get_user_model

    from generation.avatars import install_defaults
    from generation.models import Style

    install_defaults()
    get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-boss-123456")
    style = Style.objects.get(slug="people")
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-boss-123456")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/generation/style/{style.pk}/change/")
    wait_for_images(page)
    previews = page.locator("div.field-preview img")
    assert previews.count() == 12
    assert page.evaluate(BROKEN_IMAGES) == 0
    assert all(previews.nth(i).evaluate("i => i.naturalWidth") > 0 for i in range(12))
    page.locator("div.field-preview").scroll_into_view_if_needed()
    screenshot(page, "admin-style-people")
