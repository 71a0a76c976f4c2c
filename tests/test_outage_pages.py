"""A database outage on the pages and /metrics answers 503 with Retry-After."""

import pytest
from django.db import connections
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)


def test_pages_answer_503_while_the_database_is_down_and_recover(monkeypatch, tmp_path, settings):
    settings.METRICS_TOKEN = "t0ken"
    client = Client(raise_request_exception=False)
    assert client.get("/").status_code == 200
    database = connections.settings["default"]
    with monkeypatch.context() as outage:
        connections["default"].close()
        if connections["default"].vendor == "postgresql":
            outage.setitem(database, "PORT", "1")
        else:
            outage.setitem(database, "NAME", str(tmp_path / "no-such-dir" / "db.sqlite3"))
        for path, headers in (("/", {}), ("/metrics", {"HTTP_AUTHORIZATION": "Bearer t0ken"})):
            response = client.get(path, **headers)
            assert response.status_code == 503, (path, response.content[:200])
            assert int(response["Retry-After"]) > 0
            if path == "/":
                assert b"Back in a moment" in response.content
        connections["default"].close()
    assert client.get("/").status_code == 200


def test_other_errors_stay_500(monkeypatch):
    from generation.web import gallery

    def broken(request):
        raise RuntimeError("a bug")

    monkeypatch.setattr(gallery, "render", lambda *a, **k: broken(None))
    response = Client(raise_request_exception=False).get("/")
    assert response.status_code == 500
    assert "Retry-After" not in response
