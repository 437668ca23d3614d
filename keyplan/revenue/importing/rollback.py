"""Undoing a batch: its lines and its share of the rollups removed in one transaction."""

import polars as pl
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.module_loading import import_string
from simple_history.utils import bulk_update_with_history

from keyplan.accounts.models import Account, TierChange
from keyplan.core.db import fetch_frame
from keyplan.core.models import User
from keyplan.revenue.importing.batch import _delete_lines, _refresh_derived
from keyplan.revenue.importing.inspection import can_import
from keyplan.revenue.importing.undo import UNDO
from keyplan.revenue.importing.write import RollupDeltas, _apply_rollups, rollup_deltas
from keyplan.revenue.ledger_keys import unix_day_sql
from keyplan.revenue.models import (
    BatchStatus,
    ExchangeRate,
    ImportBatch,
    ImportKind,
    LedgerLine,
    Subscription,
)


def _batch_deltas(batch: ImportBatch) -> RollupDeltas | None:
    """What a batch added to the rollups, added up again from its lines (to take it away again).

    The lines come as they are, their day from the key (`ledger_keys`), and Polars adds them up: a
    GROUP BY on the month made SQLite format and sort every line (1M lines: 1.9 s of a 6.5 s rollback,
    against 1.3 s to read them).
    """
    lines = fetch_frame(f"SELECT account_id, {unix_day_sql('dedupe_key')}, amount_reporting, cost_reporting, division, product "
                        f"FROM {LedgerLine._meta.db_table} WHERE batch_id = %s", [batch.pk],
                        {"account_id": pl.Int64, "_date": pl.Int32, "_amount_reporting": pl.Float64,
                         "_cost_reporting": pl.Float64, "division": pl.String, "product": pl.String})
    if not lines.height:
        return None
    return rollup_deltas(lines.lazy().with_columns(pl.col("_date").cast(pl.Date)))


def rollback_batch(batch: ImportBatch, *, by: User, broken_off: bool = False) -> ImportBatch:
    """Undo an import: its lines leave the ledger and its amounts leave the rollups, in one transaction.

    ``broken_off`` discards an import that never finished because its worker was killed
    (status still validating or importing): see `discard_broken_off`. Only for batches no worker
    is running any more; the caller says so.
    """
    if not can_import(by):
        raise PermissionDenied(_("Only KAM leads and admins roll back imports."))
    if broken_off:
        return discard_broken_off(batch, by=by)
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status in (BatchStatus.VALIDATING, BatchStatus.IMPORTING):
            raise ValidationError({"batch": _("Batch %(n)s is still being read or imported (%(status)s). If its worker was "
                                              "stopped and will not finish it, discard it as broken off.")
                                   % {"n": batch.pk, "status": batch.get_status_display()}})
        if batch.status != BatchStatus.DONE:
            raise ValidationError({"batch": _("Batch %(n)s was not imported (%(status)s); only imported batches can be rolled back.")
                                   % {"n": batch.pk, "status": batch.get_status_display()}})
        if batch.kind == ImportKind.LEDGER:
            rollups = _apply_rollups(_batch_deltas(batch), sign=-1)
            _delete_lines(batch)
            _refresh_derived()
            rollups.swap_in()
            archived = _archive_created_accounts(batch, by=by, why=f"import batch {batch.pk} that created it was rolled back")
            batch.report = {**(batch.report or {}), "archived_accounts": archived}
        elif batch.kind == ImportKind.SUBSCRIPTIONS:
            Subscription.objects.filter(batch=batch).delete()
            for pk, before, after in batch.report.get("replaced", []):
                _restore(Subscription, pk, ("monthly_amount", "currency", "end"), before, after)
        elif batch.kind == ImportKind.RATES:
            ExchangeRate.objects.filter(batch=batch).delete()
            for pk, before, after in batch.report.get("replaced", []):
                _restore(ExchangeRate, pk, ("rate",), before, after)
        elif batch.kind in UNDO:  # a kind of an area above revenue (keyplan.revenue.importing.undo)
            batch.rolled_back_by = by  # who undoes it, for the history rows the kind writes
            import_string(UNDO[batch.kind])(batch)
        batch.status = BatchStatus.ROLLED_BACK
        batch.rolled_back_by = by
        batch.rolled_back_at = timezone.now()
        batch.save()
    return batch


