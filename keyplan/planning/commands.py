"""``keyplan plans``: every key account's current plan and its quality; ``keyplan charter``: the program charter.

A thin adapter over the same service as the Plans page; ``keyplan/cli.py`` registers it.
Exit codes: 0 done, 2 bad arguments (unknown user).
"""

from __future__ import annotations

import argparse
import json
import sys

from keyplan.core.wording import counted


def cmd_plans(args) -> int:
    from keyplan.core.models import Role, User
    from keyplan.planning import services

    if args.as_user:
        user = User.objects.filter(username=args.as_user, is_active=True).first()
        if user is None:
            print(f"keyplan: error: no active user is named {args.as_user!r}", file=sys.stderr)
            return 2
    else:  # the operator at the shell reads the whole portfolio, as a viewer would
        user = User(username="keyplan", role=Role.VIEWER)
    rows = services.portfolio(user, kam=args.kam)
    if args.not_living:
        rows = [r for r in rows if not r.living]
    if args.json:
        print(json.dumps({"items": [services.portfolio_dict(r) for r in rows], "count": len(rows)}, indent=2,
                         ensure_ascii=False))
        return 0
    if not rows:
        print("No key account.")
        return 0
    width = max(len(r.account.name) for r in rows)
    for r in rows:
        if r.plan is None:
            state = "no plan"
        else:
            state = f"{r.plan.period} {r.plan.state}" + (" living" if r.living else "")
        quality = f"{r.quality.passed}/{len(r.quality.checks)}" if r.quality else "-"
        overdue = f"  {r.overdue} overdue" if r.overdue else ""
        print(f"{r.account.name:<{width}}  {state:<24} quality {quality:>5}{overdue}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plans", help="key accounts with their current plan and its quality, not living plans first")
    p.add_argument("--kam", type=int, help="user id of a key account manager: only their key accounts")
    p.add_argument("--not-living", action="store_true", help="only key accounts without a living plan")
    p.add_argument("--as", dest="as_user", metavar="USERNAME", help="only what this user may see (default: every account)")
    p.add_argument("--json", action="store_true", help="print JSON ({items, count})")
    p.set_defaults(func=cmd_plans)
    add_charter_command(sub)


def cmd_charter(args) -> int:
    from keyplan.planning import charter, forms

    view = charter.charter_view()
    if args.json:
        print(json.dumps(charter.charter_dict(view), indent=2, ensure_ascii=False))
        return 0
    print(f"KAM charter, version {view.charter.version}")
    for name, label in (("objectives", "Objectives"), ("success_measures", "How success is measured"),
                        ("roles", "Roles and responsibilities")):
        print(f"\n{label}:")
        for entry in view.content.get(name) or ["-"]:
            print(f"  - {entry}")
    print("\nReadiness:")
    for answer in view.readiness:
        print(f"  {forms.READINESS_QUESTIONS[answer.code]} {charter.verdict_label(answer.verdict)}.")
        print(f"    {charter.evidence(answer)}")
    print(f"\nReview of key status: {view.selection.cadence}; criteria: "
          + (", ".join(f"{c.name} ({c.weight:g} %)" for c in view.selection.criteria) or "-"))
    missing = [s.account.name for s in view.sponsors if not s.sponsors]
    print(f"Key accounts without an executive sponsor: {len(missing)}" + (f" ({', '.join(missing[:10])})" if missing else ""))
    print("\nRollout:")
    for phase, steps in view.phases:
        print(f"  {phase}")
        for s in steps:
            dates = f"{s.start or '?'} – {s.due or '?'}"
            print(f"    {s.title}  [{s.status}] {dates}" + (f"  {s.owner}" if s.owner_id else ""))
    return 0


def add_charter_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("charter", help="the KAM program charter: readiness answered from data, selection, sponsors, rollout")
    p.add_argument("--json", action="store_true", help="print JSON (the same as GET /api/v1/charter)")
    p.set_defaults(func=cmd_charter)


def import_opportunities(args, user, mapping: dict[str, str]) -> int:
    """``keyplan import opportunities FILE``: exit 0 written (or a clean dry run), 1 rows refused, 2 unreadable."""
    from keyplan.planning.importing import ReadError, SmallImportOptions, import_opportunities as run

    options = SmallImportOptions(mapping=mapping, date_format=args.date_format, decimal=args.decimal,
                                 delimiter=args.delimiter, sheet=args.sheet, dry_run=args.dry_run)
    try:
        result = run(args.file, by=user, options=options)
    except ReadError as error:
        print(f"keyplan: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False, default=str))
        return 0 if result.ok else 1
    for error in result.errors[:50]:
        print(f"  {error}", file=sys.stderr)
    if result.error_count > 50:
        print(f"  … and {result.error_count - 50} more (use --json for the first 1,000)", file=sys.stderr)
    if not result.ok:
        print(f"Nothing was written: {counted(result.error_count, 'problem')} in {counted(result.rows_total, 'row')}; fix them and import "
              "the file again.", file=sys.stderr)
        return 1
    what = "would be " if result.dry_run else ""  # "1 row would be created" / "1 row created"
    print(f"{counted(result.rows_total, 'row')} read: {counted(result.created, 'opportunity', 'opportunities')} {what}created, {result.updated} updated, "
          f"{result.unchanged} unchanged." + (" Dry run: nothing was written." if result.dry_run else ""))
    return 0
