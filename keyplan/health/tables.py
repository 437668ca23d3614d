"""The health lists' columns, declared once: their CSV downloads and live feeds (keyplan.core.exports.Table)."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keyplan.core.exports import Column, Table


def _reason(case) -> str:
    from keyplan.health.services import rule_labels

    return "; ".join(rule_labels(case.rules)) or case.reason


RISK_QUEUE = Table("risk-queue", (
    Column(_("Account"), lambda c: c.account.name),
    Column(_("External id"), lambda c: c.account.external_id),
    Column(_("MRR at risk"), lambda c: c.mrr_at_risk),
    Column(_("In the queue since"), lambda c: c.opened_on),
    Column(_("Days in the queue"), lambda c: (timezone.localdate() - c.opened_on).days),
    Column(_("Owner"), lambda c: str(c.owner) if c.owner else ""),
    Column(_("Reason"), _reason),
))

REVIEWS_DUE = Table("account-reviews", (
    Column(_("Account"), lambda d: d.account.name),
    Column(_("External id"), lambda d: d.account.external_id),
    Column(_("Key account manager"), lambda d: d.kam),
    Column(_("Cadence"), lambda d: d.cadence),
    Column(_("Last review"), lambda d: d.last_held),
    Column(_("Due"), lambda d: d.due),
    Column(_("Overdue"), lambda d: d.overdue),
))


def _notification_text(n) -> str:
    from keyplan.health.services import notification_text

    return notification_text(n)


NOTIFICATIONS = Table("notifications", (
    Column(_("Date"), lambda n: n.created_at),
    Column(_("Account"), lambda n: n.account.name),
    Column(_("External id"), lambda n: n.account.external_id),
    Column(_("Kind"), lambda n: n.get_kind_display()),
    Column(_("Notification"), _notification_text),
    Column(_("Read"), lambda n: n.read_at is not None),
))

HEALTH = Table("health", (
    Column(_("Account"), lambda s: s.account.name),
    Column(_("External id"), lambda s: s.account.external_id),
    Column(_("Key status"), lambda s: s.account.get_tier_display()),
    Column(_("Day"), lambda s: s.day),
    Column(_("Health score"), lambda s: s.score),
    Column(_("Band"), lambda s: s.get_band_display()),
    Column(_("MRR"), lambda s: s.mrr),
    Column(_("Plan"), lambda s: s.plan),
    Column(_("Endangered"), lambda s: "; ".join(_rule_labels(s.endangered))),
))


def _rule_labels(rules) -> list[str]:
    from keyplan.health.services import rule_labels

    return [str(label) for label in rule_labels(rules or [])]
