"""Signup wiring, role/team palettes, versioning after a rebrand, storage."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage

from generation.models import IdentityAvatar, Palette, PaletteMapping, Style

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def new_user(username: str, **extra) -> "User":
    return User.objects.create_user(username=username, password="pw-123456789", **extra)


def test_signup_creates_a_stored_pinned_avatar(identity_defaults):
    user = new_user("alice", first_name="Alice", last_name="Liddell")
    avatar = user.identity_avatar
    assert avatar.style_version == Style.objects.get(slug="people").current_version
    assert avatar.palette_version == Palette.objects.get(slug="green").current_version
    assert avatar.initials_source == "Alice Liddell"
    assert default_storage.exists(avatar.svg_file.name)
    assert default_storage.exists(avatar.png_file.name)


@pytest.mark.parametrize("role,palette", [("admin", "blue"), ("user", "green"), ("guest", "grey")])
def test_role_palettes(identity_defaults, role, palette):
    user = new_user(f"someone-{role}", role=role)
    assert user.identity_avatar.palette_version.palette.slug == palette


def test_team_rule_wins_over_role_and_can_pick_a_style(identity_defaults):
    PaletteMapping.objects.create(
        kind="team",
        value="design",
        palette=Palette.objects.get(slug="vivid"),
        style=Style.objects.get(slug="bots"),
    )
    user = new_user("dana", role="admin", team="design")
    assert user.identity_avatar.palette_version.palette.slug == "vivid"
    assert user.identity_avatar.style_version.style.slug == "bots"


def test_served_from_storage_without_re_rendering(client, identity_defaults):
    avatar = new_user("erin").identity_avatar
    url = f"/v1/users/{avatar.public_id}/avatar.svg"
    assert client.get(url).content == default_storage.open(avatar.svg_file.name).read()
    with default_storage.open(avatar.svg_file.name, "wb") as handle:
        handle.write(b"<svg>stored copy</svg>")
    assert client.get(url).content == b"<svg>stored copy</svg>"


def test_new_sizes_are_drawn_once_then_stored(client, identity_defaults):
    avatar = new_user("frank").identity_avatar
    response = client.get(f"/v1/users/{avatar.public_id}/avatar.webp?size=64")
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    assert default_storage.exists(f"identity/{avatar.public_id}/64.webp")
    etag = response["ETag"]
    cached = client.get(
        f"/v1/users/{avatar.public_id}/avatar.webp?size=64", HTTP_IF_NONE_MATCH=etag
    )
    assert cached.status_code == 304


@pytest.mark.parametrize(
    "url,status,code",
    [
        ("/v1/users/doesnotexist/avatar.svg", 404, "unknown_avatar"),
        ("/v1/users/x/photo.svg", 404, "not_found"),
        ("/v1/users/x/avatar.bmp", 400, "invalid_format"),
        ("/v1/users/x/avatar.png?size=2048", 400, "invalid_size"),
    ],
)
def test_user_avatar_errors(client, identity_defaults, url, status, code):
    response = client.get(url)
    assert response.status_code == status and response.json()["code"] == code


def test_rebrand_keeps_existing_users_and_changes_new_ones(client, admin_client, identity_defaults):
    """An admin edits the style and the palette: old users keep their look."""
    before = new_user("grace", role="user").identity_avatar
    old_bytes = client.get(f"/v1/users/{before.public_id}/avatar.png?size=128").content

    style = Style.objects.get(slug="people")
    definition = style.current_version.definition
    definition["colors"][0]["tone"] = "dark"
    response = admin_client.post(
        f"/admin/generation/style/{style.pk}/change/",
        {
            "slug": style.slug, "name": style.name, "category": style.category,
            "is_active": "on", "definition": __import__("json").dumps(definition),
            "versions-TOTAL_FORMS": "1", "versions-INITIAL_FORMS": "1",
            "versions-MIN_NUM_FORMS": "0", "versions-MAX_NUM_FORMS": "1000",
            "versions-0-id": str(style.current_version.pk), "versions-0-style": str(style.pk),
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content[:2000]
    style.refresh_from_db()
    assert style.current_version.number == 2
    green = Palette.objects.get(slug="green")
    green.publish({"kind": "brand", "colors": ["#0b6e4f", "#08a045", "#6bbf59"]})

    before.refresh_from_db()
    assert before.style_version.number == 1 and before.palette_version.number == 1
    assert client.get(f"/v1/users/{before.public_id}/avatar.png?size=128").content == old_bytes
    IdentityAvatar.objects.filter(pk=before.pk).update()  # nothing re-pins
    after = new_user("heidi", role="user").identity_avatar
    assert after.style_version.number == 2 and after.palette_version.number == 2
    v1 = client.get("/v1/avatars/people/heidi.svg?version=1").content
    v2 = client.get("/v1/avatars/people/heidi.svg?version=2").content
    assert v1 != v2
    assert client.get("/v1/avatars/people/heidi.svg").content == v2


def test_versions_are_immutable(identity_defaults):
    from django.core.exceptions import ValidationError

    version = Style.objects.get(slug="rings").current_version
    version.definition = {"changed": True}
    with pytest.raises(ValidationError):
        version.save()
    with pytest.raises(ValidationError):
        version.delete()


def test_publishing_an_unchanged_definition_adds_no_version(identity_defaults):
    style = Style.objects.get(slug="rings")
    assert style.publish(style.current_version.definition).number == 1


def test_deleting_a_user_deletes_their_avatar_files(client, identity_defaults):
    user = new_user("ivan")
    avatar = user.identity_avatar
    client.get(f"/v1/users/{avatar.public_id}/avatar.png?size=32")
    user.delete()
    assert not IdentityAvatar.objects.filter(pk=avatar.pk).exists()
    assert not default_storage.exists(avatar.svg_file.name)
    assert not default_storage.exists(f"identity/{avatar.public_id}/32.png")


def test_signup_without_styles_installed_still_creates_the_user(db):
    user = new_user("judy")
    assert User.objects.filter(pk=user.pk).exists()
    assert not IdentityAvatar.objects.filter(user=user).exists()
