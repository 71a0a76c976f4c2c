"""Signup in headless Chromium against a real server (tests.live_stack: `python
-m avatarsite.serve` in its own process on a free port, with its own database
and media folder). Once with the embedded defaults (SQLite,
in-memory layer, in-process worker), once with PostgreSQL, Redis and a
separate `manage.py runworker avatar-jobs` process. A screenshot per step."""

import os

import pytest

from tests.live_stack import Stack, distributed_env
from tests.service_helpers import PHOTOS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 60_000
REDIS = os.environ.get("TEST_SIGNUP_REDIS_URL", "redis://127.0.0.1:6379/7")


@pytest.fixture
def embedded(tmp_path):
    stack = Stack(tmp_path, {"AVATAR_EMBEDDED_WORKER": "1"}, worker=False)
    yield stack
    stack.stop()


@pytest.fixture
def distributed(tmp_path):
    stack = Stack(tmp_path, distributed_env("h8web_signup_browser", REDIS), worker=True)
    yield stack
    stack.stop()


def identity_src(page) -> str:
    return page.get_by_test_id("identity-preview").get_attribute("src")


def wait_for_image(page, testid: str) -> None:
    page.wait_for_function(
        f"""() => {{ const i = document.querySelector('[data-testid="{testid}"]');
                    return i && i.complete && i.naturalWidth > 0; }}""",
        timeout=TIMEOUT_MS,
    )


def sign_up_with_an_ai_avatar(page, url: str, screenshot, name: str) -> None:
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))
    page.goto(url + "/signup/")
    wait_for_image(page, "identity-preview")
    screenshot(page, f"{name}-1-signup")

    # the preview changes from the first keystroke
    seen = {identity_src(page)}
    for typed in ("r", "ri", "rio"):
        page.locator("#id_username").press_sequentially(typed[-1])
        page.wait_for_function(
            "(seen) => !seen.includes(document.querySelector('[data-testid=identity-preview]').src"
            ".replace(location.origin, ''))",
            arg=list(seen),
        )
        seen.add(identity_src(page))
    assert len(seen) == 4 and "username=rio" in identity_src(page)
    wait_for_image(page, "identity-preview")
    screenshot(page, f"{name}-2-typed")

    before = identity_src(page)
    page.get_by_test_id("identity-regenerate").click()
    page.wait_for_function(
        "(before) => document.querySelector('[data-testid=identity-preview]').getAttribute('src')"
        " !== before",
        arg=before,
    )
    wait_for_image(page, "identity-preview")
    chosen_style = page.locator("#identity-style").input_value()
    assert f"style={chosen_style}" in identity_src(page)
    screenshot(page, f"{name}-3-identity-regenerated")

    # a photo: progress frames over the socket, then the AI version
    page.get_by_test_id("photo-input").set_input_files(str(PHOTOS / "obama2.jpg"))
    page.get_by_test_id("progress").wait_for(timeout=TIMEOUT_MS)
    screenshot(page, f"{name}-4-progress")
    page.get_by_test_id("ai-preview").wait_for(timeout=TIMEOUT_MS)
    wait_for_image(page, "ai-preview")
    stage_frames = [f for f in frames if '"stage"' in f and '"running"' in f]
    assert len(stage_frames) >= 5, frames
    assert any('"done"' in f for f in frames)
    assert page.get_by_text("likeness").first.is_visible()
    assert page.evaluate("document.querySelector('input[value=identity]').checked") is False
    screenshot(page, f"{name}-5-ai-version")

    page.get_by_test_id("view-toggle").locator("label[for=choice-photo]").click()
    assert page.locator(".view-photo").is_visible()
    assert not page.get_by_test_id("ai-preview").is_visible()
    screenshot(page, f"{name}-6-your-photo")
    page.get_by_test_id("view-toggle").dispatch_event("click")  # the toggle itself flips
    assert page.get_by_test_id("ai-preview").is_visible()

    first_ai = page.get_by_test_id("ai-preview").get_attribute("src")
    page.locator("#look-style").select_option("anime")
    page.get_by_test_id("ai-regenerate").click()
    page.wait_for_function(
        "(first) => { const i = document.querySelector('[data-testid=ai-preview]');"
        " return i && i.getAttribute('src') !== first && i.complete && i.naturalWidth > 0; }",
        arg=first_ai,
        timeout=TIMEOUT_MS,
    )
    assert "Anime" in page.locator(".likeness").inner_text()
    screenshot(page, f"{name}-7-regenerated")

    page.locator("#id_email").fill("rio@example.com")
    page.locator("#id_password").fill("a-long-pass-phrase-42")
    page.get_by_test_id("confirm").click()
    page.wait_for_url("**/me/avatar/", timeout=TIMEOUT_MS)
    wait_for_image(page, "header-avatar")
    header = page.get_by_test_id("header-avatar")
    assert "/avatars/" in header.get_attribute("src")
    assert page.locator(".current-avatar").get_attribute("src").startswith("/avatars/")
    screenshot(page, f"{name}-8-me-avatar")

    page.goto(url + "/")
    wait_for_image(page, "header-avatar")
    screenshot(page, f"{name}-9-header-on-gallery")


