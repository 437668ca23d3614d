"""Demo step: account plans for the key accounts, some living and some visibly neglected.

Key accounts with a plan get opportunities (open, won and lost this year) and a whitespace map.
Key accounts take turns through five cases, so that the Plans page has something true
to say about each: a full living plan (goals in all three horizons, actions with
dependencies, one on a decision maker), an active plan nobody reviewed for months with
overdue actions, a half-written draft, no plan at all, and a plan copied from last
year's archived one. Written through the same services as the pages.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from keyplan.accounts.models import TeamMember, TeamRole
from keyplan.planning import services
from keyplan.relationships.models import Stakeholder

if TYPE_CHECKING:
    from keyplan.demo.generator import Demo

FULL, NEGLECTED, DRAFT, NONE, COPIED = range(5)

BUSINESS = {
    "goals": ["Enter two new markets in Asia by 2028", "Cut production lead times by 20 %", "Reach net zero in their own plants by 2030"],
    "financial_health": ["Revenue 2025: 1.4 B (+6 %)", "EBIT margin 9 %", "Net debt / EBITDA 1.8"],
    "initiatives": ["ERP migration to the cloud", "Supplier consolidation programme", "New plant in Poland"],
    "customers": ["Automotive OEMs", "Tier-1 suppliers", "Aftermarket distributors"],
    "competitors": ["Northline Industries", "Keller Systems"],
}
SWOT = {
    "strengths": ["Supplier for twelve years", "Our service engineers are on site weekly"],
    "weaknesses": ["No contact in R&D", "Price above the market average"],
    "opportunities": ["Their new plant needs the full product range", "Service contracts for the installed base"],
    "threats": ["Procurement pushes a second supplier", "A critical CFO"],
}


def _stakeholder(account, role: str) -> Stakeholder | None:
    return Stakeholder.objects.filter(account=account, buying_role=role, archived_at__isnull=True).order_by("pk").first()


def _write_sections(plan, by, *, full: bool) -> None:
    services.update_section(plan, "relationships", by=by, version=None, content={
        "summary": "The COO carries us; the CFO is critical of our pricing and nobody on the team owns that relationship. "
                   "Win the CFO through the head of operations, and get into R&D before the next platform decision."})
    services.update_section(plan, "business", by=by, version=None,
                            content=BUSINESS if full else {"goals": BUSINESS["goals"][:1]})
    if full:
        services.update_section(plan, "swot", by=by, version=None, content=SWOT)
        services.update_section(plan, "value", by=by, version=None, content={
            "potential": "Cross-sell service contracts to the installed base; equip the new plant in Poland."})


def _goals(plan, by, kam, other, today: datetime.date, *, overdue: bool) -> None:
    day = datetime.timedelta(days=1)
    cfo = _stakeholder(plan.account, "economic_buyer")
    revenue = services.account_value(plan.account, today=today).revenue_12m
    grow = services.add_goal(plan, by=by, data={
        "title": "Grow revenue by 10 %", "horizon": "short", "owner": kam, "metric": "revenue_12m",
        "target_value": round(revenue * 1.1, -3) or 100_000, "due": today + 120 * day, "status": "on_track"})
    win = services.add_goal(plan, by=by, data={
        "title": "Win the CFO's support", "horizon": "mid", "owner": kam, "metric": "decision_makers_covered",
        "target_value": 4, "due": today + 240 * day})
    if revenue > 0:  # the customer's wallet, as the team estimates it: our revenue is about a third of it
        services.update_plan(plan, by=by, version=None, changes={"wallet": round(revenue * 3, -3) or 100_000})
        services.add_goal(plan, by=by, data={
            "title": "Raise our share of wallet to 40 %", "horizon": "mid", "owner": kam, "metric": "share_of_wallet",
            "target_value": 40, "due": today + 300 * day, "status": "on_track"})
    services.add_goal(plan, by=by, data={
        "title": "Become their preferred supplier for the new plant", "horizon": "long", "owner": other or kam,
        "target_value": 1, "due": today + 540 * day})
    shift = -60 if overdue else 0
    first = services.add_action(win, by=by, data={
        "title": "Strengthen the relationship with the head of operations", "owner": kam,
        "start": today + (shift - 30) * day, "due": today + (shift + 10) * day,
        "status": "in_progress"})
    second = services.add_action(win, by=by, data={
        "title": "Build the value proposition for a CFO meeting", "owner": other or kam,
        "start": today + (shift + 11) * day, "due": today + (shift + 40) * day, "depends_on": [first.pk]})
    services.add_action(win, by=by, data={
        "title": "Ask the head of operations to request the CFO meeting", "owner": kam, "stakeholder": cfo,
        "start": today + (shift + 41) * day, "due": today + (shift + 41) * day, "milestone": True,
        "depends_on": [second.pk]})
    services.add_action(grow, by=by, data={
        "title": "Quarterly business review", "owner": kam, "start": today - 20 * day, "due": today - 20 * day,
        "status": "done", "milestone": True})
    services.add_action(grow, by=by, data={
        "title": "Offer service contracts for the installed base", "owner": other or kam,
        "start": today + (shift + 5) * day, "due": today + (shift + 75) * day})


PRODUCT_LINES = ["Sensors", "Control systems", "Service contracts", "Analytics software"]


def _opportunities(account, by, kam, today: datetime.date, index: int) -> None:
    """Opportunities across the account's buying centers, some won and lost this year, and a whitespace map."""
    day = datetime.timedelta(days=1)
    departments = sorted(set(Stakeholder.objects.filter(account=account, external_organisation="")
                             .exclude(department="").values_list("department", flat=True)))[:5] or ["Operations", "Finance"]
    d = lambda i: departments[i % len(departments)]  # noqa: E731
    rows = [
        {"name": "Service contracts for the installed base", "kind": "upsell", "division": d(0), "product_line": PRODUCT_LINES[2],
         "stage": "propose", "amount": 120_000, "probability": "0.5", "expected_close": today + 45 * day},
        {"name": "Analytics for the finance team", "kind": "cross_sell", "division": d(1), "product_line": PRODUCT_LINES[3],
         "stage": "develop", "amount": 60_000, "probability": "0.3", "expected_close": today + 20 * day},
        {"name": "Control systems for the new plant", "kind": "new_business", "division": d(2), "product_line": PRODUCT_LINES[1],
         "stage": "qualify", "amount": 400_000, "probability": "0.1", "expected_close": today + 300 * day},
        {"name": "Sensor retrofit", "kind": "upsell", "division": d(0), "product_line": PRODUCT_LINES[0], "stage": "won",
         "amount": 85_000, "closed_on": today - 60 * day, "reason": "Best service offer; the COO backed us."},
        {"name": "Spare parts framework", "kind": "cross_sell", "division": d(3), "product_line": PRODUCT_LINES[0],
         "stage": "lost", "amount": 40_000, "closed_on": today - 100 * day, "reason": "Procurement chose a cheaper second source."},
    ]
    for row in rows[: 3 + index % 3]:
        services.add_opportunity(account, by=by, data={"owner": kam, **row})
    services.set_cell(account, by=by, division=d(1), product_line=PRODUCT_LINES[1], state="competitor",
                      competitor="Keller Systems")
    services.set_cell(account, by=by, division=d(2), product_line=PRODUCT_LINES[3], state="whitespace",
                      estimated_value=75_000 + 5_000 * (index % 4))
    services.set_cell(account, by=by, division=d(3), product_line=PRODUCT_LINES[2], state="whitespace",
                      estimated_value=30_000)
    services.set_cell(account, by=by, division=d(4), product_line=PRODUCT_LINES[0], state="not_relevant",
                      note="No production in this division.")


