"""Identity avatars stored in a real S3-compatible server (moto's, over HTTP on loopback)."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from storages.backends.s3 import S3Storage

from generation import avatars
from tests.s3 import URL_EXPIRE, http_get, s3_server, s3_storage  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[1]


def new_user(username: str, **extra):
    return User.objects.create_user(username=username, password="pw-123456789", **extra)


def test_default_storage_is_s3_on_the_test_bucket(s3_storage):  # noqa: F811
    assert isinstance(default_storage._wrapped, S3Storage)
    assert default_storage.bucket_name == s3_storage.name
    assert default_storage.endpoint_url == s3_storage.endpoint_url.rstrip("/")
    assert s3_storage.endpoint_url.startswith("http://127.0.0.1:")
    assert s3_storage.object_keys() == []


def test_signup_stores_svg_and_png_as_objects(s3_storage, identity_defaults):  # noqa: F811
    avatar = new_user("alice", first_name="Alice").identity_avatar
    prefix = f"identity/{avatar.public_id}/"
    assert s3_storage.object_keys() == [f"{prefix}256.png", f"{prefix}256.svg"]
    assert avatar.svg_file.name == f"{prefix}256.svg"
    assert avatar.png_file.name == f"{prefix}256.png"
    svg = s3_storage.read(avatar.svg_file.name)
    assert svg.startswith(b"<svg") and svg.rstrip().endswith(b"</svg>")
    assert svg == avatars.render_avatar(avatars.pinned_request(avatar, "svg", 256))
    assert s3_storage.read(avatar.png_file.name).startswith(PNG_MAGIC)


def test_user_avatar_svg_is_served_from_the_bucket(client, s3_storage, identity_defaults):  # noqa: F811
    avatar = new_user("bob").identity_avatar
    url = f"/v1/users/{avatar.public_id}/avatar.svg"
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response.content == s3_storage.read(avatar.svg_file.name)

    # Replace the object behind the service's back: what is served is what S3 holds.
    s3_storage.client.put_object(
        Bucket=s3_storage.name, Key=avatar.svg_file.name, Body=b"<svg>from s3</svg>"
    )
    assert client.get(url).content == b"<svg>from s3</svg>"


def test_a_new_size_is_drawn_once_then_stored(
    client,
    s3_storage,  # noqa: F811
    identity_defaults,
    monkeypatch,
):
    avatar = new_user("carol").identity_avatar
    key = f"identity/{avatar.public_id}/64.png"
    assert key not in s3_storage.object_keys()
    first = client.get(f"/v1/users/{avatar.public_id}/avatar.png?size=64")
    assert first.status_code == 200 and first.content.startswith(PNG_MAGIC)
    assert key in s3_storage.object_keys()
    assert s3_storage.read(key) == first.content

    def must_not_render(*args, **kwargs):
        raise AssertionError("a stored size was drawn again")

    monkeypatch.setattr(avatars, "render_avatar", must_not_render)
    again = client.get(f"/v1/users/{avatar.public_id}/avatar.png?size=64")
    assert again.status_code == 200 and again.content == first.content
    assert s3_storage.object_keys(f"identity/{avatar.public_id}/").count(key) == 1


def test_deleting_a_user_deletes_every_object_under_its_prefix(
    client,
    s3_storage,  # noqa: F811
    identity_defaults,
):
    user = new_user("dave")
    keep = new_user("erin").identity_avatar
    avatar = user.identity_avatar
    for query in ("avatar.png?size=32", "avatar.webp?size=48", "avatar.svg?size=128"):
        assert client.get(f"/v1/users/{avatar.public_id}/{query}").status_code == 200
    prefix = f"identity/{avatar.public_id}/"
    assert len(s3_storage.object_keys(prefix)) == 5
    kept = s3_storage.object_keys(f"identity/{keep.public_id}/")

    user.delete()

    assert s3_storage.object_keys(prefix) == []
    assert (
        s3_storage.object_keys(f"identity/{keep.public_id}/")
        == kept
        == sorted([keep.png_file.name, keep.svg_file.name])
    )


def test_signed_url_fetches_the_object_and_a_tampered_one_is_refused(
    s3_storage,  # noqa: F811
    identity_defaults,
):
    avatar = new_user("frank").identity_avatar
    name = avatar.svg_file.name
    url = default_storage.url(name)

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}" == s3_storage.endpoint_url
    assert parts.path == f"/{s3_storage.name}/{name}"
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == [str(URL_EXPIRE)] == ["300"]
    assert len(query["X-Amz-Signature"][0]) == 64

    status, body = http_get(url)
    assert status == 200
    assert body == s3_storage.read(name)

    signature = query["X-Amz-Signature"][0]
    forged = "0" if signature[-1] != "0" else "1"
    tampered = url.replace(
        f"X-Amz-Signature={signature}", f"X-Amz-Signature={signature[:-1]}{forged}"
    )
    assert tampered != url
    status, body = http_get(tampered)
    assert status == 403 and b"SignatureDoesNotMatch" in body

    # The same signature does not open another object, nor a longer-lived URL.
    other = url.replace(f"/{name}?", f"/{avatar.png_file.name}?")
    assert http_get(other)[0] == 403
    longer = url.replace(f"X-Amz-Expires={URL_EXPIRE}", "X-Amz-Expires=3600")
    assert http_get(longer)[0] == 403


def test_production_settings_sign_urls_that_s3_accepts(s3_storage, tmp_path):  # noqa: F811
    """avatarsite/settings.py itself, configured from the environment, against the server."""
    key = "identity/settings-probe/256.svg"
    s3_storage.client.put_object(Bucket=s3_storage.name, Key=key, Body=b"<svg>probe</svg>")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="avatarsite.settings",
        AVATAR_VAR_DIR=str(tmp_path),
        AWS_STORAGE_BUCKET_NAME=s3_storage.name,
        AWS_S3_ENDPOINT_URL=s3_storage.endpoint_url,
        AWS_S3_REGION_NAME=s3_storage.server.region,
        AWS_ACCESS_KEY_ID=s3_storage.server.access_key,
        AWS_SECRET_ACCESS_KEY=s3_storage.server.secret_key,
        AWS_QUERYSTRING_EXPIRE=str(URL_EXPIRE),
        AWS_CONFIG_FILE=str(tmp_path / "absent"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "absent"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    script = (
        "import django; django.setup()\n"
        "from django.core.files.storage import default_storage\n"
        f"print(default_storage.url({key!r}))\n"
    )
    url = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    ).stdout.strip()
    assert url.startswith(f"{s3_storage.endpoint_url}/{s3_storage.name}/{key}?"), url
    assert http_get(url) == (200, b"<svg>probe</svg>")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["300"] and "X-Amz-Signature" in query
