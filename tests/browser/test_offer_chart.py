"""The admin's chart of answers to AI avatars, in a real headless Chromium."""

import random
from datetime import timedelta

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# style -> (accept, decline, regenerate) chances: the chart should show them apart
STYLES = {
    "corporate_headshot": (0.7, 0.2, 0.1),
    "anime": (0.3, 0.5, 0.2),
    "editorial": (0.5, 0.2, 0.3),
}
PLATFORMS = ("linkedin", "discord")


def seed_offers(days: int) -> int:
    """Offers over the last `days` days with known tendencies per style; how many."""
    from django.utils import timezone

    from accounts.models import PlatformAccount
    from generation.models import AvatarOffer

    account = PlatformAccount.objects.create(name="Acme")
    rng = random.Random(8)
    now = timezone.now()
    offers = []
    for day in range(days):
        for style, weights in STYLES.items():
            for platform in PLATFORMS:
                for _ in range(rng.randint(2, 6)):
                    outcome = rng.choices(("accepted", "declined", "regenerated"), weights=weights)[
                        0
                    ]
                    offers.append(
                        AvatarOffer(
                            account=account if platform == "linkedin" else None,
                            style=style,
                            platform=platform,
                            outcome=outcome,
                            kept="original" if outcome == "declined" else "",
                            offered_at=now - timedelta(days=day, hours=rng.randint(0, 3)),
                        )
                    )
    AvatarOffer.objects.bulk_create(offers)
    return len(offers)


def log_in(page, base_url: str) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-boss-123456")
    page.goto(base_url + "/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-boss-123456")
    page.click("input[type=submit]")


def test_the_changelist_links_a_chart_of_rates_by_style_and_platform(live_server, page, screenshot):
    seed_offers(20)
    log_in(page, live_server.url)
    page.goto(live_server.url + "/admin/generation/avataroffer/")
    screenshot(page, "admin-offers-changelist")
    page.click("[data-testid=offer-chart-link]")
    page.wait_for_selector("[data-testid=offer-chart]")
    assert "AI avatars offered" in page.inner_text("[data-testid=offer-totals]")
    by_style = page.locator("[data-testid=chart-by-style] [data-testid=chart-panel]")
    by_platform = page.locator("[data-testid=chart-by-platform] [data-testid=chart-panel]")
    assert by_style.count() == 3 and by_platform.count() == 2
    assert sorted(by_style.locator("h3").all_inner_texts()) == sorted(STYLES)
    # three lines per panel, drawn across the 30 days shown (20 of them with offers)
    first = by_style.first
    assert first.locator("path").count() == 3
    assert first.locator("circle.accepted").count() == 20
    box = first.locator("svg").bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    screenshot(page, "admin-offer-chart-30-days")

    page.select_option("select[name=days]", "90")
    page.wait_for_url("**days=90**")
    assert "week" in page.inner_text(".legend")
    screenshot(page, "admin-offer-chart-90-days")

    page.select_option("select[name=account]", "site")
    page.wait_for_url("**account=site**")
    assert page.locator("[data-testid=chart-by-platform] [data-testid=chart-panel]").count() == 1
    assert page.locator("[data-testid=chart-by-platform] h3").inner_text() == "discord"


def test_an_empty_period_says_so(live_server, page, screenshot):
    log_in(page, live_server.url)
    page.goto(live_server.url + "/admin/generation/avataroffer/chart/?days=7&account=bogus")
    assert "No AI avatars were offered" in page.inner_text("[data-testid=offer-totals]")
    assert page.locator("[data-testid=offer-chart] svg").count() == 0
    screenshot(page, "admin-offer-chart-empty")