def make_plans(demo: Demo) -> None:
    key = demo.key_accounts
    if not key:
        return
    by = demo.users["lead"]
    today = demo.today
    day = datetime.timedelta(days=1)
    team: dict[int, dict[str, object]] = {}
    for member in TeamMember.objects.filter(account__in=key).select_related("user").order_by("pk"):
        team.setdefault(member.account_id, {}).setdefault(member.role, member.user)
    period = f"FY{today.year}"
    for index, account in enumerate(key):
        case = index % 5
        if case == NONE:
            continue
        roles = team.get(account.pk, {})
        kam = roles.get(TeamRole.KAM)
        other = roles.get(TeamRole.SALES) or roles.get(TeamRole.TECHNICAL_SUPPORT)
        if case == COPIED:
            last = services.create_plan(account, by=by, period=f"FY{today.year - 1}",
                                        summary="A steady supplier relationship; procurement wants a second source.")
            _write_sections(last, by, full=True)
            _goals(last, by, kam, other, today - 365 * day, overdue=False)
            services.mark_reviewed(last, by=by, on=today - 300 * day)
            services.activate_plan(last, by=by)
        plan = services.create_plan(account, by=by, period=period,
                                    summary="" if case == DRAFT else
                                    "A growing account with a critical CFO: protect the core, win finance, grow into the new plant.")
        if case != COPIED:
            _write_sections(plan, by, full=case != DRAFT)
            _goals(plan, by, kam, other, today, overdue=case == NEGLECTED)
        if case != DRAFT:
            _opportunities(account, by, kam, today, index)
        if case == DRAFT:
            continue
        services.mark_reviewed(plan, by=by, on=today - (150 if case == NEGLECTED else 20) * day)
        services.activate_plan(plan, by=by)


