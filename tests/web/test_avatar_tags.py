"""{% avatar %}, {% avatar_url %}, user_avatar_url and the AVATAR_PROVIDERS chain."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template

from generation.avatar_providers import user_avatar_url
from generation.portrait.pipeline import STAGES
from generation.profile_avatars import pick_ai
from generation.web.words import STAGE_LABELS
from tests.service_helpers import PHOTOS

pytestmark = pytest.mark.django_db


class Fixed:
    """A provider a platform might add (module-level object, not a class)."""

    def get_avatar_url(self, user, size):
        return f"https://cdn.example/{user.get_username()}/{size}.png"


class Nothing:
    def get_avatar_url(self, user, size):
        return None


FIXED = Fixed()


def render(text: str, **context) -> str:
    return Template("{% load avatars %}" + text).render(Context(context))


@pytest.fixture
def ann(identity_defaults):
    return get_user_model().objects.create_user("ann", "ann@example.com", "pw-ann-123456789")


def test_avatar_tag_is_an_img_with_size_alt_and_2x_srcset(ann):
    html = render('{% avatar who 64 data_testid="me" class_="round" %}', who=ann)
    avatar = ann.identity_avatar
    url = f"/v1/users/{avatar.public_id}/avatar.png?size="
    version = f"v={avatar.style_version_id}"
    assert html == (
        f'<img src="{url}64&amp;{version}" srcset="{url}128&amp;{version} 2x" width="64" '
        'height="64" alt="ann&#x27;s avatar" class="avatar round" data-testid="me">'
    )
    assert render("{% avatar_url who 128 %}", who=ann) == f"{url}128&amp;{version}"


@pytest.mark.django_db(transaction=True)  # the API view reads in its pool thread
def test_the_identity_url_serves_the_avatar(ann, client):
    response = client.get(user_avatar_url(ann, 48))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_sizes_are_clamped_and_anonymous_users_get_nothing(ann):
    assert "size=1024" in render("{% avatar who 900 %}", who=ann)  # 2x clamped
    assert 'width="16"' in render("{% avatar who 2 %}", who=ann)
    assert render("{% avatar who 64 %}", who=AnonymousUser()) == ""
    assert user_avatar_url(None, 64) == ""


def test_a_picked_avatar_comes_first(ann):
    png = (PHOTOS / "alex-lacamoire.png").read_bytes()
    picked = pick_ai(ann, png, "anime")
    assert user_avatar_url(ann, 48) == f"/avatars/{picked.public_id}/48.png"


def test_the_chain_is_a_setting(ann, settings):
    settings.AVATAR_PROVIDERS = [
        "tests.web.test_avatar_tags.Nothing",
        "tests.web.test_avatar_tags.FIXED",
        "generation.avatar_providers.IdentityAvatarProvider",
    ]
    assert user_avatar_url(ann, 40) == "https://cdn.example/ann/40.png"
    html = render("{% avatar who 40 %}", who=ann)
    assert re.search(r'srcset="https://cdn.example/ann/80.png 2x"', html)
    settings.AVATAR_PROVIDERS = ["tests.web.test_avatar_tags.Nothing"]
    assert render("{% avatar who 40 %}", who=ann) == ""


def test_every_pipeline_stage_has_words():
    assert set(STAGES) <= set(STAGE_LABELS)
