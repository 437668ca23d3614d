"""``keyplan export workbook OUT.xlsx`` and ``keyplan export deck ACCOUNT OUT.pptx``: reports from the shell.

Thin adapters over `keyplan.reports.workbook.build()` and `keyplan.reports.deck.build()`, the same
builders as the download buttons and ``GET /api/v1/exports/…``; ``keyplan/cli.py`` registers them. Only
the standard library is imported here, so that ``keyplan --help`` stays quick.
Exit codes: 0 written, 1 the deck template cannot be used, 2 usage error (bad date, unknown user or
account, a folder that does not exist).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from keyplan.core import arguments

LANGUAGES = ("en", "nl", "de", "it", "zh-hans", "fa")  # settings.LANGUAGES, without Django


def _fail(message: str) -> int:
    print(f"keyplan: error: {message}", file=sys.stderr)
    return 2


def cmd_export_workbook(args) -> int:
    from keyplan.core.models import User
    from keyplan.reports.workbook import build
    from keyplan.revenue import portfolio

    if args.date_from and args.date_to and args.date_to < args.date_from:
        return _fail(f"--to ({args.date_to}) is before --from ({args.date_from})")
    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        return _fail(f"OUT: {args.out!r} must end in .xlsx")
    if not out.parent.is_dir():
        return _fail(f"OUT: the folder {str(out.parent)!r} does not exist")
    if out.is_dir():
        return _fail(f"OUT: {args.out!r} is a folder")
    user = None  # the operator at the shell: the whole portfolio
    if args.as_user:
        user = User.objects.filter(is_active=True, username=args.as_user).first()
        if user is None:
            return _fail(f"--as: no active user is named {args.as_user!r}")
    scope = portfolio.Scope(user, industry=args.industry or "", country=(args.country or "").upper(),
                            tier=args.tier or "", kam=args.kam)
    options = portfolio.Options(start=args.date_from, end=args.date_to)
    try:
        options.period()
    except ValueError as error:  # --from alone after the ledger's end and today, for one
        return _fail(str(error))
    # Written beside OUT and renamed at the end: a failed run leaves no half-written workbook behind.
    handle, partial = tempfile.mkstemp(prefix=".keyplan-", suffix=".xlsx", dir=out.parent)
    os.close(handle)
    from keyplan.cli import ProgressBar

    # A progress line on standard error while it builds (on a terminal, without --json); the result on standard output.
    bar = ProgressBar(not args.json and sys.stderr.isatty())
    try:
        built = build(scope, options, partial, progress=lambda share, step: bar(share, step.replace("_", " ")))
        os.replace(partial, out)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    if args.json:
        print(json.dumps({"path": str(out), **built.as_dict()}, ensure_ascii=False))
    else:
        print(f"Wrote {out}: {len(built.sheets)} sheets ({', '.join(built.sheets)}), {built.accounts:,} accounts, "
              f"{built.period.start} – {built.period.end}, amounts in {built.currency}.")
    return 0


def _output(path: str, suffix: str) -> tuple[Path | None, str | None]:
    out = Path(path)
    if out.suffix.lower() != suffix:
        return None, f"OUT: {path!r} must end in {suffix}"
    if not out.parent.is_dir():
        return None, f"OUT: the folder {str(out.parent)!r} does not exist"
    if out.is_dir():
        return None, f"OUT: {path!r} is a folder"
    return out, None


def _write(out: Path, suffix: str, write) -> Any:
    """``write(partial)`` into a file beside OUT, renamed at the end: a failed run leaves nothing half-written."""
    handle, partial = tempfile.mkstemp(prefix=".keyplan-", suffix=suffix, dir=out.parent)
    os.close(handle)
    try:
        result = write(partial)
        os.replace(partial, out)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return result


def cmd_export_deck(args) -> int:
    from django.utils import translation

    from keyplan.core.models import User
    from keyplan.reports import deck, deck_data
    from keyplan.reports.deck_template import TemplateError

    out, problem = _output(args.out, ".pptx")
    if problem:
        return _fail(problem)
    user = None  # the operator at the shell: any account
    if args.as_user:
        user = User.objects.filter(is_active=True, username=args.as_user).first()
        if user is None:
            return _fail(f"--as: no active user is named {args.as_user!r}")
    account = deck_data.visible_account(user, args.account)
    if account is None:
        whose = f" that {args.as_user} may see" if user else ""
        return _fail(f"ACCOUNT: no account{whose} has the external id {args.account!r}")
    with translation.override(args.language):
        data = deck_data.gather(account, user=user, today=args.date)
        try:
            built = _write(out, ".pptx", lambda partial: deck.build(data, partial, template=args.template))
        except TemplateError as error:
            print(f"keyplan: error: {error}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps({"path": str(out), **built.as_dict()}, ensure_ascii=False))
    else:
        print(f"Wrote {out}: {len(built.titles)} slides for {account.name} ({account.external_id}).")
    return 0


def cmd_export_deck_template(args) -> int:
    from keyplan.reports.deck_template import default_template

    out, problem = _output(args.out, ".pptx")
    if problem:
        return _fail(problem)
    _write(out, ".pptx", lambda partial: default_template().save(partial))
    print(f"Wrote {out}: Keyplan's plain deck template, to restyle and use with KEYPLAN_DECK_TEMPLATE.")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export files built from live data: the portfolio workbook (.xlsx), the account review deck (.pptx)")
    export_sub = p.add_subparsers(dest="export_command", metavar="WHAT", required=True)
    w = export_sub.add_parser(
        "workbook", help="the portfolio workbook: Summary, Pareto, ABC, Profitability, Scoring, at-risk and plan-quality sheets",
        description="Writes the portfolio workbook (.xlsx) of the whole portfolio, or of what --as USERNAME may see: "
                    "key figures, Pareto with its chart, ABC classes by year and their movements, profitability with the "
                    "profit matrix chart, the scoring matrix and its criteria, the at-risk queue and plan quality. Read-only: writes nothing to the database.",
    )
    w.add_argument("out", metavar="OUT.xlsx", help="the file to write (replaced if it exists)")
    w.add_argument("--from", dest="date_from", type=arguments.day(), metavar="YYYY-MM-DD",
                   help="first day of the period (default: the last 12 months that have data)")
    w.add_argument("--to", dest="date_to", type=arguments.day(), metavar="YYYY-MM-DD",
                   help="last day of the period (default: the ledger's last day)")
    w.add_argument("--industry", help="only accounts of this industry")
    w.add_argument("--country", help="only accounts in this country (ISO code, e.g. NL)")
    w.add_argument("--tier", choices=["key", "candidate", "standard"], help="only accounts of this key status")
    w.add_argument("--kam", type=arguments.identifier, metavar="USER_ID", help="only accounts this user is KAM of")
    w.add_argument("--as", dest="as_user", metavar="USERNAME",
                   help="only what this user may see (default: the whole portfolio)")
    w.add_argument("--json", action="store_true", help="print what was written as JSON")
    w.set_defaults(func=cmd_export_workbook)

    d = export_sub.add_parser(
        "deck", help="the review deck of one account: snapshot, revenue, ABC and scores, stakeholders, plan, risks",
        description="Writes the account review deck (.pptx) of one account: title, account snapshot, revenue and margin "
                    "trend, ABC history and selection scores, stakeholder map, who to win, plan goals and timeline, "
                    "opportunities, whitespace, risks and next steps, with native charts, on the template of "
                    "KEYPLAN_DECK_TEMPLATE (or --template). Read-only: writes nothing to the database.",
    )
    d.add_argument("account", metavar="ACCOUNT_EXTERNAL_ID", help="the account's external id (as in the ERP/CRM)")
    d.add_argument("out", metavar="OUT.pptx", help="the file to write (replaced if it exists)")
    d.add_argument("--as", dest="as_user", metavar="USERNAME",
                   help="only if this user may see the account, and named on the title slide (default: any account)")
    d.add_argument("--language", choices=LANGUAGES, default="en", help="the deck's language (default: en)")
    d.add_argument("--template", metavar="TEMPLATE.pptx", help="the PowerPoint template (default: KEYPLAN_DECK_TEMPLATE)")
    d.add_argument("--date", type=arguments.day(), metavar="YYYY-MM-DD", help="the review's date (default: today)")
    d.add_argument("--json", action="store_true", help="print what was written as JSON")
    d.set_defaults(func=cmd_export_deck)
    t = export_sub.add_parser(
        "deck-template", help="write Keyplan's plain deck template, to restyle for KEYPLAN_DECK_TEMPLATE",
        description="Writes the template the review deck uses when KEYPLAN_DECK_TEMPLATE is not set: restyle its slide "
                    "master in PowerPoint, keep the layout names 'Keyplan Title' and 'Keyplan Content', and point "
                    "KEYPLAN_DECK_TEMPLATE at the result. See the user guide for the placeholder names.",
    )
    t.add_argument("out", metavar="OUT.pptx", help="the file to write (replaced if it exists)")
    t.set_defaults(func=cmd_export_deck_template)