def test_signup_with_the_embedded_defaults(embedded, page, screenshot):
    sign_up_with_an_ai_avatar(page, embedded.url, screenshot, "signup-embedded")


def test_signup_with_redis_and_a_runworker_process(distributed, page, screenshot):
    sign_up_with_an_ai_avatar(page, distributed.url, screenshot, "signup-redis")


def test_a_phone_sized_screen(embedded, browser, screenshot):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(embedded.url + "/signup/")
    wait_for_image(page, "identity-preview")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "signup-phone")
    context.close()


def test_without_javascript_the_form_still_works(embedded, browser, screenshot):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1200, "height": 900}
    )
    page = context.new_page()
    page.goto(embedded.url + "/signup/")
    page.locator("#id_username").fill("nojs")
    page.get_by_test_id("photo-input").set_input_files(str(PHOTOS / "obama2.jpg"))
    page.get_by_role("button", name="Upload photo").click()
    page.get_by_test_id("ai-preview").wait_for(timeout=TIMEOUT_MS)  # meta refresh polls
    screenshot(page, "signup-nojs-ai-version")
    page.locator("#id_email").fill("nojs@example.com")
    page.locator("#id_password").fill("a-long-pass-phrase-42")
    page.get_by_test_id("confirm").click()
    page.wait_for_url("**/me/avatar/")
    assert "/avatars/" in page.get_by_test_id("header-avatar").get_attribute("src")
    context.close()


def test_without_a_websocket_htmx_polls_for_the_result(embedded, page, screenshot):
    page.route_web_socket("**/ws/preview/", lambda socket: socket.close())
    page.goto(embedded.url + "/signup/")
    page.get_by_test_id("photo-input").set_input_files(str(PHOTOS / "obama2.jpg"))
    page.get_by_test_id("progress").wait_for(timeout=TIMEOUT_MS)
    assert page.evaluate("window.previewSocketLive") is False
    with page.expect_request("**/preview/jobs/*/", timeout=TIMEOUT_MS):
        pass  # the panel polls while the job runs
    page.get_by_test_id("ai-preview").wait_for(timeout=TIMEOUT_MS)
    wait_for_image(page, "ai-preview")
    screenshot(page, "signup-polling-ai-version")


def test_refusals_are_said_in_plain_words(embedded, page, screenshot):
    page.goto(embedded.url + "/signup/")
    page.get_by_test_id("photo-input").set_input_files(str(PHOTOS / "coffee.png"))
    page.get_by_text("We could not find a face in this photo").wait_for(timeout=TIMEOUT_MS)
    assert page.get_by_test_id("ai-regenerate").count() == 0  # no other looks without a result
    screenshot(page, "signup-no-face")
    page.get_by_test_id("photo-input").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}]
    )
    page.get_by_text("That file is not a photo we can read").wait_for()
    screenshot(page, "signup-not-a-photo")


def test_a_face_the_photo_cuts_is_made_and_the_page_says_so(embedded, page, screenshot):
    page.goto(embedded.url + "/signup/")
    page.get_by_test_id("photo-input").set_input_files(str(PHOTOS / "obama_partial_face.jpg"))
    page.get_by_test_id("ai-preview").wait_for(timeout=TIMEOUT_MS)
    wait_for_image(page, "ai-preview")
    assert page.get_by_text("Part of your face is outside the photo").is_visible()
    screenshot(page, "signup-face-cut-off")


def test_sign_up_with_the_identity_avatar_sign_out_and_in(embedded, page, screenshot):
    page.goto(embedded.url + "/signup/")
    page.locator("#id_username").fill("ivy")
    page.locator("#id_email").fill("ivy@example.com")
    page.locator("#id_password").fill("a-long-pass-phrase-42")
    page.wait_for_function(
        "document.querySelector('[data-testid=identity-preview]').src.includes('username=ivy')"
    )
    previewed = page.request.get(embedded.url + identity_src(page)).body()
    page.get_by_test_id("confirm").click()
    page.wait_for_url("**/me/avatar/")
    wait_for_image(page, "header-avatar")
    header = page.get_by_test_id("header-avatar").get_attribute("src")
    stored = header.split("?")[0].replace("avatar.png", "avatar.svg") + "?size=256"
    assert page.request.get(embedded.url + stored).body() == previewed  # byte for byte
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(embedded.url + "/")
    assert page.get_by_test_id("header-avatar").count() == 0
    page.get_by_role("link", name="Sign in").click()
    page.locator("#id_username").fill("ivy")
    page.locator("#id_password").fill("a-long-pass-phrase-42")
    screenshot(page, "signin")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/me/avatar/")
    wait_for_image(page, "header-avatar")
    screenshot(page, "signed-in-identity")
