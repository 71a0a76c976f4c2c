"""The DiceBear-compatible HTTP API, /10.x/{style}/{format}."""

import io

import pytest
from dicebear import Avatar, Style
from PIL import Image

from generation.identity import dicebear

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client_with_styles(client, identity_defaults):
    return client


def core_svg(name: str, options: dict) -> bytes:
    return Avatar(Style(dicebear.shipped_definition(name)), options).to_string().encode()


def test_svg_is_byte_identical_to_dicebear_core(client_with_styles):
    response = client_with_styles.get(
        "/10.x/adventurer/svg",
        {"seed": "Felix", "flip": "horizontal", "backgroundColor": "b6e3f4,c0aede", "rotate": "10"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    expected = core_svg(
        "adventurer",
        {
            "seed": "Felix",
            "flip": ["horizontal"],
            "backgroundColor": ["b6e3f4", "c0aede"],
            "rotate": 10,
        },
    )
    assert response.content == expected


def test_no_options_matches_core_defaults(client_with_styles):
    response = client_with_styles.get("/10.x/initials/svg?seed=John%20Doe")
    assert response.content == core_svg("initials", {"seed": "John Doe"})


@pytest.mark.parametrize("fmt,kind", [("png", "PNG"), ("webp", "WEBP"), ("jpg", "JPEG")])
def test_raster_formats_up_to_1024(client_with_styles, fmt, kind):
    response = client_with_styles.get(f"/10.x/bottts/{fmt}?seed=abc&size=1024")
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == (kind, (1024, 1024))


def test_initials_png_draws_the_letters(client_with_styles):
    response = client_with_styles.get("/10.x/initials/png?seed=John%20Doe&size=64")
    image = Image.open(io.BytesIO(response.content)).convert("L")
    low, high = image.getextrema()
    assert high - low > 60  # letters on the background, not a flat square


def test_json_format(client_with_styles):
    response = client_with_styles.get("/10.x/shapes/json?seed=x&rotate=20")
    body = response.json()
    assert body["svg"] == core_svg("shapes", {"seed": "x", "rotate": 20}).decode()
    assert body["options"]["seed"] == "x"


@pytest.mark.parametrize(
    "query,code",
    [
        ("seed=a&nonsense=1", "unknown_option"),
        ("seed=a&flip=sideways", "invalid_option"),
        ("seed=a&rotate=abc", "invalid_option"),
        ("seed=a&rotate=9999", "invalid_option"),
        ("seed=a&backgroundColor=zzzzzz", "invalid_option"),
        ("seed=a&size=2000", "invalid_size"),
        ("seed=a%00b", "invalid_characters"),
        ("seed=a&keyed=maybe", "invalid_option"),
        ("seed=a&version=x", "invalid_version"),
    ],
)
def test_bad_options_answer_400_json(client_with_styles, query, code):
    response = client_with_styles.get(f"/10.x/adventurer/png?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_unknown_style_and_format(client_with_styles):
    assert client_with_styles.get("/10.x/nope/svg").json()["code"] == "unknown_style"
    assert client_with_styles.get("/10.x/bottts/gif").json()["code"] == "invalid_format"


def test_etag_304_and_caching(client_with_styles):
    first = client_with_styles.get("/10.x/bottts/svg?seed=a")
    assert first["ETag"].startswith('"')
    again = client_with_styles.get("/10.x/bottts/svg?seed=a", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    pinned = client_with_styles.get("/10.x/bottts/svg?seed=a&version=1")
    assert "immutable" in pinned["Cache-Control"]
    assert "immutable" not in first["Cache-Control"]


def test_keyed_mode_hides_the_seed(client_with_styles):
    plain = client_with_styles.get("/10.x/bottts/svg?seed=user-42")
    keyed = client_with_styles.get("/10.x/bottts/svg?seed=user-42&keyed=true")
    assert keyed.status_code == 200
    assert keyed.content != plain.content
    assert b"user-42" not in keyed.content


def test_own_styles_take_core_options(client_with_styles):
    plain = client_with_styles.get("/10.x/people/svg?seed=ada")
    turned = client_with_styles.get(
        "/10.x/people/svg?seed=ada&rotate=30&borderRadius=50&flip=horizontal"
    )
    assert plain.status_code == turned.status_code == 200
    assert b"rotate(30" in turned.content and b'rx="50"' in turned.content
    assert client_with_styles.get("/10.x/people/svg?seed=a&hairVariant=x").status_code == 400
