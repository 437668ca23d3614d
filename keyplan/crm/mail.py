"""E-mails from ``.eml`` files and ``.mbox`` archives as interactions, read with the standard library.

From, To and Cc are matched by e-mail address to stakeholders and to users, as for calendars. A thread (the
messages that answer one another: References and In-Reply-To, else the same subject without Re:/Fwd:) is
logged once, as one e-mail interaction on its first message's date, with the subject as its summary; the
replies are counted, not logged. The message text is not stored unless asked for (privacy): then the first
message's text, up to 4,000 characters, follows the subject. A thread with none of the customer's people is
skipped and counted. The thread's first message id is kept, so importing the same mailbox again (or a later
export with more replies) logs nothing twice. A file that is not a mailbox writes nothing.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import email.utils
import mailbox
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from keyplan.core.models import User
from keyplan.crm.documents import DocumentKind, DocumentResult, close_batch, open_batch, people, refused
from keyplan.crm.models import MailThread
from keyplan.relationships.models import Interaction, InteractionKind
from keyplan.revenue.importing.inspection import can_import
from keyplan.revenue.models import ImportBatch
from keyplan.revenue.reading import ReadError

MAX_HEADER_CHARS = 32_768  # about 1,500 addresses in a To or Cc header
MAX_BYTES = 500 * 1024 * 1024
BODY_CHARS = 4000
PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|antw|r|rif|i)\s*(\[\d+\])?\s*:\s*)+", re.I)


@dataclass
class MailResult(DocumentResult):
    messages: int = 0
    threads: int = 0
    created: int = 0
    unchanged: int = 0
    replies: int = 0
    skipped_no_customer: int = 0
    unit = "message"

    def counts(self) -> dict:
        return {"messages": self.messages, "threads": self.threads, "created": self.created, "unchanged": self.unchanged,
                "replies": self.replies, "skipped_no_customer": self.skipped_no_customer}


def read_messages(path: Path) -> list[email.message.EmailMessage]:
    """The messages of an .eml file or an mbox archive. Raises ReadError for anything else."""
    if path.stat().st_size > MAX_BYTES:
        raise ReadError(f"{path.name} is {path.stat().st_size / 1048576:.0f} MB; a mail import takes at most "
                        f"{MAX_BYTES // 1048576} MB.")
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"From "):
        box = mailbox.mbox(path, factory=lambda f: email.message_from_binary_file(f, policy=email.policy.default), create=False)
        try:
            messages = list(box)
        finally:
            box.close()
    else:
        with open(path, "rb") as handle:
            messages = [email.message_from_binary_file(handle, policy=email.policy.default)]
    for number, message in enumerate(messages, 1):
        # Read before any header is parsed: the e-mail package takes minutes over a header of a few hundred
        # thousand characters (seen with a 26 MB mailbox of one-line headers).
        for name, value in message.raw_items():
            if len(value) > MAX_HEADER_CHARS:
                raise ReadError(f"Message {number} of {path.name} has a {name} header of {len(value):,} characters; a mail "
                                f"import reads headers of up to {MAX_HEADER_CHARS:,}. Nothing was imported.")
    if not messages or not any(m.get("From") for m in messages):
        raise ReadError(f"{path.name} is neither an e-mail (.eml) nor a mailbox (.mbox): no message with a From header.")
    return messages


def _addresses(message, *names) -> set[str]:
    values = [str(v) for name in names for v in (message.get_all(name) or [])]
    return {address.casefold() for _, address in email.utils.getaddresses(values) if "@" in address}


def _thread_key(message, by_id: dict[str, str], by_subject: dict[str, str]) -> str:
    """The thread a message belongs to, as far as the file shows: the first message it answers (References,
    In-Reply-To), else an earlier message of the same subject when it is a reply (Re:, Fwd: …), else itself."""
    references = re.findall(r"<[^>]+>", f"{message.get('References', '')} {message.get('In-Reply-To', '')}")
    for reference in references:
        if reference in by_id:
            return by_id[reference]
    if references:
        return references[0]
    raw = " ".join(str(message.get("Subject") or "").split())
    subject = PREFIX.sub("", raw).casefold()
    if PREFIX.match(raw) and subject in by_subject:
        return by_subject[subject]
    return (message.get("Message-ID") or "").strip() or f"subject:{subject}"


def _text(message) -> str:
    try:
        part = message.get_body(preferencelist=("plain",))
        return " ".join((part.get_content() if part else "").split())[:BODY_CHARS]
    except (KeyError, LookupError, ValueError):
        return ""


def import_mail(path: str | Path, *, by: User, dry_run: bool = False, with_body: bool = False,
                batch: ImportBatch | None = None) -> MailResult:
    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins import e-mail.")
    path = Path(path)
    messages = read_messages(path)
    result = MailResult(messages=len(messages), dry_run=dry_run)
    dated = []
    for number, message in enumerate(messages, start=1):
        try:
            sent = email.utils.parsedate_to_datetime(str(message.get("Date")))
        except (TypeError, ValueError):
            sent = None
        if sent is None:
            result.errors.append(refused(number, "Date", str(message.get("Subject") or ""), "crm_message_no_date"))
            continue
        dated.append((sent if sent.tzinfo else sent.replace(tzinfo=datetime.UTC), message))
    if result.errors:
        if not dry_run:
            close_batch(batch, result, total=result.messages, imported=0, duplicate=0)
        return result
    dated.sort(key=lambda pair: pair[0])
    threads: dict[str, list] = {}
    by_id: dict[str, str] = {}
    by_subject: dict[str, str] = {}
    for sent, message in dated:
        key = _thread_key(message, by_id, by_subject)
        own = (message.get("Message-ID") or "").strip()
        if own:
            by_id[own] = key
        by_subject.setdefault(PREFIX.sub("", " ".join(str(message.get("Subject") or "").split())).casefold(), key)
        threads.setdefault(key, []).append((sent, message))
    result.threads = len(threads)
    addresses = set().union(*(_addresses(m, "From", "To", "Cc") for _, m in dated))
    who = people(addresses)
    known = set(MailThread.objects.filter(thread_id__in=[k[:255] for k in threads]).values_list("thread_id", flat=True))
    default_zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    planned = []
    for key, items in threads.items():
        emails = set().union(*(_addresses(m, "From", "To", "Cc") for _, m in items))
        found = who.found(emails)
        if not found:
            result.skipped_no_customer += 1
            continue
        result.replies += len(items) - 1
        if key[:255] in known:
            result.unchanged += 1
            continue
        account = who.account(found)
        sent, first = items[0]
        local = sent.astimezone(zoneinfo.ZoneInfo(account.time_zone) if account.time_zone else default_zone)
        subject = " ".join(str(first.get("Subject") or "").split()) or "(no subject)"
        summary = f"{subject}\n\n{_text(first)}".strip() if with_body else subject
        planned.append(dict(key=key[:255], account=account, date=local.date(), time=local.time().replace(second=0, microsecond=0),
                            summary=summary, stakeholders=sorted({p.pk for p in found if p.account_id == account.pk}),
                            users=who.ours(account, emails)))
    result.created = len(planned)
    if dry_run:
        return result
    with transaction.atomic():
        batch = open_batch("mail", path, by, batch, {"with_body": with_body})
        created = []
        for plan in planned:
            interaction = Interaction(account=plan["account"], kind=InteractionKind.EMAIL, date=plan["date"], time=plan["time"],
                                      duration_minutes=15, summary=plan["summary"], created_by=by)
            interaction._history_user = by
            interaction.save()
            interaction.stakeholders.set(plan["stakeholders"])
            interaction.users.set(plan["users"])
            MailThread.objects.create(thread_id=plan["key"], interaction=interaction, batch=batch)
            created.append(interaction.pk)
        close_batch(batch, result, total=result.messages, imported=result.created, duplicate=result.unchanged,
                    undo={"created_interactions": created})
    return result


def undo_mail_batch(batch: ImportBatch) -> None:
    """A rolled-back mail import: the e-mail interactions it logged leave the log."""
    by = batch.rolled_back_by
    for interaction in Interaction.objects.filter(pk__in=((batch.report or {}).get("undo") or {}).get("created_interactions", [])):
        interaction._history_user = by
        interaction.delete()


def _flags():
    from django.utils.translation import gettext_lazy as _

    return {"with_body": _("Keep the text of each thread's first message with its subject")}


MAIL = DocumentKind(import_mail, (".eml", ".mbox"), _flags())
