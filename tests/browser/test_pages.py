"""Pages in a real headless Chromium: the gallery and the admin's style preview."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BROKEN_IMAGES = "[...document.images].filter(i => i.complete && i.naturalWidth === 0).length"


def wait_for_images(page, within: str = "") -> None:
    """Every image (in the `within` element) loaded, lazy ones included."""
    images = f"[...document.querySelectorAll('{within} img')]"
    page.evaluate(f"{images}.forEach(i => i.loading = 'eager')")
    page.wait_for_function(f"{images}.every(i => i.complete)", timeout=60_000)


def test_gallery_shows_every_style_and_draws_a_typed_name(live_server, page, screenshot):
    from generation.avatars import install_defaults

    install_defaults()
    page.goto(live_server.url + "/")
    wait_for_images(page, "section.style-group:first-child")
    assert page.locator("section.style").count() == 71  # 10 own styles and DiceBear's 61
    assert page.locator("h2.group-title").all_inner_texts() == [
        "The service's own styles",
        "DiceBear styles",
    ]
    assert page.locator("section.style img").count() >= 71 * 8
    assert page.locator("section.style a.licence").count() == 71
    adventurer = page.locator("#style-dicebear-adventurer")
    wait_for_images(page, "#style-dicebear-adventurer")
    assert page.evaluate(BROKEN_IMAGES) == 0
    assert adventurer.locator("a.licence").inner_text() == "CC BY 4.0"
    assert "Lisa Wischofsky" in adventurer.locator("p.credit").inner_text()
    assert page.locator("#style-dicebear-lorelei p.credit").count() == 0  # CC0: no credit due
    screenshot(page, "gallery")
    adventurer.scroll_into_view_if_needed()
    screenshot(page, "gallery-dicebear-credit")

    page.fill("#name", "Zed Quill")
    page.wait_for_selector("img[alt$='for Zed Quill']")
    wait_for_images(page, "section.style-group:first-child")
    assert page.locator("section.style img").count() == page.locator("section.style").count()
    assert page.evaluate(BROKEN_IMAGES) == 0
    assert "name=Zed%20Quill" in page.url
    page.select_option("#palette", "blue")
    page.wait_for_selector("img[src*='palette=blue']")
    wait_for_images(page, "section.style-group:first-child")
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
