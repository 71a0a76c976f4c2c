"""Account admin actions, progress events on the Redis layer, results on S3."""

import asyncio
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
    chosen = {"action": "grant_credits", "_selected_action": [account.pk]}
    asked = admin_client.post(changelist, chosen)
    assert b'data-testid="grant-form"' in asked.content and balance(account) == 0
    admin_client.post(changelist, {**chosen, "apply": "1", "amount": "250", "reason": "plan"})
    assert balance(account) == 250
    assert account.credits.get(reason="grant").note == "plan (by admin)"
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


def test_job_events_travel_through_redis_both_ways(settings):
    """publish() reaches the job's group on Redis (pages listen there), and a
    waiting call hears a job's end sent by another process, with its fields."""
    redis_or_skip()
    from asgiref.sync import sync_to_async
    from channels.layers import channel_layers, get_channel_layer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    from generation.jobs.notify import JobWaiter, group_name, publish

    prefix = f"t{uuid.uuid4().hex[:6]}:"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": prefix},
        }
    }
    channel_layers.backends.clear()
    published, heard = uuid.uuid4(), uuid.uuid4()
    ended = {"state": "done", "progress": 1.0, "charged": True, "result": {"likeness": 0.9}}

    async def exchange() -> tuple[list[dict], dict | None]:
        page = get_channel_layer()
        channel = await page.new_channel()
        await page.group_add(group_name(published), channel)
        await sync_to_async(publish)(published, "running", 0.1)
        await sync_to_async(publish)(published, "done", 1.0, ended=ended)
        events = [await asyncio.wait_for(page.receive(channel), 5) for _ in range(2)]
        other_process = RedisPubSubChannelLayer(hosts=[REDIS_URL], prefix=prefix)
        async with JobWaiter(heard) as waiter:
            message = {"type": "job.progress", "job": str(heard), "state": "done"}
            await other_process.group_send(group_name(heard), {**message, "ended": ended})
            await waiter.wait(5)
        await other_process.flush()
        return events, waiter.ended

    events, heard_fields = async_to_sync(exchange)()
    assert sorted((m["progress"], m["state"]) for m in events) == [(0.1, "running"), (1.0, "done")]
    assert [m["ended"] for m in events if m["state"] == "done"] == [ended]
    assert heard_fields == ended
    channel_layers.backends.clear()


@pytest.mark.django_db(transaction=True)
def test_generated_avatars_are_signed_s3_urls(s3_storage):  # noqa: F811
    _, key = make_account("s3-platform", credits=2)
    body = post_json(client_for(key), "/v1/avatar/generate", {"image_base64": photo_b64()}).json()
    assert "X-Amz-Signature=" in body["avatar_url"] and "X-Amz-Expires=" in body["avatar_url"]
    status, data = http_get(body["avatar_url"])
    assert status == 200 and Image.open(io.BytesIO(data)).size == (800, 800)
    assert any(k.startswith("avatars/") for k in s3_storage.object_keys())


@pytest.mark.django_db(transaction=True)
def test_redis_down_after_the_job_is_stored_still_answers(settings):
    """The job is committed before the worker is nudged: with Redis unreachable
    the call answers 202 with its job (queued for polling workers), not a 500."""
    from channels.layers import channel_layers

    from generation.models import Job

    settings.EMBEDDED_WORKER = False
    settings.GENERATE_WAIT_SECONDS = 0.3
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1"]},  # nothing listens there
        }
    }
    channel_layers.backends.clear()
    try:
        account, key = make_account("redis-down", credits=1)
        body = {"image_base64": photo_b64()}
        response = post_json(client_for(key), "/v1/avatar/generate", body)
        assert response.status_code == 202, response.content
        job = Job.objects.get(pk=response.json()["id"])
        assert job.state == "queued" and balance(account) == 0  # held for the job
    finally:
        channel_layers.backends.clear()
