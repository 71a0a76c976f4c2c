"""Settings come from the environment; the embedded defaults need no service."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.service_helpers import require_services

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PROBE = (
    "import json, django\n"
    "django.setup()\n"
    "from django.conf import settings\n"
    "print(json.dumps({\n"
    "  'db': settings.DATABASES['default']['ENGINE'],\n"
    "  'db_name': settings.DATABASES['default']['NAME'],\n"
    "  'layer': settings.CHANNEL_LAYERS['default']['BACKEND'],\n"
    "  'cache': settings.CACHES['default']['BACKEND'],\n"
    "  'storage': settings.STORAGES['default']['BACKEND'],\n"
    "  'bucket': settings.STORAGES['default'].get('OPTIONS', {}).get('bucket_name'),\n"
    "  'seed_secret': settings.AVATAR_SEED_SECRET,\n"
    "}))\n"
)
SERVICE_VARS = ("DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME", "AVATAR_SEED_SECRET")


def run_django(script: str, var_dir: Path, **env: str) -> str:
    """Run `script` in a fresh process with only the given service settings; its stdout."""
    clean = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    clean.update({"DJANGO_SETTINGS_MODULE": "avatarsite.settings", "AVATAR_VAR_DIR": str(var_dir)})
    clean.update(env)
    command = [sys.executable, "-c", script]
    return subprocess.run(
        command, capture_output=True, text=True, check=True, env=clean, cwd=ROOT
    ).stdout


def probe(tmp_path: Path, **env: str) -> dict:
    return json.loads(run_django(PROBE, tmp_path, **env))


def test_embedded_defaults(tmp_path):
    found = probe(tmp_path)
    assert found["db"] == "django.db.backends.sqlite3"
    assert found["layer"] == "channels.layers.InMemoryChannelLayer"
    assert found["cache"].endswith("LocMemCache")
    assert found["storage"] == "django.core.files.storage.FileSystemStorage"


def test_seed_secret_is_generated_once_and_kept(tmp_path):
    first = probe(tmp_path)["seed_secret"]
    assert len(first) >= 32
    assert probe(tmp_path)["seed_secret"] == first
    assert probe(tmp_path, AVATAR_SEED_SECRET="from-env")["seed_secret"] == "from-env"


def test_services_from_the_environment(tmp_path):
    found = probe(
        tmp_path,
        DATABASE_URL="postgres://u:p@db.internal:5432/avatars",
        REDIS_URL="redis://cache.internal:6379/1",
        AWS_STORAGE_BUCKET_NAME="avatars-bucket",
    )
    assert found["db"] == "django.db.backends.postgresql" and found["db_name"] == "avatars"
    assert found["layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert found["cache"].endswith("RedisCache")
    assert found["storage"] == "storages.backends.s3.S3Storage"
    assert found["bucket"] == "avatars-bucket"


def redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        require_services([f"Redis at {REDIS_URL}"])


def test_redis_channel_layer_carries_wakes_and_group_messages():
    """The Redis layer as configured (pub/sub), between two processes' worth of
    layers: a worker's named channel gets its wake-up, a group its events."""
    redis_or_skip()
    import asyncio

    from asgiref.sync import async_to_sync
    from channels_redis.pubsub import RedisPubSubChannelLayer

    prefix = f"test{uuid.uuid4().hex[:8]}:"

    async def exchange() -> tuple[dict, dict]:
        server = RedisPubSubChannelLayer(hosts=[REDIS_URL], prefix=prefix)
        worker = RedisPubSubChannelLayer(hosts=[REDIS_URL], prefix=prefix)
        waiter = await worker.new_channel()  # subscribed when this returns
        await worker.group_add("job-1", waiter)
        wake = asyncio.ensure_future(worker.receive("avatar-jobs"))
        # receive() subscribes as it starts, and pub/sub drops what nobody
        # hears yet: send until it is heard, as a worker is nudged again.
        for _ in range(50):
            await server.send("avatar-jobs", {"type": "job.wake"})
            done, _ = await asyncio.wait([wake], timeout=0.1)
            if done:
                break
        await server.group_send("job-1", {"type": "job.progress", "progress": 0.5})
        received = wake.result(), await asyncio.wait_for(worker.receive(waiter), 5)
        await server.flush()
        await worker.flush()
        return received

    woken, event = async_to_sync(exchange)()
    assert woken == {"type": "job.wake"}
    assert event == {"type": "job.progress", "progress": 0.5}


def test_redis_cache_serves_rendered_avatars(tmp_path):
    """With REDIS_URL set, rendered avatars are cached in Redis, shared by every process."""
    redis_or_skip()
    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "call_command('load_identity_defaults', verbosity=0)\n"
        "from django.test import Client\n"
        "r = Client().get('/v1/avatars/rings/shared.png?size=32')\n"
        "from django.core.cache import cache\n"
        "print(r.status_code, len([k for k in cache._cache.get_client().keys('*identity:*')]))\n"
    )
    output = run_django(
        script, tmp_path, REDIS_URL=REDIS_URL, AVATAR_SEED_SECRET=f"s-{uuid.uuid4().hex}"
    )
    out = output.strip().splitlines()[-1].split()
    assert out[0] == "200" and int(out[1]) >= 1
