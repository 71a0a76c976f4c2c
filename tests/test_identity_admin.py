"""The admin: style preview grid, version history, palettes with swatches, mapping."""

import json

import pytest
from django.contrib.auth import get_user_model

from generation.models import Palette, PaletteVersion, Style

pytestmark = pytest.mark.django_db


def test_style_change_page_shows_a_12_seed_preview_and_versions(admin_client, identity_defaults):
    style = Style.objects.get(slug="people")
    page = admin_client.get(f"/admin/generation/style/{style.pk}/change/").content.decode()
    preview = page.split("field-preview")[1].split("</fieldset>")[0]
    assert preview.count("data:image/svg+xml;base64,") == 12
    assert "digest" in page and "&quot;layers&quot;" in page


def test_style_list_and_palette_pages(admin_client, identity_defaults):
    assert admin_client.get("/admin/generation/style/").status_code == 200
    palette = Palette.objects.get(slug="blue")
    page = admin_client.get(f"/admin/generation/palette/{palette.pk}/change/").content.decode()
    assert page.count("border-radius:4px;background:#") >= 12
    assert admin_client.get("/admin/generation/palettemapping/").status_code == 200
    assert admin_client.get("/admin/generation/identityavatar/").status_code == 200


def test_invalid_definition_is_a_form_error_and_publishes_nothing(admin_client, identity_defaults):
    style = Style.objects.get(slug="shapes")
    bad = {"colors": [{"slot": "background"}], "layers": [{"variants": [{"svg": "<script/>"}]}]}
    response = admin_client.post(
        f"/admin/generation/style/{style.pk}/change/",
        {
            "slug": style.slug, "name": style.name, "category": style.category,
            "definition": json.dumps(bad),
            "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0",
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert "&lt;script&gt; is not allowed" in response.content.decode()
    style.refresh_from_db()
    assert style.current_version.number == 1


def test_new_palette_from_the_admin(admin_client, identity_defaults):
    response = admin_client.post(
        "/admin/generation/palette/add/",
        {
            "slug": "acme", "name": "Acme brand",
            "definition": json.dumps({"kind": "brand", "colors": ["#ff5500", "#222", "#f4f4f4"]}),
            "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0",
        },
    )  # fmt: skip
    assert response.status_code == 302
    palette = Palette.objects.get(slug="acme")
    assert palette.current_version.definition["colors"] == ["#ff5500", "#222", "#f4f4f4"]


def edit_palette(admin_client, palette: Palette, definition: dict):
    return admin_client.post(
        f"/admin/generation/palette/{palette.pk}/change/",
        {
            "slug": palette.slug, "name": palette.name, "definition": json.dumps(definition),
            "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0",
        },
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_editing_a_palette_publishes_a_version_and_pinned_avatars_keep_theirs(
    admin_client, identity_defaults
):
    palette = Palette.objects.get(slug="blue")
    first = palette.current_version
    admin = get_user_model().objects.create_user("ada", password="pw-ada-123456", role="admin")
    pinned = admin.identity_avatar
    assert pinned.palette_version == first
    url = f"/v1/users/{pinned.public_id}/avatar.svg"
    before = admin_client.get(url).content
    unpinned = admin_client.get("/v1/avatars/shapes/ada.svg?palette=blue").content
    at_v1 = admin_client.get("/v1/avatars/shapes/ada.svg?palette=blue@1").content

    warmer = {**first.definition, "hue_range": [10, 40]}
    assert edit_palette(admin_client, palette, warmer).status_code == 302
    palette.refresh_from_db()
    assert palette.current_version.number == 2
    assert palette.current_version.definition == warmer
    assert PaletteVersion.objects.get(pk=first.pk).definition == first.definition  # kept as is

    pinned.refresh_from_db()
    assert pinned.palette_version == first and admin_client.get(url).content == before
    assert admin_client.get("/v1/avatars/shapes/ada.svg?palette=blue@1").content == at_v1
    assert admin_client.get("/v1/avatars/shapes/ada.svg?palette=blue").content != unpinned

    # Saving it unchanged publishes nothing; a broken definition is a form error.
    assert edit_palette(admin_client, palette, warmer).status_code == 302
    broken = edit_palette(admin_client, palette, {"kind": "brand", "colors": ["not-a-colour"]})
    assert broken.status_code == 200 and b"errorlist" in broken.content
    palette.refresh_from_db()
    assert palette.current_version.number == 2 == palette.versions.count()
