"""The ledger's dedupe key becomes its primary key: no id column, no sequence, one index fewer per line.

On SQLite Django copies the ledger table twice (once per operation): minutes at 10 million
lines (docs/deployment.md). On PostgreSQL the id column is dropped and the key's index built.
"""

from django.db import migrations, models


def drop_other_unique_indexes(apps, schema_editor):
    # A unique field turned primary key keeps its old unique constraint on PostgreSQL: a second
    # index on the same column, which every import would pay for.
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    table = apps.get_model("revenue", "LedgerLine")._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    for name, details in constraints.items():
        if details["columns"] == ["dedupe_key"] and details["unique"] and not details["primary_key"]:
            schema_editor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{name}"')
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):

    dependencies = [
        ('revenue', '0004_covering_rollup_indexes'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='ledgerline',
            name='id',
        ),
        migrations.AlterField(
            model_name='ledgerline',
            name='dedupe_key',
            field=models.BigIntegerField(primary_key=True, serialize=False),
        ),
        migrations.RunPython(drop_other_unique_indexes, migrations.RunPython.noop),
    ]
