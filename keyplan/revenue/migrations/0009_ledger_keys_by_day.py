"""The ledger's key begins with the line's day (`keyplan.revenue.ledger_keys`), and the date index goes.

Existing lines keep the hash part of their key (the hash of their line id, or of their content),
so an import after the upgrade still recognises them. The lines are copied aside and written back
under their new keys: updating the keys in place could meet a key not yet changed on the way.
"""

from django.db import migrations

SHIFT, DAY_OFFSET = 47, 1 << 16  # as in keyplan.revenue.ledger_keys at the time of this migration
HASH_MASK = (1 << SHIFT) - 1
COLUMNS = ("date", "amount", "currency", "amount_reporting", "cost", "cost_reporting", "product", "division",
           "invoice_id", "line_id", "account_id", "batch_id")


def rekey(apps, schema_editor):
    connection = schema_editor.connection
    table = "revenue_ledgerline"
    if connection.vendor == "postgresql":
        day = "CAST(date - DATE '1900-01-01' AS bigint)"
    else:
        day = "CAST(julianday(date) - julianday('1900-01-01') AS INTEGER)"
    new_key = f"((({day}) - {DAY_OFFSET}) << {SHIFT}) | (dedupe_key & {HASH_MASK})"
    columns = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        if not cursor.fetchone()[0]:
            return
        cursor.execute(f"CREATE TEMPORARY TABLE ledger_rekeyed AS SELECT {columns}, {new_key} AS dedupe_key FROM {table}")
        cursor.execute("SELECT dedupe_key FROM ledger_rekeyed GROUP BY dedupe_key HAVING COUNT(*) > 1")
        twice = cursor.fetchone()
        if twice:
            raise RuntimeError(f"Two ledger lines of one day would share the key {twice[0]}: the upgrade cannot go on. "
                               "Report this to the Keyplan developers with the output of this command.")
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(f"INSERT INTO {table} ({columns}, dedupe_key) SELECT {columns}, dedupe_key FROM ledger_rekeyed "
                       "ORDER BY dedupe_key")
        cursor.execute("DROP TABLE ledger_rekeyed")


class Migration(migrations.Migration):

    dependencies = [
        ("revenue", "0008_batch_worker_broken_off"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="ledgerline", name="ledger_date"),
        migrations.RunPython(rekey, migrations.RunPython.noop),
    ]
