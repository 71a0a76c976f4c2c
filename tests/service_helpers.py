"""Shared helpers for the generation service tests."""

import base64
import io
import json
import zipfile
from pathlib import Path

from django.test import Client

from accounts.credits import grant
from accounts.keys import issue_key
from accounts.models import PlatformAccount

PHOTOS = Path(__file__).parent / "fixtures" / "photos"


def photo_b64(name: str = "obama2.jpg") -> str:
    return base64.b64encode((PHOTOS / name).read_bytes()).decode()


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def make_account(name: str = "acme", credits: int = 10, **fields) -> tuple[PlatformAccount, str]:
    account = PlatformAccount.objects.create(name=name, **fields)
    if credits:
        grant(account, credits)
    return account, issue_key(account)


def client_for(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def post_json(client: Client, url: str, body: dict, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def require_services(problems: list[str]) -> None:
    """Missing local services: a failure under CI=true (they are part of the
    machine there), a skip on a developer's machine without them."""
    if not problems:
        return
    import os

    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail("required in CI: " + "; ".join(problems))
    pytest.skip("; ".join(problems))
