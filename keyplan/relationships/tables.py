"""The relationship lists' columns, declared once: their CSV downloads and live feeds (keyplan.core.exports.Table)."""

from django.utils.translation import gettext_lazy as _

from keyplan.core.exports import Column, Table

STAKEHOLDERS = Table("stakeholders", (
    Column(_("Name"), lambda s: s.name),
    Column(_("Title"), lambda s: s.title),
    Column(_("Department"), lambda s: s.department),
    Column(_("External organisation"), lambda s: s.external_organisation),
    Column(_("Reports to"), lambda s: s.reports_to.name if s.reports_to_id else ""),
    Column(_("Role"), lambda s: s.get_buying_role_display() if s.buying_role else ""),
    Column(_("Decision power"), lambda s: s.get_decision_power_display()),
    Column(_("Sentiment"), lambda s: s.get_sentiment_display()),
    Column(_("Contact"), lambda s: getattr(s, "contact", s.contact_strength)),
    Column(_("Key contact point"), lambda s: s.is_key_contact),
    Column(_("Owner"), lambda s: str(s.owner) if s.owner_id else ""),
    Column(_("Last contact"), lambda s: getattr(s, "last_contact", None)),
    Column(_("Email"), lambda s: s.email),
    Column(_("Phone"), lambda s: s.phone),
))

INTERACTIONS = Table("interactions", (
    Column(_("Date"), lambda i: i.date),
    Column(_("Kind"), lambda i: i.get_kind_display()),
    Column(_("Summary"), lambda i: i.summary),
    Column(_("Stakeholders"), lambda i: ", ".join(s.name for s in i.stakeholders.all())),
    Column(_("Team members"), lambda i: ", ".join(str(u) for u in i.users.all())),
    Column(_("Next step"), lambda i: i.next_step),
    Column(_("Next step owner"), lambda i: str(i.next_step_owner) if i.next_step_owner_id else ""),
    Column(_("Next step due"), lambda i: i.next_step_due),
    Column(_("Next step done"), lambda i: i.next_step_done if i.next_step else None),
))

STALE = Table("stale-relationships", (
    Column(_("Account"), lambda a: a.account.name),
    Column(_("External id"), lambda a: a.account.external_id),
    Column(_("Stakeholder"), lambda a: a.person.name),
    Column(_("Title"), lambda a: a.person.title),
    Column(_("Owner"), lambda a: a.person.owner),
    Column(_("Last contact"), lambda a: a.person.last_contact),
    Column(_("Days since contact"), lambda a: a.stale.days_since),
))


def _reasons(target) -> str:
    from keyplan.relationships.templatetags.relationship_tags import reason_text

    return "; ".join(reason_text(reason) for reason in target.reasons)


def _label(kind: str, value: str) -> str:
    from keyplan.relationships.templatetags.relationship_tags import label

    return label(value, kind)


# Rows: (account, target) pairs, one per stakeholder to win (keyplan.relationships.analysis.who_to_win).
WHO_TO_WIN = Table("who-to-win", (
    Column(_("Account"), lambda row: row[0].name),
    Column(_("External id"), lambda row: row[0].external_id),
    Column(_("Rank"), lambda row: row[1].rank),
    Column(_("Stakeholder"), lambda row: row[1].person.name),
    Column(_("Title"), lambda row: row[1].person.title),
    Column(_("Decision power"), lambda row: _label("power", row[1].person.power)),
    Column(_("Sentiment"), lambda row: _label("sentiment", row[1].person.sentiment)),
    Column(_("Contact"), lambda row: _label("contact", row[1].person.contact)),
    Column(_("Urgent"), lambda row: row[1].urgent),
    Column(_("Why"), lambda row: _reasons(row[1])),
    Column(_("Best path"), lambda row: " → ".join(p.name for p in row[1].best_path.people) if row[1].best_path else ""),
    Column(_("Path owner"), lambda row: row[1].path_owner),
))
