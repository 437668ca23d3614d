"""``keyplan health snapshot | queue | reviews`` and ``keyplan analyze health``: thin adapters over the services.

``keyplan/cli.py`` registers them. Exit codes: 0 done, 2 bad arguments (unknown user).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys

from keyplan.core.wording import counted


def _reader(username: str | None):
    from keyplan.core.models import Role, User

    if username is None:  # the operator at the shell reads the whole portfolio, as a viewer would
        return User(username="keyplan", role=Role.VIEWER)
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise SystemExit(print(f"keyplan: error: no active user is named {username!r}", file=sys.stderr) or 2)
    return user


def cmd_snapshot(args) -> int:
    from keyplan.health import services

    run = services.take_snapshot(today=args.date)
    if args.json:
        print(json.dumps(run.as_dict()))
    else:
        print(f"Health snapshot of {run.day}: {counted(run.accounts, 'account')} scored, {run.endangered} endangered, "
              f"{run.cases_opened} entered the at-risk queue" + (" (the day's earlier snapshot was replaced)." if run.replaced else "."))
    return 0


def cmd_queue(args) -> int:
    from keyplan.health import services

    user = _reader(args.as_user)
    cases = list(services.queue(user).prefetch_related("actions__owner", "actions__plan_action")[:args.limit])
    items = [services.case_dict(c) for c in cases]
    if args.json:
        print(json.dumps({"items": items, "count": services.queue(user).count(),
                          "mrr_at_risk": services.mrr_at_risk(user)}, indent=2, ensure_ascii=False))
        return 0
    for i in items:
        owner = i["owner"]["username"] if i["owner"] else "-"
        print(f"{i['mrr_at_risk']:>12,.2f}  {i['days_in_queue']:>4} d  {owner:<12} {i['account']['name'][:40]:<40} {i['reason']}")
    if not items:
        print("No account is in the at-risk queue.")
    return 0


def _print_due(args, due_list, nothing_due: str) -> int:
    """One due list (reviews or check-ins) as JSON or as lines, overdue ones marked."""
    from keyplan.accounts.models import Account

    due = due_list(Account.objects.visible_to(_reader(args.as_user)), within_days=args.within_days)
    if args.json:
        print(json.dumps({"items": [d.as_dict() for d in due], "count": len(due)}, indent=2, ensure_ascii=False))
        return 0
    for d in due:
        print(f"{d.due}  {'OVERDUE ' if d.overdue else '        '}{d.kam or '-':<12} {d.account.name}")
    if not due:
        print(nothing_due)
    return 0


def cmd_reviews(args) -> int:
    from keyplan.health import services

    return _print_due(args, services.reviews_due, "No review due.")


def cmd_onboarding(args) -> int:
    """The onboarding status of the accounts of a key status (default key accounts) with stages overdue first."""
    from keyplan.accounts.models import Account
    from keyplan.health import onboarding

    accounts = Account.objects.visible_to(_reader(args.as_user)).active().filter(tier=args.tier).order_by("name")[:5000]
    names = dict(accounts.values_list("pk", "name"))
    found = onboarding.statuses(list(names))
    order = {"overdue": 0, "in_progress": 1, "none": 2, "done": 3}
    items = [{"account": {"id": pk, "name": names[pk]}, "status": row["status"], "stages_total": row["total"],
              "stages_done": row["done"], "stages_overdue": row["overdue"]}
             for pk, row in sorted(found.items(), key=lambda kv: (order[kv[1]["status"]], names[kv[0]]))
             if not args.overdue or row["status"] == "overdue"]
    if args.json:
        print(json.dumps({"items": items, "count": len(items)}, indent=2, ensure_ascii=False))
        return 0
    for i in items:
        print(f"{i['status']:<12} {i['stages_done']:>2}/{i['stages_total']:<2} done, {i['stages_overdue']:>2} overdue  {i['account']['name']}")
    if not items:
        print("No account to show.")
    return 0


def cmd_checkins(args) -> int:
    from keyplan.health import services

    return _print_due(args, services.checkins_due, "No customer check-in due.")


def cmd_notify(args) -> int:
    from keyplan.health import services

    run = services.notify(email=args.email)
    if args.json:
        print(json.dumps(run.as_dict()))
    else:
        print(f"{counted(run.created, 'new notification')} for {counted(run.users, 'key account manager')}; "
              f"{counted(run.emailed, 'digest')} e-mailed.")
    return 0


def cmd_backtest(args) -> int:
    from django.core.exceptions import ValidationError

    from keyplan.health import services

    try:
        result = services.backtest(months=args.months, horizon=args.horizon)
    except ValidationError as error:
        print(f"keyplan: error: {' '.join(error.messages)}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    print(f"Scores of the key accounts and candidates on the first of each month {result['from']} … {result['to']}, "
          f"outcome {result['horizon']} months later:")
    for band, row in result["bands"].items():
        rate = f"{row['rate']:.0%}" if row["rate"] is not None else "-"
        print(f"  {band:<6} {row['observations']:>6} observations, {row['churned']:>4} churned, {row['contracted']:>4} contracted: {rate}")
    verdict = ("a red score predicts churn or contraction" if result["predicts"] else
               "a red score predicted nothing" if result["judged"] else "too few observations to judge")
    print(f"Lift red over green: {result['lift'] or '-'}; {verdict}.")
    return 0


def analyze_health(args) -> int:
    """``keyplan analyze health``: each account's score, band and explained components (--json), computed now."""
    from keyplan.accounts.models import Account, Tier
    from keyplan.health import services

    accounts = Account.objects.visible_to(_reader(args.as_user)).active()
    if args.tier:
        accounts = accounts.filter(tier=args.tier)
    else:
        accounts = accounts.filter(tier=Tier.KEY)  # the accounts whose health is watched, unless asked otherwise
    items = [services.account_health(a) for a in accounts.order_by("name")[:5000]]
    for item in items:
        item.pop("trend", None)
    if args.json:
        print(json.dumps({"items": items, "count": len(items)}, indent=2 if sys.stdout.isatty() else None, ensure_ascii=False))
        return 0
    for item in sorted(items, key=lambda i: i["score"]):
        print(f"{item['score']:>3} {item['band']:<5} {item['account']['name']}")
        for c in item["components"]:
            if c["counted"] and c["contribution"]:
                print(f"      {c['explanation']}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    from keyplan.core import arguments

    p = sub.add_parser("health", help="health snapshots, the at-risk queue and the reviews due")
    health_sub = p.add_subparsers(dest="health_command", metavar="ACTION", required=True)
    s = health_sub.add_parser("snapshot", help="score every account for today and fill the at-risk queue (safe to run twice a day)")
    s.add_argument("--date", type=arguments.day(latest=datetime.date.today()), metavar="YYYY-MM-DD",
                   help="the day to snapshot (default today; not after today)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_snapshot)
    q = health_sub.add_parser("queue", help="the at-risk queue, most MRR at risk first")
    q.add_argument("--limit", type=arguments.whole_number(1, 10_000), default=100, help="how many, 1-10,000 (default 100)")
    q.add_argument("--as", dest="as_user", metavar="USERNAME", help="only what this user may see")
    q.add_argument("--json", action="store_true", help="print JSON ({items, count, mrr_at_risk})")
    q.set_defaults(func=cmd_queue)
    r = health_sub.add_parser("reviews", help="account reviews due within a week or overdue")
    r.add_argument("--within-days", type=arguments.whole_number(0, 365), default=7, help="due within this many days (default 7)")
    r.add_argument("--as", dest="as_user", metavar="USERNAME", help="only what this user may see")
    r.add_argument("--json", action="store_true", help="print JSON ({items, count})")
    r.set_defaults(func=cmd_reviews)

    c = health_sub.add_parser("check-ins", help="customer check-ins due within a week or overdue")
    c.add_argument("--within-days", type=arguments.whole_number(0, 365), default=7, help="due within this many days (default 7)")
    c.add_argument("--as", dest="as_user", metavar="USERNAME", help="only what this user may see")
    c.add_argument("--json", action="store_true", help="print JSON ({items, count})")
    c.set_defaults(func=cmd_checkins)

    o = health_sub.add_parser("onboarding", help="onboarding status per account (overdue first), derived from its stages")
    o.add_argument("--tier", choices=["key", "candidate", "standard"], default="key", help="key status (default key)")
    o.add_argument("--overdue", action="store_true", help="only accounts with an onboarding stage overdue")
    o.add_argument("--as", dest="as_user", metavar="USERNAME", help="only what this user may see")
    o.add_argument("--json", action="store_true", help="print JSON ({items, count})")
    o.set_defaults(func=cmd_onboarding)

    b = health_sub.add_parser("backtest", help="does a red score predict churn or contraction? the score judged on history")
    b.add_argument("--months", type=arguments.whole_number(1, 36), default=12, help="months judged, 1-36 (default 12)")
    b.add_argument("--horizon", type=arguments.whole_number(1, 12), default=3, help="months after each score, 1-12 (default 3)")
    b.add_argument("--json", action="store_true", help="print JSON")
    b.set_defaults(func=cmd_backtest)

    n = sub.add_parser("notify", help="raise each KAM's notifications (and with --email send a digest); safe to run twice")
    n.add_argument("--email", action="store_true", help="also e-mail each user a digest of what no digest carried yet")
    n.add_argument("--json", action="store_true", help="print JSON")
    n.set_defaults(func=cmd_notify)
