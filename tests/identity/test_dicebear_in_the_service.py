"""DiceBear's styles inside the service: admin versions and licences, users'
pinned avatars through role/team mappings, and the /v1 avatar route."""

import json

import pytest
from django.contrib.auth import get_user_model

from generation.avatars import palette_spec, stored_avatar
from generation.identity import dicebear
from generation.identity.palettes import draw_palette
from generation.identity.prng import Prng
from generation.models import IdentityAvatar, Palette, PaletteMapping, Style

pytestmark = pytest.mark.django_db(transaction=True)


def _change(admin_client, style: Style, definition) -> object:
    return admin_client.post(
        f"/admin/generation/style/{style.pk}/change/",
        {
            "slug": style.slug, "name": style.name, "category": style.category,
            "is_active": "on", "definition": json.dumps(definition),
            "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0",
        },
    )  # fmt: skip


def test_admin_shows_licence_and_preview_of_a_dicebear_style(admin_client, identity_defaults):
    style = Style.objects.get(slug="dicebear-adventurer")
    page = admin_client.get(f"/admin/generation/style/{style.pk}/change/").content.decode()
    assert "CC BY 4.0" in page and "Lisa Wischofsky" in page
    preview = page.split("field-preview")[1].split("</fieldset>")[0]
    assert preview.count("data:image/svg+xml;base64,") == 12
    listing = admin_client.get("/admin/generation/style/?q=dicebear").content.decode()
    assert "CC0 1.0" in listing and "CC BY 4.0" in listing


def test_editing_a_dicebear_definition_publishes_a_new_version(admin_client, identity_defaults):
    style = Style.objects.get(slug="dicebear-bottts")
    definition = dicebear.shipped_definition("bottts")
    definition["colors"]["base"]["values"] = ["#ff0000"]
    response = _change(admin_client, style, definition)
    assert response.status_code == 302
    style.refresh_from_db()
    assert style.current_version.number == 2
    assert style.version(1).definition == dicebear.shipped_definition("bottts")
    v1 = admin_client.get("/v1/avatars/dicebear-bottts/a.svg?version=1").content
    v2 = admin_client.get("/v1/avatars/dicebear-bottts/a.svg").content
    assert b"#ff0000" in v2.lower() and b"#ff0000" not in v1.lower()


def test_a_broken_dicebear_definition_is_a_form_error(admin_client, identity_defaults):
    style = Style.objects.get(slug="dicebear-bottts")
    broken = dicebear.shipped_definition("bottts")
    broken["canvas"] = {"width": "wide"}
    response = _change(admin_client, style, broken)
    assert response.status_code == 200
    assert "Not a valid DiceBear definition" in response.content.decode()
    style.refresh_from_db()
    assert style.current_version.number == 1


def test_a_team_mapped_to_a_dicebear_style_pins_users_avatars(identity_defaults):
    PaletteMapping.objects.create(
        kind=PaletteMapping.Kind.TEAM,
        value="design",
        palette=Palette.objects.get(slug="blue"),
        style=Style.objects.get(slug="dicebear-shapes"),
    )
    user = get_user_model().objects.create_user(
        "dana", "dana@example.com", "pw-123456789", team="design"
    )
    avatar = IdentityAvatar.objects.get(user=user)  # drawn when the user was created
    assert avatar.style_version.style.slug == "dicebear-shapes"
    svg = stored_avatar(avatar, "svg", 64).decode()
    assert "dana" not in svg  # keyed seed: the id is not in the drawing
    # the team's blue palette draws the background and the shapes
    colours = draw_palette(
        palette_spec(avatar.palette_version), Prng(bytes.fromhex(avatar.seed)).fork("colors")
    )
    drawn = {c for c in colours if c in svg}
    assert len(drawn) >= 2, (colours, svg[:300])
    again = stored_avatar(avatar, "svg", 64).decode()
    assert again == svg


def test_v1_route_draws_dicebear_styles_keyed_and_in_palettes(client, identity_defaults):
    plain = client.get("/v1/avatars/dicebear-shapes/user-42.svg")
    blue = client.get("/v1/avatars/dicebear-shapes/user-42.svg?palette=blue")
    assert plain.status_code == blue.status_code == 200
    assert b"user-42" not in plain.content
    assert plain.content != blue.content
    png = client.get("/v1/avatars/dicebear-shapes/user-42.png?size=512")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_v1_route_takes_core_options_for_own_styles(client, identity_defaults):
    plain = client.get("/v1/avatars/people/ada.svg")
    turned = client.get("/v1/avatars/people/ada.svg?rotate=20&borderRadius=50&flip=horizontal")
    gradient = client.get("/v1/avatars/people/ada.svg?backgroundColorFill=linear")
    assert plain.status_code == turned.status_code == gradient.status_code == 200
    assert b"rotate(20" in turned.content and b'rx="50"' in turned.content
    assert b"linearGradient" in gradient.content
    assert turned["ETag"] != plain["ETag"]
    for query, code in (("rotate=720", "invalid_option"), ("hairVariant=x", "unknown_option")):
        response = client.get(f"/v1/avatars/people/ada.svg?{query}")
        assert (response.status_code, response.json()["code"]) == (400, code)


def test_v1_route_takes_a_dicebear_styles_own_options(client, identity_defaults):
    plain = client.get("/v1/avatars/dicebear-adventurer/ada.svg")
    glasses = client.get("/v1/avatars/dicebear-adventurer/ada.svg?glassesProbability=100")
    assert plain.status_code == glasses.status_code == 200
    assert plain.content != glasses.content
    bad = client.get("/v1/avatars/dicebear-adventurer/ada.svg?glassesProbability=500")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_option"
