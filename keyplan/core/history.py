"""Change logs from django-simple-history records: who changed which field, from what to what.

Every area shows its history the same way (``web/history.html``); this turns
one object's historical records into entries with field-level differences.
"""

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext as _


@dataclass
class Change:
    field: str
    old: str
    new: str


@dataclass
class LogEntry:
    when: datetime.datetime
    who: str
    subject: str
    action: str  # a code, "created", "changed" or "removed": the API serves it, pages turn it into a sentence
    changes: list[Change] = field(default_factory=list)


ACTIONS = {"+": "created", "~": "changed", "-": "removed"}


def display(record, name: str) -> str:
    """A field of a historical record as a person reads it."""
    model_field = record.instance_type._meta.get_field(name)
    if model_field.is_relation:
        try:
            related = getattr(record, name)
        except ObjectDoesNotExist:  # history outlives what it pointed to
            return "—"
        return str(related) if related is not None else "—"
    value = getattr(record, name)
    if value in (None, ""):
        return "—"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def _raw(record, name: str):
    # Compare foreign keys by id, without fetching the related rows.
    return getattr(record, record.instance_type._meta.get_field(name).attname)


def entries(records, tracked: Sequence[str], subject: Callable[[object], str],
            hidden: Callable[[str, object], bool] | None = None) -> list[LogEntry]:
    """One object's historical records (oldest first) as log entries; saves that changed no tracked field are left out.

    ``hidden(name, raw_value)`` says which values the reader may not see (an account outside their reach):
    those are shown as such, never by name."""

    def shown(record, name: str) -> str:
        if hidden is not None and hidden(name, _raw(record, name)):
            return _("(not visible to you)")
        return display(record, name)

    result, previous = [], None
    for record in records:
        changes = []
        if record.history_type == "~" and previous is not None:
            for name in tracked:
                if _raw(previous, name) != _raw(record, name):
                    verbose = str(record.instance_type._meta.get_field(name).verbose_name)
                    changes.append(Change(verbose, shown(previous, name), shown(record, name)))
            if not changes:
                previous = record
                continue
        who = str(record.history_user) if record.history_user else _("system")
        result.append(LogEntry(record.history_date, who, subject(record), ACTIONS[record.history_type], changes))
        previous = record
    return result


def grouped(history) -> list[list]:
    """Historical records of many objects, one list per object, each oldest first."""
    groups: dict[int, list] = {}
    for record in history.order_by("history_date", "history_id"):
        groups.setdefault(record.id, []).append(record)
    return list(groups.values())
