"""The generate call's `seed`: the same seed lays out the same avatar; a bad one is refused."""

import io

import numpy as np
import pytest
from PIL import Image

from accounts.credits import balance
from generation.models import Job
from tests.service_helpers import client_for, make_account, photo_b64, post_json

pytestmark = pytest.mark.django_db(transaction=True)
GENERATE = "/v1/avatar/generate"


@pytest.fixture
def acme():
    account, key = make_account(credits=5)
    return account, client_for(key)


def _avatar(client, body: dict) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(client.get(body["avatar_url"]).getvalue())))


def test_the_same_seed_gives_the_same_avatar_and_another_seed_another(acme, client):
    _, api = acme
    photo = photo_b64()

    def generate(seed: int) -> np.ndarray:
        body = {"image_base64": photo, "style": "anime", "platform": "twitch", "seed": seed}
        response = post_json(api, GENERATE, body)
        assert response.status_code == 200, response.content[:300]
        return _avatar(client, response.json())

    first = generate(42)
    assert np.array_equal(generate(42), first)
    assert np.abs(generate(43).astype(int) - first).mean() > 2
    assert Job.objects.filter(params__seed=42).count() == 2


@pytest.mark.parametrize("seed", [-1, 2**53, "abc"])
def test_a_bad_seed_is_refused_before_any_work_or_charge(acme, seed):
    account, api = acme
    response = post_json(api, GENERATE, {"image_base64": photo_b64(), "seed": seed})
    assert response.status_code in (400, 422), response.content[:300]
    assert response.json()["code"] in ("bad_seed", "invalid_request")
    assert Job.objects.count() == 0 and balance(account) == 5
