"""An HR admin's whole day in headless Chromium against a real server
(tests/live_stack.py): once with the embedded defaults, once with PostgreSQL,
Redis (its own database number) and a separate `runworker avatar-jobs`.
Set a look (previewed free), upload a zip of fixture photos with a no-face
photo and a non-image plus a CSV of names, watch the batch reach 100% over
the WebSocket, review, retry one person in another style, approve, publish,
and open the directory and its embeddable view. A screenshot per step."""

import base64
import io
import os
import zipfile

import pytest

from tests.live_stack import Stack, distributed_env, manage
from tests.service_helpers import PHOTOS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 120_000
REDIS = os.environ.get("TEST_TEAM_REDIS_URL", "redis://127.0.0.1:6379/9")
PASSWORD = "team admin pass phrase 7"
PEOPLE_CSV = (
    "file,name,email,title,team\n"
    "jane.jpg,Jane Doe,jane@acme.test,Head of Design,Design\n"
    "john.jpg,John Roe,john@acme.test,Account Executive,Sales\n"
    'lin.png,Lin Park,lin@acme.test,=HYPERLINK("http://evil"),Engineering\n'
    "mug.png,Coffee Mug,,Mascot,Office\n"
)


def team_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("team/jane.jpg", (PHOTOS / "obama2.jpg").read_bytes())
        archive.writestr("team/john.jpg", (PHOTOS / "biden2.jpg").read_bytes())
        archive.writestr("team/lin.png", (PHOTOS / "lin-manuel-miranda.png").read_bytes())
        archive.writestr("team/mug.png", (PHOTOS / "coffee.png").read_bytes())
        archive.writestr("team/readme.jpg", b"this is a text file, not a photo")
    return out.getvalue()


def with_team_admin(stack: Stack) -> Stack:
    manage(stack.env, "create_account", "Acme", "--credits", "40", "--team-admin", "hr@acme.test")
    script = (
        "from django.contrib.auth import get_user_model; "
        "u = get_user_model().objects.get(email='hr@acme.test'); "
        f"u.set_password('{PASSWORD}'); u.save()"
    )
    manage(stack.env, "shell", "-c", script)
    return stack


@pytest.fixture
def embedded(tmp_path):
    stack = Stack(tmp_path, {"AVATAR_EMBEDDED_WORKER": "1"}, worker=False)
    yield with_team_admin(stack)
    stack.stop()


@pytest.fixture
def distributed(tmp_path):
    stack = Stack(tmp_path, distributed_env("h12_team_browser", REDIS), worker=True)
    yield with_team_admin(stack)
    stack.stop()


# The first row's photo, and the AI versions of those who have one, have loaded.
FIRST_ROW_SHOWN = """() => Array.from(document.querySelectorAll(".review-item img")).slice(0, 5)
    .every((img) => img.complete && img.naturalWidth > 0)"""


def sign_in(page, url: str) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url + "/team/")
    page.fill("input[name=username]", "hr@acme.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=team-meter]")


def run_the_team(page, url: str, screenshot, name: str, tmp_path) -> None:
    sign_in(page, url)
    assert page.inner_text("[data-testid=credits-left]") == "40"

    page.click("text=Look")
    page.select_option("select[name=style]", "corporate_headshot")
    page.select_option("select[name=framing]", "linkedin")
    page.click("[data-testid=preview-look]")
    page.wait_for_selector("[data-testid=look-preview]")
    screenshot(page, f"{name}-1-look-preview")
    assert page.inner_text("[data-testid=credits-left]") == "40"  # the preview is free
    page.click("[data-testid=save-look]")
    page.wait_for_selector(".flash-success")

    page.click("text=Upload")
    archive, people = tmp_path / "team.zip", tmp_path / "people.csv"
    archive.write_bytes(team_zip())
    people.write_text(PEOPLE_CSV)
    page.set_input_files("[data-testid=team-upload]", [str(archive), str(people)])
    screenshot(page, f"{name}-2-upload")
    page.click("[data-testid=upload-submit]")
    page.wait_for_selector("[data-testid=batch-progress]")
    report = page.inner_text("[data-testid=upload-report]")
    assert "team.zip/readme" in report and "not a photo we can read" in report
    screenshot(page, f"{name}-3-progress")
    page.wait_for_selector("[data-testid=batch-progress][data-percent='100']")
    assert page.evaluate("window.liveSocketOpen === true || window.teamFrames.length > 0")
    screenshot(page, f"{name}-4-progress-done")
    assert page.locator("[data-state=failed]").count() == 1  # the mug has no face
    page.reload()  # the page rebuilds where it stands
    page.wait_for_selector("[data-testid=batch-progress][data-percent='100']")

    page.click("[data-testid=go-review]")
    page.wait_for_selector("[data-testid=review-item]")
    assert page.locator("[data-testid=review-item]").count() == 4
    page.wait_for_function(FIRST_ROW_SHOWN)
    screenshot(page, f"{name}-5-review")

    john = page.locator("[data-testid=review-item][data-name='John Roe']")
    john.locator("summary").click()
    john.locator("[data-testid=retry-style]").select_option("anime")
    john.locator("[data-testid=retry]").click()
    page.wait_for_selector("[data-testid=review-item][data-name='John Roe'][data-state=done]")
    john = page.locator("[data-testid=review-item][data-name='John Roe']")
    assert "Anime" in john.inner_text() and john.locator("[data-testid=off-look]").count() == 1
    screenshot(page, f"{name}-6-retried")

    while page.locator("[data-testid=approve]").count():
        with page.expect_navigation():
            page.locator("[data-testid=approve]").first.click()
    assert page.locator("[data-review=approved]").count() == 3
    page.click("[data-testid=publish]")
    page.wait_for_selector("[data-testid=directory-item]")
    assert page.locator("[data-testid=directory-item]").count() == 3
    for image in page.locator("[data-testid=directory-item] img").all():
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.inner_text("[data-testid=credits-left]") == "36"  # 3 avatars and 1 retry
    screenshot(page, f"{name}-7-directory")

    embed_url = page.input_value("[data-testid=embed-code]").split('src="')[1].split('"')[0]
    page.goto(embed_url)
    assert page.locator("[data-testid=directory-item]").count() == 3
    screenshot(page, f"{name}-8-embed")


