"""Updates of the rollups in place become HOT updates on PostgreSQL (no new index entries): the monthly and
yearly indexes on (period, account) no longer include the sums, and each rollup table's pages keep 40 % free
for new row versions (see MonthlyRollup)."""

from django.db import migrations, models

# Each table with the unique index its rows are updated in the order of.
TABLES = {"revenue_monthlyrollup": "rollup_month_unique", "revenue_yearlyrollup": "rollup_year_unique",
          "revenue_productrollup": "rollup_product_unique"}


def leave_room(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite has neither INCLUDE nor a fill factor: its indexes stay as they were
    for table, unique in TABLES.items():
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = 60)")
        # CLUSTER rewrites the rows with the new fill factor, in the updates' key order (2M monthly rollups: about
        # 6 s), locking the table for that time; SET WITHOUT CLUSTER: a once-off order, not a standing one.
        schema_editor.execute(f"CLUSTER {table} USING {unique}")
        schema_editor.execute(f"ALTER TABLE {table} SET WITHOUT CLUSTER")


def fill_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ("revenue", "0019_import_mapping"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="monthlyrollup", name="rollup_month_account"),
        migrations.RemoveIndex(model_name="yearlyrollup", name="rollup_year_account"),
        migrations.AddIndex(model_name="monthlyrollup",
                            index=models.Index(fields=["month", "account"], name="rollup_month_account")),
        migrations.AddIndex(model_name="yearlyrollup",
                            index=models.Index(fields=["year", "account"], name="rollup_year_account")),
        migrations.RunPython(leave_room, fill_pages),
    ]
