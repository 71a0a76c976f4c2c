"""The signup page and /me/avatar/ through Django's test client: the identity
preview is the account's avatar byte for byte, photo previews run on the real
queue and worker (uncharged, owned by their session), regenerate reuses the
cached photo, confirm keeps only the pick, bad input is refused cleanly."""

import io
import os
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from accounts.models import CreditEntry
from generation.jobs.worker import run_available_jobs
from generation.models import AvatarOffer, Job, ProfileAvatar
from generation.web.photo_jobs import OWNER_KEY
from tests.service_helpers import PHOTOS

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
PASSWORD = "a-long-pass-phrase-42"


@pytest.fixture(autouse=True)
def picker_settings(settings, identity_defaults):
    """Jobs are run by the test (run_available_jobs: the real worker code)."""
    settings.EMBEDDED_WORKER = False
    settings.PREVIEWS_PER_SESSION_HOUR = 20
    settings.PREVIEWS_PER_IP_HOUR = 20


def photo(name: str = "obama2.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (PHOTOS / name).read_bytes(), content_type="image/jpeg")


def upload(client: Client, name: str = "obama2.jpg"):
    return client.post("/preview/photo/", {"photo": photo(name)}, HTTP_ACCEPT="application/json")


def started(client: Client) -> Job:
    client.get("/signup/")
    response = upload(client)
    assert response.status_code == 201, response.content
    return Job.objects.get(pk=response.json()["job"])


def run_jobs() -> None:
    run_available_jobs("test-worker")


def stored_names() -> set[str]:
    root = default_storage.location
    return {
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _, names in os.walk(root)
        for name in names
    }


def signup(client: Client, username: str = "zed", **fields):
    data = {
        "username": username,
        "email": f"{username}@example.com",
        "password": PASSWORD,
        "avatar_choice": "identity",
        "action": "create",
        **fields,
    }
    return client.post("/signup/", data)


def test_identity_preview_is_the_accounts_avatar_byte_for_byte(client):
    page = client.get("/signup/")
    assert page.status_code == 200
    html = page.content.decode()
    for testid in ("identity-preview", "identity-regenerate", "photo-input", "confirm"):
        assert f'data-testid="{testid}"' in html
    assert 'accept="image/*"' in html and 'capture="user"' in html
    svg = client.get("/preview/identity.svg", {"username": "zed", "style": "bauhaus"})
    png = client.get("/preview/identity.png", {"username": "zed", "style": "bauhaus"})
    assert svg["Content-Type"] == "image/svg+xml" and png["Content-Type"] == "image/png"
    typed_less = client.get("/preview/identity.svg", {"username": "ze", "style": "bauhaus"})
    assert typed_less.content != svg.content  # it changes as the person types

    response = signup(client, identity_style="bauhaus")
    assert response.status_code == 302 and response["Location"] == "/me/avatar/"
    avatar = User.objects.get(username="zed").identity_avatar
    assert avatar.style_version.style.slug == "bauhaus"
    with default_storage.open(avatar.svg_file.name, "rb") as handle:
        assert handle.read() == svg.content
    with default_storage.open(avatar.png_file.name, "rb") as handle:
        assert handle.read() == png.content


def test_the_default_style_preview_matches_too(client):
    svg = client.get("/preview/identity.svg", {"username": "Quinn"})
    signup(client, "Quinn")
    avatar = User.objects.get(username="Quinn").identity_avatar
    with default_storage.open(avatar.svg_file.name, "rb") as handle:
        assert handle.read() == svg.content


def test_signup_form_errors_store_nothing(client):
    User.objects.create_user("taken", "t@example.com", PASSWORD)
    response = signup(client, "taken")
    assert "That username is taken" in response.content.decode()
    response = signup(client, "newbie", password="123")
    assert response.status_code == 200 and "error" in response.content.decode()
    response = signup(client, "bad name!")
    assert response.status_code == 200
    response = signup(client, "ghost", avatar_choice="ai")
    assert "Add a photo first" in response.content.decode()
    assert not User.objects.filter(username__in=["newbie", "bad name!", "ghost"]).exists()


def test_photo_preview_runs_uncharged_on_the_queue_and_regenerates_without_upload(client):
    job = started(client)
    assert job.account is None and job.params["live_stages"] is True
    assert job.params["preview_owner"] == client.session[OWNER_KEY]
    assert job.params["style"] == "corporate_headshot" and job.cached_input.name
    panel = client.get(f"/preview/jobs/{job.pk}/").content.decode()
    assert 'data-testid="progress"' in panel and 'hx-trigger="every 1s' in panel
    assert 'data-testid="ai-regenerate"' not in panel  # no other looks before a result

    run_jobs()
    job.refresh_from_db()
    assert job.state == "done" and job.charged is False
    assert not CreditEntry.objects.exists()
    panel = client.get(f"/preview/jobs/{job.pk}/").content.decode()
    for testid in ("ai-preview", "view-toggle", "ai-regenerate"):
        assert f'data-testid="{testid}"' in panel
    assert "likeness" in panel and "hx-trigger" not in panel
    ai = client.get(f"/preview/jobs/{job.pk}/ai.png")
    assert Image.open(io.BytesIO(ai.content)).size == (512, 512)  # the kept size
    original = client.get(f"/preview/jobs/{job.pk}/original")
    assert original.content == (PHOTOS / "obama2.jpg").read_bytes()
    assert original["Content-Type"] == "image/jpeg"

    as_shown = {"style": "corporate_headshot", "background": "studio"}  # the selects untouched
    unchanged = client.post(f"/preview/jobs/{job.pk}/regenerate", as_shown)
    params = Job.objects.get(pk=unchanged.json()["job"]).params
    assert (params["style"], params["background"]) != ("corporate_headshot", "studio")
    again = client.post(
        f"/preview/jobs/{job.pk}/regenerate", {"style": "anime", "background": "neon"}
    )
    assert again.status_code == 201, again.content
    second = Job.objects.get(pk=again.json()["job"])
    assert second.params["style"] == "anime" and second.params["source_job"] == str(job.pk)
    assert second.cached_input.name == job.cached_input.name  # the same upload, not a copy
    assert AvatarOffer.objects.get(job=job).outcome == "regenerated"
    # the same look again: the next one in the cycle (a variation)
    third = client.post(
        f"/preview/jobs/{second.pk}/regenerate", {"style": "anime", "background": "neon"}
    )
    params = Job.objects.get(pk=third.json()["job"]).params
    assert (params["style"], params["background"]) != ("anime", "neon")
    run_jobs()
    assert not CreditEntry.objects.exists()


def test_confirm_ai_keeps_only_the_pick_and_shows_it_in_the_header(client):
    job = started(client)
    run_jobs()
    response = signup(client, "ada", avatar_choice="ai", job=str(job.pk))
    assert response.status_code == 302
    user = User.objects.get(username="ada")
    picked = ProfileAvatar.objects.get(user=user)
    assert picked.kind == "ai" and picked.style == "corporate_headshot"
    assert AvatarOffer.objects.get(job=job).outcome == "accepted"
    names = stored_names()
    assert not any(name.startswith(("inputs/", "avatars/")) for name in names), names
    assert Image.open(default_storage.open(picked.image.name)).size == (512, 512)

    page = client.get("/me/avatar/").content.decode()
    header = re.search(r'<img [^>]*data-testid="header-avatar"[^>]*>', page).group(0)
    assert f"/avatars/{picked.public_id}/32.png" in header
    assert 'srcset="/avatars/' in header and 'width="32"' in header and "alt=" in header
    image = client.get(f"/avatars/{picked.public_id}/32.png")
    assert Image.open(io.BytesIO(image.content)).size == (32, 32)
    assert 'data-testid="header-avatar"' in client.get("/").content.decode()


def test_confirm_photo_stores_the_original_squared(client):
    job = started(client)
    run_jobs()
    signup(client, "bo", avatar_choice="photo", job=str(job.pk))
    picked = ProfileAvatar.objects.get(user__username="bo")
    assert picked.kind == "photo"
    assert AvatarOffer.objects.get(job=job).outcome == "declined"
    assert AvatarOffer.objects.get(job=job).kept == "original"
    assert Image.open(default_storage.open(picked.image.name)).size == (512, 512)


def test_keeping_the_identity_avatar_declines_the_offer(client):
    job = started(client)
    run_jobs()
    signup(client, "cy", avatar_choice="identity", job=str(job.pk))
    assert not ProfileAvatar.objects.filter(user__username="cy").exists()
    offer = AvatarOffer.objects.get(job=job)
    assert (offer.outcome, offer.kept) == ("declined", "identity")
    assert not Job.objects.get(pk=job.pk).cached_input  # the unpicked upload is gone


def test_me_avatar_changes_later_and_logout_ends_the_previews(client):
    user = User.objects.create_user("dee", "d@example.com", PASSWORD)
    first_style = user.identity_avatar.style_version.style.slug
    client.force_login(user)
    page = client.get("/me/avatar/")
    assert page.status_code == 200 and 'data-testid="confirm"' in page.content.decode()
    own = client.get("/preview/identity.svg")
    with default_storage.open(user.identity_avatar.svg_file.name, "rb") as handle:
        assert handle.read() == own.content  # signed in: their own seed and style

    response = client.post(
        "/me/avatar/", {"avatar_choice": "identity", "identity_style": "pixel", "action": "save"}
    )
    assert response.status_code == 302
    user.identity_avatar.refresh_from_db()
    assert user.identity_avatar.style_version.style.slug == "pixel" != first_style

    job = Job.objects.get(pk=upload(client).json()["job"])
    assert default_storage.exists(job.cached_input.name)
    client.post("/logout/")
    assert not default_storage.exists(job.cached_input.name)
    assert Job.objects.get(pk=job.pk).cached_input.name == ""


def test_anonymous_me_avatar_asks_to_sign_in(client):
    response = client.get("/me/avatar/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"not an image at all", 400, "not_an_image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, 400, "not_an_image"),
        (None, 413, "file_too_large"),
    ],
)
def test_bad_uploads_are_refused_with_nothing_stored(client, settings, content, status, code):
    settings.PREVIEW_MAX_UPLOAD_BYTES = 100_000
    client.get("/signup/")
    data = content if content is not None else (PHOTOS / "obama2.jpg").read_bytes()
    response = client.post(
        "/preview/photo/",
        {"photo": SimpleUploadedFile("x.jpg", data)},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["message"]
    assert not Job.objects.exists() and not stored_names()


def test_no_photo_and_tiny_photo_are_refused(client):
    client.get("/signup/")
    assert client.post("/preview/photo/", {}).json()["code"] == "no_photo"
    tiny = io.BytesIO()
    Image.new("RGB", (50, 50), "red").save(tiny, "PNG")
    response = client.post(
        "/preview/photo/", {"photo": SimpleUploadedFile("t.png", tiny.getvalue())}
    )
    assert response.json()["code"] == "image_too_small"
    assert not Job.objects.exists()


def test_a_photo_without_a_face_fails_in_plain_words(client):
    client.get("/signup/")
    job = Job.objects.get(pk=upload(client, "coffee.png").json()["job"])
    run_jobs()
    panel = client.get(f"/preview/jobs/{job.pk}/").content.decode()
    assert "We could not find a face in this photo" in panel
    assert not CreditEntry.objects.exists()


def test_another_sessions_job_is_not_found(client):
    job = started(client)
    stranger = Client()
    stranger.get("/signup/")
    for url in (f"/preview/jobs/{job.pk}/", f"/preview/jobs/{job.pk}/original"):
        assert stranger.get(url).status_code == 404
    assert stranger.post(f"/preview/jobs/{job.pk}/regenerate").status_code == 404
    assert stranger.get("/preview/jobs/not-a-uuid/").status_code == 404
    response = signup(stranger, "eve", avatar_choice="photo", job=str(job.pk))
    assert "not one of yours" in response.content.decode()
    assert not User.objects.filter(username="eve").exists()
    assert Job.objects.count() == 1


def test_rate_limits_per_session_and_per_ip(client, settings):
    settings.PREVIEWS_PER_SESSION_HOUR = 2
    client.get("/signup/")
    assert upload(client).status_code == 201
    assert upload(client).status_code == 201
    refused = upload(client)
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert "try again in about" in refused.json()["message"]
    assert Job.objects.count() == 2

    settings.PREVIEWS_PER_SESSION_HOUR = 100
    settings.PREVIEWS_PER_IP_HOUR = 3  # this IP has made 3 (one refused, still counted)
    other = Client()
    other.get("/signup/")
    assert upload(other).status_code == 429
    assert Job.objects.count() == 2


def test_without_javascript_every_button_posts_the_form(client):
    client.get("/signup/")
    page = client.post("/signup/", {"username": "nojs", "action": "next_style"})
    html = page.content.decode()
    assert 'value="nojs"' in html
    first = client.session["identity_style"]
    client.post("/signup/", {"username": "nojs", "action": "next_style"})
    assert client.session["identity_style"] != first

    page = client.post("/signup/", {"username": "nojs", "action": "upload", "photo": photo()})
    html = page.content.decode()
    assert 'data-testid="progress"' in html and 'http-equiv="refresh"' in html
    run_jobs()
    html = client.get("/signup/").content.decode()
    assert 'data-testid="ai-preview"' in html
    assert re.search(r'value="ai" id="choice-ai"[^>]*checked', html)
    job = Job.objects.get()
    page = client.post(
        "/signup/", {"action": "regenerate", "job": str(job.pk), "style": "editorial"}
    )
    assert Job.objects.count() == 2
    run_jobs()
    response = signup(client, "nojs", avatar_choice="ai", job=client.session["preview_job"])
    assert response.status_code == 302
    assert ProfileAvatar.objects.get(user__username="nojs").style == "editorial"


def test_refusals_on_the_form_post_show_a_message(client, settings):
    settings.PREVIEWS_PER_SESSION_HOUR = 0
    client.get("/signup/")
    page = client.post("/signup/", {"action": "upload", "photo": photo()}, follow=True)
    assert "a lot of previews" in page.content.decode()
    settings.PREVIEWS_PER_SESSION_HOUR = 5
    page = client.post("/signup/", {"action": "upload", "photo": SimpleUploadedFile("a.jpg", b"x")})
    assert "not a photo we can read" in page.content.decode()
    assert not Job.objects.exists()


def test_the_admin_lists_picked_avatars(client):
    job = started(client)
    run_jobs()
    signup(client, "fay", avatar_choice="ai", job=str(job.pk))
    User.objects.create_superuser("root", "root@example.com", PASSWORD)
    client.force_login(User.objects.get(username="root"))
    page = client.get("/admin/generation/profileavatar/")
    picked = ProfileAvatar.objects.get(user__username="fay")
    assert (
        page.status_code == 200 and f"/avatars/{picked.public_id}/96.png" in page.content.decode()
    )


def test_the_admin_sets_the_style_a_preview_starts_in(client):
    User.objects.create_superuser("root", "root@example.com", PASSWORD)
    admin = Client()
    admin.force_login(User.objects.get(username="root"))
    response = admin.post(
        "/admin/generation/signupsettings/add/", {"portrait_style": "anime", "platform": "discord"}
    )
    assert response.status_code == 302
    assert admin.get("/admin/generation/signupsettings/add/").status_code == 403  # one row
    job = started(client)
    assert (job.params["style"], job.params["platform"]) == ("anime", "discord")
    again = client.post(f"/preview/jobs/{job.pk}/regenerate", {"style": "editorial"})
    assert Job.objects.get(pk=again.json()["job"]).params["platform"] == "discord"


def test_me_avatar_can_pick_the_original_photo(client):
    user = User.objects.create_user("gus", "g@example.com", PASSWORD)
    client.force_login(user)
    client.get("/me/avatar/")
    job = Job.objects.get(pk=upload(client).json()["job"])
    run_jobs()
    response = client.post(
        "/me/avatar/", {"avatar_choice": "photo", "job": str(job.pk), "action": "save"}
    )
    assert response.status_code == 302
    assert ProfileAvatar.objects.get(user=user).kind == "photo"
    page = client.get("/me/avatar/").content.decode()
    assert "Your avatar is updated." in page and "Original photo" in page
    response = client.post("/me/avatar/", {"action": "save"})  # nothing picked: nothing changes
    assert "Pick one of the avatars first." in response.content.decode()
    assert ProfileAvatar.objects.get(user=user).kind == "photo"


def test_a_full_queue_asks_to_try_again_shortly(client, settings):
    settings.MAX_QUEUE_DEPTH = 1
    started(client)
    busy = upload(client)
    assert busy.status_code == 429 and busy.json()["code"] == "busy"
    assert "try again in a moment" in busy.json()["message"]
    assert Job.objects.count() == 1
