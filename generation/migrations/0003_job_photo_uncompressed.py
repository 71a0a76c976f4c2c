"""Store in-flight photos uncompressed on PostgreSQL.

JPEG, PNG and WebP are already compressed: PostgreSQL's attempt to compress
each photo again (TOAST's default) quadruples the insert time on the hot path
of every generate call. Other databases are left as they are.
"""

from django.db import migrations


def set_storage(mode: str):
    def apply(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            table = schema_editor.quote_name("generation_job")
            schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN photo SET STORAGE {mode}")

    return apply


class Migration(migrations.Migration):
    dependencies = [("generation", "0002_batch_job")]

    operations = [migrations.RunPython(set_storage("EXTERNAL"), set_storage("EXTENDED"))]
