"""Account admin actions, progress events on the Redis layer, results on S3."""

import io
import uuid

import pytest
from asgiref.sync import async_to_sync
from PIL import Image

from accounts.credits import balance
from accounts.models import ApiKey
from tests.s3 import http_get, s3_server, s3_storage  # noqa: F401 (fixtures)
from tests.service_helpers import client_for, make_account, photo_b64, post_json
from tests.test_settings_env import REDIS_URL, redis_or_skip


@pytest.mark.django_db
def test_admin_grants_credits_issues_and_revokes_keys(admin_client):
    account, key = make_account("admin-managed", credits=0)
    changelist = "/admin/accounts/platformaccount/"
    admin_client.post(changelist, {"action": "grant_100_credits", "_selected_action": [account.pk]})
    assert balance(account) == 100
    response = admin_client.post(
        changelist, {"action": "issue_key", "_selected_action": [account.pk]}, follow=True
    )
    assert account.keys.count() == 2 and "store it now" in response.content.decode()
    first = ApiKey.objects.get(account=account, revoked_at=None, prefix=key.split("_")[1])
    admin_client.post(
        "/admin/accounts/apikey/", {"action": "revoke_keys", "_selected_action": [first.pk]}
    )
    assert client_for(key).get(f"/v1/jobs/{uuid.uuid4()}").status_code == 401
    page = admin_client.get(f"{changelist}{account.pk}/change/").content.decode()
    assert "grant" in page and first.prefix in page


def test_progress_events_reach_the_jobs_group_on_redis(settings):
    redis_or_skip()
    from channels.layers import channel_layers, get_channel_layer

    from generation.notify import group_name, publish

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"t{uuid.uuid4().hex[:6]}"},
        }
    }
    channel_layers.backends.clear()
    layer = get_channel_layer()
    job_id = uuid.uuid4()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group_name(job_id), channel)
    publish(job_id, "running", 0.1)
    publish(job_id, "done", 1.0)

    async def collect() -> list[dict]:  # one event loop for every receive on the channel
        received = [await layer.receive(channel) for _ in range(2)]
        await layer.group_discard(group_name(job_id), channel)
        return received

    received = async_to_sync(collect)()
    # the layer orders by send time; two sends in a row may arrive either way round
    assert sorted((m["progress"], m["state"], m["job"]) for m in received) == [
        (0.1, "running", str(job_id)),
        (1.0, "done", str(job_id)),
    ]
    channel_layers.backends.clear()


@pytest.mark.django_db(transaction=True)
def test_generated_avatars_are_signed_s3_urls(s3_storage):  # noqa: F811
    _, key = make_account("s3-platform", credits=2)
    body = post_json(client_for(key), "/v1/avatar/generate", {"image_base64": photo_b64()}).json()
    assert "X-Amz-Signature=" in body["avatar_url"] and "X-Amz-Expires=" in body["avatar_url"]
    status, data = http_get(body["avatar_url"])
    assert status == 200 and Image.open(io.BytesIO(data)).size == (800, 800)
    assert any(k.startswith("avatars/") for k in s3_storage.object_keys())
