"""Optimistic concurrency for editable rows: an integer ``version`` that every saved change raises.

A writer sends the version it read (an API ``version`` field or ``If-Match`` header, a hidden form field);
if someone saved the row since, nothing is written and ``Conflict`` carries the row as stored now, so the
API answers 409 with it and a page shows both. Without a version the last write wins, as before.
"""

from django.utils.translation import gettext as _


class Conflict(Exception):
    """Someone saved the row since the writer read it: nothing was written; ``current`` is the row as stored."""

    def __init__(self, current):
        super().__init__(_("Someone saved this since you read it: version %(version)s is current. Nothing was written.")
                         % {"version": current.version})
        self.current = current


def check_version(row, version: int | None) -> None:
    """Refuse a write based on an older read of ``row`` (locked by the caller, so the check holds)."""
    if version is not None and version != row.version:
        raise Conflict(row)


def bump(row) -> None:
    row.version = (row.version or 0) + 1


def version_from(request, version: int | None) -> int | None:
    """The version a client read: the body's ``version``, else an ``If-Match: "N"`` header."""
    if version is not None:
        return version
    header = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    return int(header) if header.isdigit() else None


# ---------------------------------------------------------------- pages: the form carries the version; a conflict shows both


def version_field():
    """The hidden form field carrying the version an edit form was read at (0: a row read before it existed)."""
    from django import forms

    return forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)


def carry_version(form, row) -> None:
    """Give an edit form the hidden ``version`` field, read with ``row`` (nothing to carry for a new row)."""
    form.fields["version"] = version_field()
    if row is not None and row.pk is not None:
        form.fields["version"].initial = row.version


def take_version(form) -> int | None:
    """The version the form was read at, taken out of its cleaned data (which then holds only the changes)."""
    return form.cleaned_data.pop("version", None)


def posted_version(request) -> int | None:
    """The version a page's remove (or other one-button) form was read at: its hidden ``version`` field."""
    value = request.POST.get("version", "").strip()
    return int(value) if value.isdigit() else None


def shown(value) -> str:
    """A value as the conflict table shows it, so that equal values compare equal."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value)
    if hasattr(value, "all"):
        return ", ".join(str(v) for v in value.all()) or "—"
    # A browser sends a textarea's lines with \r\n: the same text saved with \n is no difference.
    return "\n".join(line.rstrip() for line in str(value).replace("\r\n", "\n").strip().split("\n"))


def conflict_context(form, current, fields: dict) -> dict:
    """What a page shows on a Conflict (template core/_conflict.html): each field that differs, the user's
    value against the one saved. The form keeps what the user typed and now carries the current version,
    so that saving again means "keep mine" knowingly."""
    cleaned = getattr(form, "cleaned_data", None) or {}
    rows = []
    for name, saved in fields.items():
        mine = cleaned.get(name)
        if shown(mine) != shown(saved):
            rows.append({"label": form.fields[name].label if name in form.fields else name,
                         "mine": shown(mine), "saved": shown(saved)})
    data = form.data.copy()
    data["version"] = current.version
    form.data = data
    return {"rows": rows, "version": current.version}