CHARTER = {
    "purpose": "Our largest customers bring most of our revenue and buy through many people. The KAM program gives "
               "each of them a team, a plan and an executive sponsor, so that we grow with them instead of selling to them.",
    "objectives": ["Grow key-account revenue by 12 % a year", "Keep every key account for at least five years",
                   "Win a second product line in half of the key accounts by 2028"],
    "success_measures": ["Key-account revenue and its share of the total, each quarter",
                         "Share of wallet in the key accounts", "Every key account has a living plan",
                         "Every decision maker covered by someone on the team"],
    "roles": ["KAM lead: runs the program, the selection and its reviews",
              "Key account manager: owns the account plan and the relationships",
              "Executive sponsor: meets the customer's executives twice a year and unblocks the team",
              "Account team: delivers the actions of the plan in their field"],
    "note_concentration": "The Pareto curve has been steep for three years: the program is worth its cost.",
    "note_buying_center": "Purchases above 50,000 always involve finance and operations.",
    "note_relationship_age": "",
    "note_growth_room": "The whitespace maps are not complete yet; the figure is a floor.",
    "note_investment": "Two sponsors for all key accounts is too few: the board names two more in the next quarter.",
}


def make_charter(demo: Demo) -> None:
    """The program's charter and its rollout: a pilot done, the roll-out under way (one step late), a review ahead."""
    from keyplan.planning import charter

    by, today, day = demo.users["lead"], demo.today, datetime.timedelta(days=1)
    row = charter.charter()
    charter.update_charter(by=by, version=row.version, changes={"purpose": "A program for our largest customers."})
    charter.update_charter(by=by, version=row.version + 1, changes=CHARTER)
    owners = set(charter.charter_owners())
    sponsor = next((u for u in demo.specialists.get(TeamRole.EXECUTIVE_SPONSOR, []) if u in owners), by)
    kam = next((u for u in demo.kams if u in owners), by)
    steps = [
        ("Pilot", "Select the first key accounts", by, -330, -300, "done", False),
        ("Pilot", "Train the key account managers", kam, -300, -240, "done", False),
        ("Pilot", "Pilot review with the board", sponsor, -200, -200, "done", True),
        ("Roll-out", "Every key account has a team and a sponsor", by, -180, -20, "in_progress", False),
        ("Roll-out", "Every key account has an active plan", kam, -120, 40, "in_progress", False),
        ("Roll-out", "Stakeholder maps complete", kam, -60, 90, "not_started", False),
        ("Review", "First yearly review of the program", sponsor, 120, 120, "not_started", True),
    ]
    for phase, title, owner, start, due, status, milestone in steps:
        charter.add_step(by=by, data={"phase": phase, "title": title, "owner": owner, "start": today + start * day,
                                      "due": today + due * day, "status": status, "milestone": milestone})
