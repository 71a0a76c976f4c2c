import pytest
from django.core.cache import cache

from generation.jobs.worker import stop_embedded_worker

TEST_SEED_SECRET = "test-seed-secret"
# Fixtures that give a test the database without the `django_db` marker.
DATABASE_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback",
     "live_server"}
)  # fmt: skip


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that reaches the database through a fixture (directly or through
    another fixture) gets the `django_db` marker too, before `-m` selects: the
    PostgreSQL pass (scripts/postgres_tests.py, `-m django_db`) runs every
    database test, not only the marked ones."""
    for item in items:
        uses_database = DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        if uses_database and item.get_closest_marker("django_db") is None:
            item.add_marker(pytest.mark.django_db)


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
