"""PostgreSQL: trigram indexes for the account search (name, external id or city containing the words).

Without them, PostgreSQL reads every active account for a search (about 90 ms per query at
100,000 accounts, twice per page: count and page). Needs the pg_trgm extension, which a
database owner may create (it is a trusted extension since PostgreSQL 13); where the role
may not, the search works as before, without the indexes. SQLite has no such index.
"""

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)

COLUMNS = ("name", "external_id", "city")


def create_trigram_indexes(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    table = apps.get_model("accounts", "Account")._meta.db_table
    try:
        with transaction.atomic(using=connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as error:
        logger.warning("pg_trgm is not available (%s): account search works without its indexes", error)
        return
    for column in COLUMNS:
        # UPPER(… ::text) as Django writes icontains; only active accounts are listed and searched.
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "account_{column}_trgm" ON "{table}" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops) WHERE "archived_at" IS NULL'
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f'DROP INDEX IF EXISTS "account_{column}_trgm"')


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes),
    ]
