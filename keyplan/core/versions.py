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
