"""/v1/docs works without the internet: Swagger UI is served by the site itself."""

from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_docs_list_the_operations_with_the_network_blocked(live_server, page, screenshot):
    local = urlsplit(live_server.url).netloc
    blocked: list[str] = []

    def only_this_server(route) -> None:
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    page.context.route("**/*", only_this_server)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_server.url + "/v1/docs")
    page.wait_for_selector(".opblock-summary", timeout=15000)
    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    for path in ("/v1/avatar/generate", "/v1/avatar/batch", "/v1/jobs/{job_id}"):
        assert path in summaries, summaries
    assert not blocked, blocked  # nothing was asked of a CDN
    assert not errors, errors
    page.locator(".opblock-summary", has_text="/v1/avatar/batch").first.click()
    page.wait_for_selector(".opblock-body")
    screenshot(page, "api-docs-offline")
