"""``keyplan import accounts|stakeholders FILE``: the CRM imports on the command line."""

import json
import sys

from keyplan.core.wording import counted


def import_crm(args, user, mapping: dict[str, str]) -> int:
    """Exit 0 written (or a clean dry run), 1 rows refused, 2 the file or the person cannot import."""
    from django.core.exceptions import PermissionDenied

    from keyplan.crm.importing import ReadError, SmallImportOptions, import_accounts, import_stakeholders
    from keyplan.crm.interactions import import_interactions

    function = {"accounts": import_accounts, "stakeholders": import_stakeholders, "interactions": import_interactions}[args.kind]
    options = SmallImportOptions(mapping=mapping, date_format=args.date_format, decimal=args.decimal,
                                 delimiter=args.delimiter, sheet=args.sheet, dry_run=args.dry_run, preset=args.preset)
    try:
        if args.kind == "interactions" and args.preset:
            raise ReadError("Activities have no presets; map their columns with --map.")
        result = function(args.file, by=user, options=options, system=args.source)
    except (ReadError, PermissionDenied) as error:
        print(f"keyplan: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False, default=str))
        return 0 if not result.error_count else 1
    for error in result.errors[:50]:
        print(f"  {error}", file=sys.stderr)
    if result.error_count > 50:
        print(f"  … and {result.error_count - 50} more (use --json for the first 1,000)", file=sys.stderr)
    if result.error_count:
        print(f"Nothing was written: {counted(result.error_count, 'problem')} in {result.rows_rejected} of {counted(result.rows_total, 'row')}; "
              "fix them and import the file again.", file=sys.stderr)
        return 1
    what = "would be " if result.dry_run else ""  # "1 row would be created" / "1 row created"
    singular = {"accounts": "account", "stakeholders": "stakeholder"}.get(args.kind, args.kind)
    batch = f"Batch {result.batch.pk}: " if result.batch else ""
    if result.preset:
        print(f"Read as a {result.preset} export.")
    if args.kind == "interactions":
        print(f"{batch}{counted(result.rows_total, 'row')} read: {counted(result.created, 'interaction')} {what}logged, {result.unchanged} "
              "already in the log." + (" Dry run: nothing was written." if result.dry_run else ""))
        return 0
    print(f"{batch}{counted(result.rows_total, 'row')} read from {result.system}: {counted(result.created, singular)} {what}created, "
          f"{result.updated} updated, {result.unchanged} unchanged." + (" Dry run: nothing was written." if result.dry_run else ""))
    return 0


def import_calendar(args, user) -> int:
    """``keyplan import calendar FILE.ics``."""
    from keyplan.crm.calendar import import_calendar as run

    return _run_document(args, lambda: run(args.file, by=user, dry_run=args.dry_run), lambda r, what: (
        f"{counted(r.events, 'event')} read: {counted(r.created, 'meeting')} {what}logged, {r.updated} updated, {r.unchanged} unchanged; "
        f"skipped {r.skipped_no_customer} with none of the customer's people and {r.skipped_cancelled} cancelled."))


def import_mail(args, user) -> int:
    """``keyplan import mail FILE`` (.eml or .mbox)."""
    from keyplan.crm.mail import import_mail as run

    return _run_document(args, lambda: run(args.file, by=user, dry_run=args.dry_run, with_body=args.with_body), lambda r, what: (
        f"{counted(r.messages, 'message')} in {counted(r.threads, 'thread')}: {counted(r.created, 'e-mail')} {what}logged, {r.unchanged} already logged, "
        f"{counted(r.replies, 'reply', 'replies')} counted with their thread; skipped {counted(r.skipped_no_customer, 'thread')} with none of the "
        "customer's people."))


def _run_document(args, run, describe) -> int:
    """A calendar or mail import: exit 0 written (or a clean dry run), 1 events or messages refused, 2 unreadable."""
    from django.core.exceptions import PermissionDenied

    from keyplan.revenue.reading import ReadError

    try:
        result = run()
    except (ReadError, PermissionDenied, OSError) as error:
        print(f"keyplan: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False, default=str))
        return 0 if result.ok else 1
    for error in result.errors[:50]:
        print(f"  {result.unit} {error.line} ({error.value or ''}): {error.reason}", file=sys.stderr)
    if not result.ok:
        total = result.as_dict()[f"{result.unit}s"]
        print(f"Nothing was written: {counted(result.error_count, result.unit)} of {total} cannot be read.", file=sys.stderr)
        return 1
    what = "would be " if result.dry_run else ""  # "1 meeting would be logged" / "1 meeting logged"
    batch = f"Batch {result.batch.pk}: " if result.batch else ""
    print(batch + describe(result, what) + (" Dry run: nothing was written." if result.dry_run else ""))
    return 0
