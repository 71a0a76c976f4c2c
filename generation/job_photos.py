"""A job's input photo, kept in its row until the job ends, written and read as binary.

Django's PostgreSQL backend binds parameters client-side, so the ORM sends a
bytea as hex text and receives it as hex text: for a 500 KB photo that was
9.4 ms to insert and 2.6 ms to read, against 1.5 ms and 0.8 ms through a
server-bound binary parameter and a binary result. The Job manager defers the
column, so the ORM never carries it; these functions do, inside the caller's
transaction. Other databases go through the ORM.
"""

import uuid

from django.db import connection

from generation.models import Job


def _column_sql() -> tuple[str, str, str]:
    quote = connection.ops.quote_name
    return (
        quote(Job._meta.db_table),
        quote(Job._meta.get_field("photo").column),
        quote(Job._meta.pk.column),
    )


def _binary_cursor():
    """A server-binding psycopg cursor on Django's connection (and transaction)."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def write_photos(photos: dict[uuid.UUID, bytes]) -> None:
    """Store each job's input photo (the jobs exist already)."""
    if not photos:
        return
    if connection.vendor != "postgresql":
        for pk, photo in photos.items():
            Job.objects.filter(pk=pk).update(photo=photo)
        return
    table, column, key = _column_sql()
    with _binary_cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {column} = %b WHERE {key} = %s",
            [(photo, pk) for pk, photo in photos.items()],
        )


def read_photo(pk: uuid.UUID) -> bytes | None:
    """The job's input photo; None once the job has ended (or it had none)."""
    if connection.vendor != "postgresql":
        row = Job.objects.filter(pk=pk).values_list("photo", flat=True).first()
        return None if row is None else bytes(row)
    table, column, key = _column_sql()
    with _binary_cursor() as cursor:
        row = cursor.execute(
            f"SELECT {column} FROM {table} WHERE {key} = %s", [pk], binary=True
        ).fetchone()
    return None if row is None or row[0] is None else bytes(row[0])
