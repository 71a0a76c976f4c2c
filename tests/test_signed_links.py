"""Result links: a signed link serves the avatar until it expires (410
`link_expired` locally, 403 from S3), and a tampered one serves nothing (404
locally, 403 SignatureDoesNotMatch from S3)."""

import io
import time
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from generation.models import Job
from tests.s3 import http_get, s3_server, s3_storage  # noqa: F401 (fixtures)
from tests.service_helpers import client_for, make_account

pytestmark = pytest.mark.django_db(transaction=True)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def delivered_job() -> tuple[Job, str]:
    """A delivered job with its avatar in the default storage, and an API key."""
    account, key = make_account("links", credits=0)
    name = default_storage.save("avatars/link-test.png", ContentFile(png()))
    job = Job.objects.create(account=account, state=Job.State.DONE, avatar_file=name)
    return job, key


def avatar_url(job: Job, key: str) -> str:
    response = client_for(key).get(f"/v1/jobs/{job.pk}")
    assert response.status_code == 200, response.content[:300]
    return response.json()["avatar_url"]


def local_get(client, url: str):
    return client.get(urlsplit(url).path)


def test_a_local_link_serves_the_avatar_until_it_expires(client, settings):
    settings.SIGNED_URL_SECONDS = 1
    job, key = delivered_job()
    url = avatar_url(job, key)
    response = local_get(client, url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == png()
    time.sleep(2.1)
    expired = local_get(client, url)
    assert expired.status_code == 410
    assert expired.json()["code"] == "link_expired"
    # A fresh link works again: the file is still there, only the link aged.
    assert local_get(client, avatar_url(job, key)).status_code == 200


def test_a_tampered_local_link_is_404(client):
    job, key = delivered_job()
    url = avatar_url(job, key)
    token = urlsplit(url).path.rsplit("/", 1)[1]
    last = "A" if token[-1] != "A" else "B"
    for forged in (token[:-1] + last, token[:-1], "x" + token, token.replace(":", ":0", 1)):
        response = client.get(f"/files/{forged}")
        assert response.status_code == 404, forged
        assert response.json()["code"] == "not_found"


def test_a_link_to_a_purged_file_is_404(client):
    job, key = delivered_job()
    url = avatar_url(job, key)
    default_storage.delete(job.avatar_file.name)
    response = local_get(client, url)
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_an_s3_link_serves_the_avatar_until_it_expires(s3_storage):  # noqa: F811
    job, key = delivered_job()
    default_storage.querystring_expire = 1
    url = avatar_url(job, key)
    assert urlsplit(url).netloc == urlsplit(s3_storage.endpoint_url).netloc
    assert http_get(url) == (200, png())
    time.sleep(2.1)
    status, body = http_get(url)
    assert status == 403 and b"Request has expired" in body


def test_a_tampered_s3_link_is_refused(s3_storage):  # noqa: F811
    job, key = delivered_job()
    url = avatar_url(job, key)
    signature = url.split("X-Amz-Signature=", 1)[1].split("&", 1)[0]
    forged = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    status, body = http_get(url.replace(signature, forged))
    assert status == 403 and b"SignatureDoesNotMatch" in body
    other = url.replace("/avatars/link-test.png?", "/avatars/other.png?")
    assert http_get(other)[0] == 403
