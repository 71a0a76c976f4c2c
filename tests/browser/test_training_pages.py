"""/models/ in headless Chromium against a real ASGI server (Daphne, in a
process of its own with its embedded workers), so progress arrives over the
WebSocket; and once with the socket refused, over htmx polling."""

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.test import Client
from PIL import Image

from generation.models import Job, SubjectModel
from tests.service_helpers import shared_database_url
from tests.test_custom_models_api import PERSON, variants

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TIMEOUT_MS = 90_000


@pytest.fixture
def server(settings):
    """Daphne serving the project (its embedded workers inside) in a process
    of its own, on the test database and media folder, on a socket bound to a
    free port here and handed over. A fresh process: a forked one would
    inherit this one's face-detection state, which does not survive a fork."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(64)
    port = listening.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": shared_database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "AVATAR_EMBEDDED_WORKER": "true",
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "daphne", "--fd", str(listening.fileno()),
               "avatarsite.asgi:application"]  # fmt: skip
    process = subprocess.Popen(command, env=env, pass_fds=[listening.fileno()])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/v1/openapi.json", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(20)
        listening.close()


@pytest.fixture
def signed_in(page, server, django_user_model):
    """A person signed in (their session cookie handed to the browser)."""
    user = django_user_model.objects.create_user("ada", "ada@example.com", "pw-ada-12345678")
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": server}])
    return user


def photo_files(tmp_path: Path, photos: list[bytes]) -> list[str]:
    paths = []
    for number, photo in enumerate(photos, 1):
        path = tmp_path / f"me-{number}.jpg"
        path.write_bytes(photo)
        paths.append(str(path))
    return paths


def train(page, server: str, tmp_path: Path, photos: list[bytes]) -> None:
    page.goto(server + "/models/")
    page.get_by_test_id("type-man").check()
    page.get_by_test_id("photos-input").set_input_files(photo_files(tmp_path, photos))
    page.get_by_test_id("train").click()


def test_train_watch_live_prompt_and_download(page, server, signed_in, tmp_path, screenshot):
    page.goto(server + "/models/")
    assert page.get_by_role("link", name="My models").is_visible()
    screenshot(page, "training-01-empty")

    train(page, server, tmp_path, variants(PERSON, 6))
    page.wait_for_url("**/models/*/")
    page.wait_for_function(
        "window.trainingFrames.some(f => f.state === 'running' && f.progress > 0.2)",
        timeout=TIMEOUT_MS,
    )
    screenshot(page, "training-02-progress")  # live: the bar, percent, time left and stage
    page.locator('[data-testid=model-status][data-status="DONE"]').wait_for(timeout=TIMEOUT_MS)
    frames = page.evaluate("window.trainingFrames")
    progress = [f for f in frames if f["type"] == "job" and f["state"] == "running"]
    assert progress and any(f["progress"] > 0.1 for f in progress), frames  # live, per stage
    assert any(f.get("ended") for f in frames)
    model = SubjectModel.objects.get(user=signed_in)
    assert model.account is None and model.job.photo is None and not model.job.charged

    page.get_by_test_id("prompt").fill("editorial portrait, city lights at night, riding a dragon")
    page.get_by_test_id("count").select_option("2")
    page.get_by_test_id("draw").click()
    done = page.locator('[data-testid=inference-result][data-status="DONE"]')
    done.wait_for(timeout=TIMEOUT_MS)
    images = done.get_by_test_id("result-image")
    assert images.count() == 2
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=result-image]')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    assert "Deleted" in done.get_by_test_id("result-expiry").inner_text()
    assert "dragon" in done.get_by_test_id("ignored-terms").inner_text()
    screenshot(page, "training-03-results")

    with page.expect_download() as waiting:
        done.get_by_test_id("result-download").first.click()
    download = waiting.value
    assert download.suggested_filename.endswith(".png")
    assert Image.open(io.BytesIO(Path(download.path()).read_bytes())).format == "PNG"


def test_a_set_that_cannot_train_says_why(page, server, signed_in, tmp_path, screenshot):
    train(page, server, tmp_path, variants(PERSON, 3))
    error = page.get_by_test_id("training-error")
    assert "Choose 5 to 30 photos" in error.inner_text()
    assert not SubjectModel.objects.exists() and not Job.objects.exists()

    photos = variants(PERSON, 5)
    photos[2] = b"this is not a photo"
    train(page, server, tmp_path, photos)
    assert "Photo 3" in page.get_by_test_id("training-problems").inner_text()
    screenshot(page, "training-04-invalid")

    train(page, server, tmp_path, variants(PERSON, 4) + variants(("biden.jpg",), 1))
    page.locator('[data-testid=model-status][data-status="IMAGE_NOT_VALID"]').wait_for(
        timeout=TIMEOUT_MS
    )
    assert "Photo 5" in page.get_by_test_id("model-problems").inner_text()
    screenshot(page, "training-05-not-valid")


def test_progress_without_a_websocket_arrives_by_polling(page, server, signed_in, tmp_path):
    page.route_web_socket("**/ws/**", lambda socket: socket.close())
    train(page, server, tmp_path, variants(PERSON, 5))
    page.locator('[data-testid=model-status][data-status="DONE"]').wait_for(timeout=TIMEOUT_MS)
    assert page.evaluate("window.trainingFrames.length") == 0  # no frame came by socket


def test_another_persons_model_is_not_found(page, server, signed_in, django_user_model):
    other = django_user_model.objects.create_user("bob", "bob@example.com", "pw-bob-12345678")
    model = SubjectModel.objects.create(user=other, subject_type="dog", engine="cpu")
    response = page.goto(f"{server}/models/{model.pk}/")
    assert response.status == 404
