"""What the calendar (.ics) and mail (.eml, .mbox) imports share: their result, who is who by e-mail address,
and the batch they write into (made here for the command line, beforehand by the web upload and the API).

Their files are not tables: an event or a message takes the place of a row, and a refused one is reported
as a row is (its number as the line, the header at fault as the column, its subject as the value).
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db.models import Q
from django.utils.translation import gettext_noop

from keyplan.accounts.models import Account, TeamMember
from keyplan.core.models import Role, User
from keyplan.relationships.models import Stakeholder
from keyplan.revenue.importing import inspection
from keyplan.revenue.importing.batch import _file_sha256
from keyplan.revenue.importing.inspection import MAX_REPORTED_ERRORS, RowError
from keyplan.revenue.models import BatchStatus, ImportBatch

REASONS = {
    "crm_event_no_uid": gettext_noop("the event has no UID"),
    "crm_event_no_start": gettext_noop("the event has no start (DTSTART)"),
    "crm_message_no_date": gettext_noop("the message has no readable Date header"),
}
inspection.REASONS.update(REASONS)


@dataclass
class DocumentResult:
    """Counts are the subclass's; ``counts()`` lists them for ``as_dict`` (the --json output and the batch report)."""

    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    batch: ImportBatch | None = None
    unit = "item"  # what takes the place of a row: "event", "message"

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error_count(self) -> int:
        return len(self.errors)

    def counts(self) -> dict:
        raise NotImplementedError

    def as_dict(self) -> dict:
        return {"status": "rejected" if self.errors else "dry_run" if self.dry_run else "done",
                "batch": self.batch.pk if self.batch else None, **self.counts(), "error_count": len(self.errors),
                "errors": [e.__dict__ for e in self.errors[:MAX_REPORTED_ERRORS]]}


def refused(number: int, header: str, subject: str, code: str) -> RowError:
    return RowError.of(number, header, subject[:100] or None, code)


@dataclass
class People:
    """The customer's people and our users, by e-mail address (case aside), for the addresses of one file."""

    stakeholders: dict[str, list[Stakeholder]]
    users: dict[str, User]
    everyone: set[int]  # users who may be on any account's interactions (KAM leads, admins)
    teams: dict[int, set[int]]

    def found(self, addresses: Iterable[str]) -> list[Stakeholder]:
        return [p for address in addresses for p in self.stakeholders.get(address, [])]

    @staticmethod
    def account(found: list[Stakeholder]) -> Account:
        """The account with the most of these people (by name where two have as many)."""
        counts = Counter(p.account_id for p in found)
        return min((p.account for p in found if counts[p.account_id] == max(counts.values())), key=lambda a: a.name)

    def ours(self, account: Account, addresses: Iterable[str]) -> list[int]:
        allowed = self.everyone | self.teams.get(account.pk, set())
        return sorted({self.users[a].pk for a in addresses if a in self.users and self.users[a].pk in allowed})


def people(addresses: set[str]) -> People:
    found: dict[str, list[Stakeholder]] = {}
    for person in Stakeholder.objects.filter(archived_at__isnull=True).exclude(email="").select_related("account"):
        if person.email.casefold() in addresses and person.account.archived_at is None:
            found.setdefault(person.email.casefold(), []).append(person)
    users = {u.email.casefold(): u for u in User.objects.filter(is_active=True).exclude(email="").order_by("-pk")}
    everyone = set(User.objects.filter(Q(role__in=[Role.KAM_LEAD, Role.ADMIN]) | Q(is_superuser=True)).values_list("pk", flat=True))
    teams: dict[int, set[int]] = {}
    for account_id, user_id in TeamMember.objects.values_list("account_id", "user_id"):
        teams.setdefault(account_id, set()).add(user_id)
    return People(found, users, everyone, teams)


def open_batch(kind: str, path: Path, by: User, batch: ImportBatch | None, options: dict) -> ImportBatch:
    """The batch to write into: the one the upload made (its page follows it), else a new one."""
    if batch is not None:
        batch.kind, batch.status, batch.options = kind, BatchStatus.IMPORTING, {**(batch.options or {}), **options}
        batch.save(update_fields=["kind", "status", "options"])
        return batch
    return ImportBatch.objects.create(kind=kind, file_name=path.name[:255], file_sha256=_file_sha256(path), created_by=by,
                                      status=BatchStatus.IMPORTING, options=options)


def close_batch(batch: ImportBatch | None, result: DocumentResult, *, total: int, imported: int, duplicate: int,
                undo: dict | None = None) -> None:
    """Done (with what a rollback needs), or refused with the report of each bad event or message."""
    if batch is None:
        return
    batch.status = BatchStatus.REJECTED if result.errors else BatchStatus.DONE
    batch.finished_at, batch.progress = datetime.datetime.now(datetime.UTC), 100
    batch.rows_total, batch.rows_imported, batch.rows_duplicate = total, imported, duplicate
    batch.rows_rejected = len({e.line for e in result.errors})
    batch.report = {**result.as_dict(), **({"undo": undo} if undo is not None else {})}
    batch.save()
    result.batch = batch


class DocumentKind:
    """A calendar or mail import as the upload, the preview and the background task run it (see
    keyplan.revenue.importing.undo.register_importer): ``function(path, *, by, dry_run, batch, **flags)``."""

    def __init__(self, function, extensions: tuple[str, ...], flags: dict | None = None):
        self.function, self.extensions, self.flags = function, extensions, flags or {}

    @property
    def spec(self):
        from keyplan.revenue.uploads import KindSpec

        return KindSpec((), (), (), (), {}, extensions=self.extensions, flags=self.flags, summarize=self.summarize)

    def summarize(self, path, *, by, **flags) -> DocumentResult:
        return self.function(path, by=by, dry_run=True, **flags)

    def run(self, path, *, by, options, batch, **flags) -> DocumentResult:
        return self.function(path, by=by, dry_run=options.dry_run, batch=batch, **flags)
