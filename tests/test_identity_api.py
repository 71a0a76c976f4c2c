"""GET /v1/avatars/...: formats, sizes, caching headers and error codes."""

import io

import pytest
from PIL import Image

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(client, identity_defaults):
    return client


def test_styles_lists_every_shipped_style_with_its_version(api):
    response = api.get("/v1/avatars/styles")
    assert response.status_code == 200
    styles = {s["slug"]: s for s in response.json()}
    assert len(styles) >= 10
    assert styles["people"]["version"] == 1 and styles["people"]["versions"] == [1]
    assert set(styles["identicon"]["formats"]) == {"svg", "png", "webp", "jpg"}
    assert "blue" in styles["rings"]["palettes"]
    assert styles["people"]["renderer"] == "own"
    assert styles["people"]["license"]["name"] == "CC0 1.0"


def test_styles_list_the_dicebear_catalogue_with_licences(api):
    styles = {s["slug"]: s for s in api.get("/v1/avatars/styles").json()}
    dicebear = {slug: s for slug, s in styles.items() if s["renderer"] == "dicebear"}
    assert len(dicebear) == 61
    adventurer = dicebear["dicebear-adventurer"]
    assert adventurer["license"]["name"] == "CC BY 4.0"
    assert "Lisa Wischofsky" in adventurer["license"]["attribution"]
    assert all(s["license"] and s["license"]["url"] for s in dicebear.values())


def test_styles_list_costs_the_same_few_queries_however_many_styles(api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from generation.models import Style

    with CaptureQueriesContext(connection) as queries:
        listed = api.get("/v1/avatars/styles").json()
    assert len(listed) == Style.objects.filter(is_active=True).count() > 60
    assert len(queries) <= 5  # palettes, styles, version numbers: not one per style


def test_palettes_list(api):
    slugs = {p["slug"] for p in api.get("/v1/avatars/palettes").json()}
    assert {"blue", "green", "grey"} <= slugs


@pytest.mark.parametrize(
    "fmt,content_type,magic",
    [
        ("svg", "image/svg+xml", b"<svg"),
        ("png", "image/png", b"\x89PNG"),
        ("webp", "image/webp", b"RIFF"),
    ],
)
def test_formats(api, fmt, content_type, magic):
    response = api.get(f"/v1/avatars/people/alice.{fmt}?size=64")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response.content.startswith(magic)
    if fmt != "svg":
        assert Image.open(io.BytesIO(response.content)).size == (64, 64)
    else:
        assert "default-src 'none'" in response["Content-Security-Policy"]


def test_same_seed_same_bytes_and_different_seeds_differ(api):
    first = api.get("/v1/avatars/shapes/user-1.png").content
    assert api.get("/v1/avatars/shapes/user-1.png").content == first
    assert api.get("/v1/avatars/shapes/user-2.png").content != first


def test_strong_etag_and_304(api):
    response = api.get("/v1/avatars/rings/bob.png?size=128")
    etag = response["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = api.get("/v1/avatars/rings/bob.png?size=128", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    other = api.get("/v1/avatars/rings/bob.png?size=129", HTTP_IF_NONE_MATCH=etag)
    assert other.status_code == 200 and other["ETag"] != etag


def test_pinned_versions_are_immutable_cacheable(api):
    pinned = api.get("/v1/avatars/pixel/carol.svg?version=1")
    assert pinned["Cache-Control"] == "public, max-age=31536000, immutable"
    floating = api.get("/v1/avatars/pixel/carol.svg")
    assert "immutable" not in floating["Cache-Control"]
    floating_palette = api.get("/v1/avatars/pixel/carol.svg?version=1&palette=blue")
    assert "immutable" not in floating_palette["Cache-Control"]
    both = api.get("/v1/avatars/pixel/carol.svg?version=1&palette=blue@1")
    assert both["Cache-Control"] == "public, max-age=31536000, immutable"


def test_palette_and_background_options_change_the_avatar(api):
    plain = api.get("/v1/avatars/identicon/dave.svg").content
    assert api.get("/v1/avatars/identicon/dave.svg?palette=grey").content != plain
    forced = api.get("/v1/avatars/identicon/dave.svg?background=%23ff0000").content
    assert b'fill="#ff0000"' in forced
    clear = api.get("/v1/avatars/identicon/dave.png?background=transparent&size=32")
    assert Image.open(io.BytesIO(clear.content)).getpixel((0, 0))[3] == 0


@pytest.mark.parametrize(
    "url,status,code",
    [
        ("/v1/avatars/nope/alice.svg", 404, "unknown_style"),
        ("/v1/avatars/people/alice.gif", 400, "invalid_format"),
        ("/v1/avatars/people/alice", 400, "invalid_format"),
        ("/v1/avatars/people/.svg", 400, "invalid_seed"),
        ("/v1/avatars/people/alice.png?size=0", 400, "invalid_size"),
        ("/v1/avatars/people/alice.png?size=15", 400, "invalid_size"),
        ("/v1/avatars/people/alice.png?size=1025", 400, "invalid_size"),
        ("/v1/avatars/people/alice.png?size=-5", 400, "invalid_size"),
        ("/v1/avatars/people/alice.png?size=abc", 400, "invalid_size"),
        ("/v1/avatars/people/alice.png?size=99999999999999999999999", 400, "invalid_size"),
        ("/v1/avatars/people/alice.svg?palette=missing", 404, "unknown_palette"),
        ("/v1/avatars/people/alice.svg?palette=blue@99", 404, "unknown_palette_version"),
        ("/v1/avatars/people/alice.svg?palette=%3Cscript%3E", 400, "invalid_palette"),
        ("/v1/avatars/people/alice.svg?version=7", 404, "unknown_version"),
        ("/v1/avatars/people/alice.svg?version=one", 400, "invalid_version"),
        ("/v1/avatars/people/alice.svg?background=url(x)", 400, "invalid_background"),
        ("/v1/avatars/people/" + "a" * 257 + ".svg", 400, "seed_too_long"),
        ("/v1/avatars/people/a%2F..%2F..%2Fetc.svg", 404, "not_found"),
        ("/v1/no/such/thing", 404, "not_found"),
    ],
)
def test_bad_requests_get_json_errors_never_500(api, url, status, code):
    response = api.get(url)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == code
    assert response.json()["message"]


@pytest.mark.parametrize("seed", ["%F0%9F%98%80", "%3Cscript%3Ealert(1)", "a" * 256, "%E6%9D%8E"])
def test_hostile_but_legal_seeds_draw_an_avatar(api, seed):
    response = api.get(f"/v1/avatars/initials/{seed}.svg")
    assert response.status_code == 200
    assert b"<script" not in response.content


def test_openapi_documents_the_avatar_routes(api):
    spec = api.get("/v1/openapi.json").json()
    assert "/v1/avatars/{style}/{filename}" in spec["paths"]
    assert "/v1/users/{public_id}/{filename}" in spec["paths"]


def test_avatars_are_served_when_the_cache_is_unreachable(api, settings):
    """With Redis down the avatar is drawn for each request, the same bytes."""
    cached = api.get("/v1/avatars/rings/ada.png?size=64")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1",  # nothing listens there
        }
    }
    uncached = api.get("/v1/avatars/rings/ada.png?size=64")
    assert uncached.status_code == 200 and uncached.content == cached.content
