"""``keyplan export workbook OUT.xlsx``: the portfolio workbook from the shell.

A thin adapter over `keyplan.reports.workbook.build()`, the same builder as the download
button and ``GET /api/v1/exports/workbook``; ``keyplan/cli.py`` registers it. Only the standard
library is imported here, so that ``keyplan --help`` stays quick.
Exit codes: 0 written, 2 usage error (bad date, unknown user, a folder that does not exist).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from keyplan.core import arguments


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
    try:
        built = build(scope, options, partial)
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


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export files built from live data: the portfolio workbook (.xlsx)")
    export_sub = p.add_subparsers(dest="export_command", metavar="WHAT", required=True)
    w = export_sub.add_parser(
        "workbook", help="the portfolio workbook: Summary, Pareto, ABC, Profitability and Scoring sheets with native charts",
        description="Writes the portfolio workbook (.xlsx) of the whole portfolio, or of what --as USERNAME may see: "
                    "key figures, Pareto with its chart, ABC classes by year and their movements, profitability with the "
                    "profit matrix chart, the scoring matrix and its criteria. Read-only: writes nothing to the database.",
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
