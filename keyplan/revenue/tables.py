"""The revenue lists' columns, declared once: their CSV downloads and live feeds (keyplan.core.exports.Table)."""

from django.utils.translation import gettext_lazy as _

from keyplan.core.exports import Column, Table, label
from keyplan.revenue.models import BatchStatus, ImportKind

IMPORTS = Table("imports", (
    Column(_("Batch"), lambda b: b.pk),
    Column(_("Kind"), lambda b: label(ImportKind, b.kind)),
    Column(_("File"), lambda b: b.file_name),
    Column(_("Status"), lambda b: label(BatchStatus, b.status)),
    Column(_("Started"), lambda b: b.created_at),
    Column(_("Finished"), lambda b: b.finished_at),
    Column(_("Started by"), lambda b: str(b.created_by) if b.created_by_id else ""),
    Column(_("Rows"), lambda b: b.rows_total),
    Column(_("Imported"), lambda b: b.rows_imported),
    Column(_("Duplicates"), lambda b: b.rows_duplicate),
    Column(_("Rejected"), lambda b: b.rows_rejected),
    Column(_("Accounts created"), lambda b: b.accounts_created),
    Column(_("Rolled back"), lambda b: b.rolled_back_at),
))
