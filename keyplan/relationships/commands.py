"""``keyplan relationships …``: stale relationships, who to win, the map and the planned meetings from the shell.

Thin adapters over the same services as the pages; ``keyplan/cli.py`` registers them.
Exit codes: 0 done, 2 bad arguments (unknown account or user).
"""

from __future__ import annotations

import argparse
import json
import sys

from keyplan.core.wording import counted


def _fail(message: str) -> int:
    print(f"keyplan: error: {message}", file=sys.stderr)
    return 2


def _viewer(username: str | None):
    """Whose reach applies: --as USERNAME, or None for everything (the operator at the shell)."""
    from keyplan.core.models import User

    if username is None:
        return None
    return User.objects.filter(username=username, is_active=True).first() or False


def _accounts(args):
    from keyplan.accounts.models import Account

    viewer = _viewer(getattr(args, "as_user", None))
    if viewer is False:
        return None, f"no active user is named {args.as_user!r}"
    accounts = Account.objects.all() if viewer is None else Account.objects.visible_to(viewer)
    return accounts, None


def _account(args):
    accounts, error = _accounts(args)
    if error:
        return None, error
    account = accounts.filter(external_id=args.account).first()
    if account is None:
        return None, f"no account has the external id {args.account!r}" + (" (that this user may see)" if args.as_user else "")
    return account, None


def _write(text: str, output: str | None) -> None:
    if output in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(output, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        print(f"Written to {output}", file=sys.stderr)


def cmd_stale(args) -> int:
    from keyplan.relationships import services

    if args.days is None:
        args.days = services.stale_rule().days
    if args.days < 1:
        return _fail("--days must be at least 1")
    accounts, error = _accounts(args)
    if error:
        return _fail(error)
    if args.account:
        accounts = accounts.filter(external_id=args.account)
    alerts = services.stale_alerts(accounts, days=args.days)
    rows = [
        {
            "account": a.account.external_id,
            "account_name": a.account.name,
            "stakeholder_id": a.person.id,
            "stakeholder": a.person.name,
            "title": a.person.title,
            "key_contact": a.person.key_contact,
            "buying_role": a.person.buying_role,
            "last_contact": a.person.last_contact.isoformat() if a.person.last_contact else None,
            "days_since": a.stale.days_since,
            "owner": a.person.owner or None,
        }
        for a in alerts
    ]
    if args.json:
        print(json.dumps({"days": args.days, "count": len(rows), "stale": rows}, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print(f"No stale relationship: everyone watched was contacted in the last {args.days} days.")
        return 0
    print(f"{counted(len(rows), 'watched stakeholder')} (key contacts, decision makers, high or medium decision power) "
          f"not contacted for {args.days} days or more:")
    for r in rows:
        since = "never contacted" if r["days_since"] is None else f"{r['days_since']} days ago"
        print(f"  {r['account']:<10} {r['account_name'][:30]:<30}  {r['stakeholder'][:28]:<28} {since:<16} owner: {r['owner'] or '—'}")
    return 0


def cmd_who_to_win(args) -> int:
    from keyplan.relationships import services

    account, error = _account(args)
    if error:
        return _fail(error)
    targets = services.who_to_win(account)[: args.limit or None]
    if args.json:
        print(json.dumps({"account": account.external_id, "targets": [t.as_dict() for t in targets]},
                         ensure_ascii=False, indent=2, default=str))
        return 0
    if not targets:
        print(f"{account.name}: nobody to win — everyone with a say supports us and is in contact.")
        return 0
    print(f"Who to win next at {account.name}:")
    for t in targets:
        flag = "  URGENT" if t.urgent else ""
        print(f"{t.rank:>3}. {t.person.name} — {t.person.title or 'no title'}{flag}")
        print("       " + " ".join(r.text for r in t.reasons))
        if t.best_path:
            path = "".join((" → (reporting line) " if link == "reporting" else " → " if link else "") + p.name
                           for p, link in t.best_path.trail)
            owner = f"owned by {t.path_owner}" if t.path_owner else f"nobody on the team owns {t.best_path.start.name} yet"
            if t.best_path.stale:
                owner += "; start not contacted recently" if t.best_path.start.last_contact else "; start never contacted"
            print(f"       path: {path} ({owner})")
        else:
            print("       no path: no supporter or external party reaches them over a positive or a reporting line")
        for risk in t.risks:
            print(f"       risk: {risk.source.name} has a negative influence ({risk.strength})")
    return 0


def cmd_map(args) -> int:
    from keyplan.relationships import services

    account, error = _account(args)
    if error:
        return _fail(error)
    if args.department and args.department.strip().casefold() not in {d.casefold() for d in services.map_departments(account)}:
        known = ", ".join(services.map_departments(account)) or "none"
        return _fail(f"{account.name} has no department {args.department!r}; departments on the map: {known}")
    svg = services.render_map(account, department=args.department or "")
    _write('<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n", args.output)
    return 0


def cmd_meetings(args) -> int:
    from keyplan.relationships import services

    account, error = _account(args)
    if error:
        return _fail(error)
    _write(services.meetings_calendar(account), args.output)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``keyplan relationships …`` on the main parser's subcommands."""
    p = sub.add_parser("relationships", help="stale relationships, who to win next, the stakeholder map, planned meetings")
    actions = p.add_subparsers(dest="relationships_command", metavar="ACTION", required=True)

    def reach(q):
        q.add_argument("--as", dest="as_user", metavar="USERNAME", help="only what this user may see (default: every account)")

    q = actions.add_parser("stale", help="watched stakeholders (key contacts, decision makers, high and medium decision power) not contacted for N days")
    q.add_argument("--days", type=int, default=None,
                   help="alert after this many days without contact (default: the stale threshold set by a lead, 60 at first)")
    q.add_argument("--account", metavar="EXTERNAL_ID", help="one account only")
    reach(q)
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_stale)

    q = actions.add_parser("who-to-win", help="the ranked list of stakeholders to win, with reasons and paths")
    q.add_argument("account", metavar="EXTERNAL_ID", help="the account's external id (as in the ERP/CRM)")
    q.add_argument("--limit", type=int, default=0, help="only the first N")
    reach(q)
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_who_to_win)

    q = actions.add_parser("map", help="write the stakeholder map as a self-contained SVG")
    q.add_argument("account", metavar="EXTERNAL_ID", help="the account's external id (as in the ERP/CRM)")
    q.add_argument("-o", "--output", help="file to write (default: standard output)")
    reach(q)
    q.add_argument("--department", help="only the customer's people of this department (to print a large map)")
    q.set_defaults(func=cmd_map)

    q = actions.add_parser("meetings", help="write the planned meetings as an iCalendar (.ics) file")
    q.add_argument("account", metavar="EXTERNAL_ID", help="the account's external id (as in the ERP/CRM)")
    q.add_argument("-o", "--output", help="file to write (default: standard output)")
    reach(q)
    q.set_defaults(func=cmd_meetings)

