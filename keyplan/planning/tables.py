"""The plans list's columns, declared once: its CSV download and live feed (keyplan.core.exports.Table)."""

from django.utils.translation import gettext_lazy as _

from keyplan.core.exports import Column, Table

PLANS = Table("account-plans", (
    Column(_("Account"), lambda r: r.account.name),
    Column(_("External id"), lambda r: r.account.external_id),
    Column(_("Key account manager"), lambda r: r.kam),
    Column(_("Plan"), lambda r: r.plan.period if r.plan else ""),
    Column(_("State"), lambda r: r.plan.get_state_display() if r.plan else ""),
    Column(_("Living"), lambda r: r.living),
    Column(_("Quality"), lambda r: r.quality.score if r.quality else None),
    Column(_("Last reviewed"), lambda r: r.plan.reviewed_at if r.plan else None),
    Column(_("Overdue actions"), lambda r: r.overdue),
))
