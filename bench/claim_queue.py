"""How long a worker's claim takes with a deep queue, on SQLite and PostgreSQL.

The claim is one `UPDATE ... RETURNING` that takes the claimable job with the
lowest queue rank (fair sharing between accounts, generation/jobs/queue.py).
This fills a fresh database with `--queued` jobs (batch items of `--accounts`
accounts plus some calls), then times `--claims` claims and prints p50/p95,
and PostgreSQL's plan of the statement.

    .venv/bin/python bench/claim_queue.py                       # SQLite in a temporary folder
    .venv/bin/python bench/claim_queue.py --postgres postgres://postgres@127.0.0.1:5432/x
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent


def setup_django(database_url: str, var_dir: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["AVATAR_VAR_DIR"] = var_dir
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avatarsite.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(queued: int, accounts: int) -> None:
    """`queued` jobs: 90% batch items spread over the accounts, 10% calls."""
    from accounts.models import PlatformAccount
    from generation.jobs.batches import BatchItem, create_batch
    from generation.jobs.queue import enqueue

    made = [PlatformAccount.objects.create(name=f"bench-{n}", seats=10**6) for n in range(accounts)]
    items = queued * 9 // 10
    per_account = max(1, items // accounts)
    params = {"style": "corporate_headshot", "platform": "linkedin"}
    for account in made:
        batch = [BatchItem(f"e{n}", photo=b"photo") for n in range(per_account)]
        create_batch(account, params, batch)
    for n in range(queued - per_account * accounts):
        enqueue(made[n % accounts], b"photo", params, reserve_credit=False)


def time_claims(claims: int) -> list[float]:
    from generation.jobs import queue as jobs

    took = []
    for n in range(claims):
        started = time.perf_counter()
        claimed = jobs.claim(f"bench:{n}")
        took.append((time.perf_counter() - started) * 1000)
        assert claimed is not None
    return took


def postgres_plan() -> str:
    from django.db import connection

    from generation.jobs import queue as jobs

    sql = jobs._claim_sql(len(jobs.INTERACTIVE_KINDS))
    now = "2026-01-01T00:00:00+00:00"
    kinds = jobs.INTERACTIVE_KINDS
    expired, queued = ["running", now, *kinds], ["queued", *kinds]
    params = ["running", "bench:plan", now, now, *expired, *queued, "queued", "running", now]
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("EXPLAIN ANALYZE " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("ROLLBACK")
    return plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a database is made there)")
    parser.add_argument("--queued", type=int, default=5000)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--claims", type=int, default=200)
    args = parser.parse_args()
    var_dir = tempfile.mkdtemp(prefix="claim-bench-")
    db_name = f"claim_bench_{uuid.uuid4().hex[:8]}"
    if args.postgres:
        import psycopg

        admin = args.postgres.replace("postgres://", "postgresql://", 1)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        parts = urlsplit(args.postgres)
        url = urlunsplit((parts.scheme, parts.netloc, f"/{db_name}", parts.query, ""))
    else:
        url = f"sqlite:///{var_dir}/claim.sqlite3"
    try:
        setup_django(url, var_dir)
        from django.db import connection

        fill(args.queued, args.accounts)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # as autovacuum would after such a load
        took = time_claims(args.claims)
        q = statistics.quantiles(took, n=20)
        print(
            f"{connection.vendor}: {args.queued} queued jobs of {args.accounts} accounts; "
            f"claim p50 {statistics.median(took):.2f} ms, p95 {q[18]:.2f} ms "
            f"over {args.claims} claims"
        )
        if connection.vendor == "postgresql":
            print(postgres_plan())
    finally:
        if args.postgres:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
