"""The account list's columns, declared once: its CSV download and its live feed (keyplan.core.exports.Table)."""

from django.utils.translation import gettext_lazy as _

from keyplan.accounts.models import Industry, Lifecycle, Tier
from keyplan.core.exports import Column, Table, label

ACCOUNTS = Table("accounts", (
    Column(_("Name"), lambda a: a.name),
    Column(_("External id"), lambda a: a.external_id),
    Column(_("Key status"), lambda a: label(Tier, a.tier)),
    Column(_("Industry"), lambda a: label(Industry, a.industry)),
    Column(_("Country"), lambda a: a.country.code if a.country else ""),
    Column(_("City"), lambda a: a.city),
    Column(_("Lifecycle"), lambda a: label(Lifecycle, a.lifecycle)),
    Column(_("KAM"), lambda a: ", ".join(str(m.user) for m in a.kams)),
    Column(_("Parent account"), lambda a: a.parent.external_id if a.parent_id else ""),
    Column(_("Employees"), lambda a: a.employees),
    Column(_("Archived"), lambda a: a.archived_at),
    Column(_("Updated"), lambda a: a.updated_at),
))


# Rows: keyplan.accounts.services.KamLoad, one per key account manager (the workload page).
WORKLOAD = Table("workload", (
    Column(_("Key account manager"), lambda load: str(load.kam)),
    Column(_("Key accounts"), lambda load: len(load.key_accounts)),
    Column(_("Capacity"), lambda load: load.capacity),
    Column(_("Over capacity"), lambda load: load.over_capacity),
    Column(_("Accounts as KAM"), lambda load: load.accounts_total),
    Column(_("Their key accounts"), lambda load: "; ".join(account.name for account in load.key_accounts)),
))
