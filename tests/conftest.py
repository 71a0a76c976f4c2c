import pytest
from django.core.cache import cache

from generation.jobs.worker import stop_embedded_worker

TEST_SEED_SECRET = "test-seed-secret"


@pytest.fixture(autouse=True)
def isolated_settings(settings, tmp_path):
    """Every test: a fixed seed secret, its own media folder and an empty cache."""
    settings.AVATAR_SEED_SECRET = TEST_SEED_SECRET
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    cache.clear()
    yield
    stop_embedded_worker()


@pytest.fixture
def identity_defaults(db):
    from generation.avatars import install_defaults

    install_defaults()


@pytest.fixture(scope="session", autouse=True)
def close_stray_database_sessions(django_db_setup, django_db_blocker):
    """Request pool threads keep their connections (as in production); end
    them before pytest-django drops the PostgreSQL test database."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