def discard_broken_off(batch: ImportBatch, *, by: User | None = None, worker: str = "", pid: int | None = None,
                       host: str = "") -> ImportBatch:
    """Discard an import that will never finish (its worker was killed): in one transaction, the lines it had
    written leave the ledger and the batch is marked broken off, with who (``by``; None is the system,
    when a worker starting up found the batch) and when.

    The rollups hold nothing of such a batch: they take its lines in the same transaction that marks it
    done. Its file can be imported again; the lines are new to the ledger again.
    """
    if by is not None and not can_import(by):
        raise PermissionDenied(_("Only KAM leads and admins roll back imports."))
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status not in (BatchStatus.VALIDATING, BatchStatus.IMPORTING):
            raise ValidationError({"batch": _("Batch %(n)s is not an import that broke off (%(status)s).")
                                   % {"n": batch.pk, "status": batch.get_status_display()}})
        lines = _delete_lines(batch)
        archived = _archive_created_accounts(batch, by=by, why=f"import batch {batch.pk} that created it broke off")
        stage = batch.status
        batch.status = BatchStatus.BROKEN_OFF
        batch.rolled_back_by = by
        batch.rolled_back_at = timezone.now()
        batch.finished_at = batch.finished_at or batch.rolled_back_at
        batch.rows_imported = 0
        batch.report = {
            "error_count": 0, "errors": [],
            "message": f"The import broke off at {batch.progress} % ({stage}): "
                       + (f"its worker ({worker}) stopped before it finished. " if worker else "it was discarded by hand. ")
                       + f"The {lines} lines it had written were removed; the numbers are as before it. Upload the file again to import it.",
            "archived_accounts": archived,
            "broken_off": {"stage": stage, "progress": batch.progress, "lines_removed": lines, "worker": worker,
                           "pid": pid, "host": host,
                           "by": by.username if by else "system", "at": batch.rolled_back_at.isoformat()},
        }
        batch.save()
    return batch


# What an account created by an import means when the import is undone. It came with the batch; when nothing
# else refers to it (no revenue from other batches, no team, plan, contact, subscription, score …) it is
# archived, with the reason in its history, so that the account list is as before the import and nothing
# is destroyed. An import that later brings lines for it again restores it (restore_rolled_back_accounts):
# otherwise those lines would sit on an archived account, which the portfolio's numbers leave out.
CREATED_BY_IMPORT = "Created by a revenue import"  # the reason of the key status an import gives the accounts it creates
_CHUNK = 5_000  # ids per query (SQLite binds at most 32,766 values)
# Tables that say nothing of their own about an account: the ledger's lines and what is computed from them (the
# monthly rollups, which hold every line still in the ledger, stand for them), the import's own key status.
_NOT_DATA = ("revenue.LedgerLine", "revenue.YearlyRollup", "revenue.AbcClass", "accounts.TierChange")


def _created_accounts(batch: ImportBatch) -> list[int]:
    """The accounts the batch created: made by its user while it ran, with the key status an import gives."""
    end = batch.finished_at or timezone.now()
    made = set(Account.history.filter(history_type="+", history_user_id=batch.created_by_id, history_date__gte=batch.created_at,
                                      history_date__lte=end).values_list("id", flat=True))
    by_import = TierChange.objects.filter(reason=CREATED_BY_IMPORT, changed_by_id=batch.created_by_id, changed_at__gte=batch.created_at,
                                          changed_at__lte=end).values_list("account_id", flat=True)
    return sorted(made.intersection(by_import))


def _with_other_data(ids: list[int]) -> set[int]:
    found: set[int] = set()
    for relation in Account._meta.related_objects:
        model = relation.related_model
        if model._meta.label in _NOT_DATA:
            continue
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            found.update(model._base_manager.filter(**{f"{relation.field.name}__in": chunk})
                         .values_list(relation.field.name, flat=True).distinct())
    return found


def _archive_created_accounts(batch: ImportBatch, *, by: User | None, why: str) -> list[int]:
    """Archive the accounts the batch created that hold nothing else; their history says why. Returns their ids."""
    created = _created_accounts(batch)
    if not created:
        return []
    keep = _with_other_data(created)
    accounts = [a for a in Account.objects.filter(pk__in=[pk for pk in created if pk not in keep], archived_at__isnull=True)]
    now = timezone.now()
    for account in accounts:
        account.archived_at = now
    bulk_update_with_history(accounts, Account, ["archived_at"], batch_size=1000, default_user=by,
                             default_change_reason=f"Archived: {why}")
    return sorted(a.pk for a in accounts)


def restore_rolled_back_accounts(deltas: RollupDeltas | None, *, by: User, batch: ImportBatch) -> int:
    """Accounts that a rollback archived come back when an import brings lines for them again (``deltas``: the
    import's rollup deltas)."""
    if deltas is None or not deltas.monthly.height:
        return 0
    archived = set(Account.objects.filter(archived_at__isnull=False).values_list("pk", flat=True))  # usually a few, or none
    candidates = archived.intersection(deltas.monthly["account_id"].to_list())
    if not candidates:
        return 0
    undone = set()
    for report in ImportBatch.objects.filter(status__in=(BatchStatus.ROLLED_BACK, BatchStatus.BROKEN_OFF)).values_list("report", flat=True):
        undone.update((report or {}).get("archived_accounts") or [])
    accounts = list(Account.objects.filter(pk__in=sorted(candidates & undone)))
    for account in accounts:
        account.archived_at = None
    bulk_update_with_history(accounts, Account, ["archived_at"], batch_size=1000, default_user=by,
                             default_change_reason=f"Restored: import batch {batch.pk} brings its revenue again")
    return len(accounts)


def _restore(model, pk: int, fields: tuple[str, ...], before: list, after: list) -> None:
    """Put back the values a rolled-back import replaced, unless a later change replaced them in turn."""
    model.objects.filter(pk=pk, **dict(zip(fields, after))).update(**dict(zip(fields, before)))
