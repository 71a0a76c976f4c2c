"""The admin: style preview grid, version history, palettes with swatches, mapping."""

import json

import pytest

from generation.models import Palette, Style

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
