"""Run the database-backed tests again on PostgreSQL.

They are selected by the `django_db` marker, which tests/conftest.py also
gives every test that uses the database through a fixture (`db`,
`transactional_db`, `live_server`, or a fixture that needs one).

Skipped (with a note) when no server answers, except under CI=true, where a
missing PostgreSQL is a failure.
"""

import os
import subprocess
import sys

import psycopg


def main(url: str) -> int:
    try:
        psycopg.connect(url.replace("postgres://", "postgresql://"), connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            print(f"PostgreSQL at {url} is required in CI: {exc}", file=sys.stderr)
            return 1
        print(f"PostgreSQL not reachable at {url}; database tests ran on SQLite only.")
        return 0
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.call([sys.executable, "-m", "pytest", "-m", "django_db", "-q"], env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