def test_a_team_with_the_embedded_defaults(embedded, page, screenshot, tmp_path):
    run_the_team(page, embedded.url, screenshot, "team-embedded", tmp_path)


def test_a_team_with_redis_and_a_runworker_process(distributed, page, screenshot, tmp_path):
    run_the_team(page, distributed.url, screenshot, "team-distributed", tmp_path)


DROP_FILES = """([name, b64]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, {type: "image/jpeg"}));
    const zone = document.getElementById("team-drop");
    zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true}));
    zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
    return document.querySelector("[data-testid=team-upload]").files.length;
}"""


def test_an_invite_link_from_making_to_used_up(embedded, browser, page, screenshot, tmp_path):
    sign_in(page, embedded.url)
    page.click("text=Upload")
    photo_b64 = base64.b64encode((PHOTOS / "biden2.jpg").read_bytes()).decode()
    assert page.evaluate(DROP_FILES, ["dropped.jpg", photo_b64]) == 1
    assert page.inner_text("#team-chosen") == "dropped.jpg"
    page.click("text=Invite links")
    page.fill("input[name=email_domain]", "acme.test")
    page.fill("input[name=max_uses]", "1")
    page.click("text=Make a link")
    link = page.input_value("[data-testid=invite-url]")
    screenshot(page, "team-invite-1-links")

    employee = browser.new_context(viewport={"width": 420, "height": 900}).new_page()
    employee.set_default_timeout(TIMEOUT_MS)
    employee.goto(link)
    photo = tmp_path / "me.jpg"
    photo.write_bytes((PHOTOS / "obama2.jpg").read_bytes())
    employee.fill("input[name=name]", "Jane Doe")
    employee.fill("input[name=email]", "jane@gmail.com")
    employee.fill("input[name=title]", "Designer")
    employee.set_input_files("input[name=photo]", str(photo))
    employee.click("text=Send my photo")
    assert "Use your address at acme.test" in employee.inner_text("main")
    screenshot(employee, "team-invite-2-wrong-domain")
    employee.fill("input[name=email]", "jane@acme.test")
    employee.set_input_files("input[name=photo]", str(photo))
    employee.click("text=Send my photo")
    employee.wait_for_selector("[data-testid=join-done]")
    screenshot(employee, "team-invite-3-thanks")
    employee.goto(link)
    assert employee.get_attribute("[data-testid=join-closed]", "data-reason") == "used_up"
    screenshot(employee, "team-invite-4-used-up")

    page.click("text=Review")
    page.wait_for_selector("[data-testid=review-item][data-name='Jane Doe'][data-state=done]")
    assert "via invite" in page.inner_text("[data-testid=review-item]")
    page.click("text=Admins")
    page.fill("input[name=email]", "second.hr@acme.test")
    page.click("[data-testid=add-admin]")
    assert page.input_value("[data-testid=welcome-link]").startswith(
        embedded.url + "/team/welcome/"
    )
    screenshot(page, "team-invite-5-admins")


def test_without_a_websocket_htmx_polls_the_progress(embedded, page, screenshot, tmp_path):
    page.add_init_script("window.WebSocket = function () { return {close() {}}; };")
    sign_in(page, embedded.url)
    page.click("text=Upload")
    photo = tmp_path / "jane.jpg"
    photo.write_bytes((PHOTOS / "obama2.jpg").read_bytes())
    page.set_input_files("[data-testid=team-upload]", str(photo))
    page.click("[data-testid=upload-submit]")
    page.wait_for_selector("[data-testid=batch-progress][data-percent='100']")
    assert page.evaluate("window.teamFrames.length") == 0  # no socket: the panel was polled
    assert "1 ready" in page.inner_text(".batch-card")
    screenshot(page, "team-polling-done")
