"""The yearly rollups' updates in place become HOT updates on PostgreSQL: the index on (year, account) no longer
includes the sums, and the table's pages keep 40 % free for new row versions (see YearlyRollup)."""

from django.db import migrations, models

TABLE = "revenue_yearlyrollup"


def leave_room(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite has neither INCLUDE nor a fill factor: its index stays as it was
    # CLUSTER rewrites the rows (a few MB) with the new fill factor, in the updates' key order; it locks the
    # table for that moment only.
    schema_editor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = 60)")
    schema_editor.execute(f"CLUSTER {TABLE} USING rollup_year_unique")
    schema_editor.execute(f"ALTER TABLE {TABLE} SET WITHOUT CLUSTER")  # a once-off order, not a standing one


def fill_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ("revenue", "0019_import_mapping"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="yearlyrollup", name="rollup_year_account"),
        migrations.AddIndex(model_name="yearlyrollup",
                            index=models.Index(fields=["year", "account"], name="rollup_year_account")),
        migrations.RunPython(leave_room, fill_pages),
    ]
