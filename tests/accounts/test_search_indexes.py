"""The account search can use PostgreSQL's trigram indexes (migration accounts.0002)."""

from django.db import connection

from keyplan.accounts.filters import AccountFilter
from keyplan.accounts.models import Account


def test_the_account_search_can_use_trigram_indexes_on_postgresql(make_account):
    make_account("Nordwerk GmbH", external_id="N-1")
    Account.objects.bulk_create([Account(external_id=f"X-{i}", name=f"Firm {i}", city="Delft", reporting_currency="EUR")
                                 for i in range(3000)])
    form = AccountFilter({"q": "nordw"})
    assert form.is_valid()
    found = form.apply(Account.objects.all())
    assert [a.external_id for a in found] == ["N-1"]
    indexes = {name for name in connection.introspection.get_constraints(connection.cursor(), Account._meta.db_table)
               if name.endswith("_trgm")}
    if connection.vendor != "postgresql":
        assert indexes == set()  # SQLite has no trigram index; its search reads the table
        return
    assert indexes == {"account_name_trgm", "account_external_id_trgm", "account_city_trgm"}
    # The indexes must match the expressions Django writes for icontains, or the planner cannot use them.
    # At 3,000 rows a sequential scan still costs less than any index; ruled out, the planner takes
    # the indexes that find the one account, not one that walks every active account.
    sql, params = found.query.sql_with_params()
    with connection.cursor() as cursor:
        for name in indexes:  # rows written in this (test) transaction wait in the index's pending list
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [name])
        cursor.execute(f"ANALYZE {Account._meta.db_table}")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert all(name in plan for name in indexes), plan
