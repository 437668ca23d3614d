"""Demo step: stakeholder maps, influence lines and interaction logs for the key accounts.

Each key account gets the people of its buying decision — board, finance,
operations, procurement, IT, quality, R&D, legal — in a reporting hierarchy, plus
external parties (a consultancy, an auditor, an implementation partner). The maps
hold the cases that make the analyses worth reading: a critical CFO whom a
supportive head of operations can reach while the auditor speaks against us, a
blocker with high power, decision makers nobody on the team owns, buying centers
nobody has talked to, key contacts not contacted for months, planned meetings
and the same next step recorded twice. The largest key account has a large map.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simple_history.utils import bulk_create_with_history

from keyplan.accounts.models import TeamMember
from keyplan.relationships.models import InfluenceLine, Interaction, Stakeholder

if TYPE_CHECKING:
    from keyplan.demo.generator import Demo

FIRST = ["Anke", "Bas", "Carla", "Dirk", "Elena", "Fabio", "Gerrit", "Hanna", "Ivo", "Julia", "Karin", "Lars", "Mila",
         "Niels", "Olga", "Paolo", "Queenie", "Ruben", "Silke", "Timo", "Ursula", "Vincent", "Wen", "Yara", "Zeynep",
         "Arash", "Beatrice", "Chen", "Dario", "Femke", "Giulia", "Henrik", "Leila", "Matteo", "Nadia", "Oscar"]
LAST = ["Bakker", "Müller", "Conti", "Peeters", "Laurent", "Taylor", "Li", "Rahimi", "Hofmann", "Ricci", "Dekker",
        "Fischer", "Jansen", "Vogel", "Marino", "Dubois", "Novak", "Zhang", "Meijer", "Schulz", "Greco", "Smits",
        "Wagner", "Brun", "Kowalski", "Sato", "Hosseini", "Lombardi", "de Boer", "Weber"]
CONSULTANCIES = ["Quartz Advisory", "Meridian Consulting", "Northbridge Partners"]
AUDITORS = ["Van Dijk & Partners Audit", "Keller Wirtschaftsprüfung", "Bianchi Revisione"]
INTEGRATORS = ["Systemhaus Nord", "Delta Integration"]


@dataclass
class _Person:
    key: str
    title: str
    department: str = ""
    organisation: str = ""
    manager: str | None = None
    role: str = ""
    power: str = "low"
    sentiment: str = "neutral"
    contact: str = "none"
    key_contact: bool = False
    owner: str | None = None  # a team role whose holder owns the relationship
    met: float = 0.0  # how often we meet them (0: never)
    obj: Stakeholder | None = field(default=None, repr=False)


def _org(rng, large: bool) -> list[_Person]:
    """The people of one customer's buying decision; ``large`` grows each department."""
    p = _Person
    people = [
        p("ceo", "Chief Executive Officer", "Board", role="decision_maker", power="high", owner="executive_sponsor", met=0.15),
        p("cfo", "Chief Financial Officer", "Finance", manager="ceo", role="economic_buyer", power="high", met=0.2),
        p("coo", "Chief Operating Officer", "Operations", manager="ceo", role="decision_maker", power="high", owner="kam", met=0.6),
        p("cio", "Head of IT", "IT", manager="ceo", role="influencer", power="medium", owner="technical_support", met=0.4),
        p("cpo", "Head of Procurement", "Procurement", manager="cfo", role="gatekeeper", power="medium", owner="sales",
          key_contact=True, met=0.9),
        p("ops", "Head of Operations", "Operations", manager="coo", role="champion", power="medium", owner="kam",
          key_contact=True, met=1.0),
        p("quality", "Quality Manager", "Quality", manager="coo", role="user", power="low", met=0.3),
        p("legal", "General Counsel", "Legal", manager="ceo", role="", power="medium", met=0.0),
        p("rnd", "Head of R&D", "R&D", manager="ceo", role="influencer", power="medium", met=0.0),
        p("controller", "Controller", "Finance", manager="cfo", role="user", power="low", met=0.1),
        p("buyer1", "Senior Buyer", "Procurement", manager="cpo", role="user", power="low", owner="sales", met=0.8),
        p("plant1", "Plant Manager", "Operations", manager="ops", role="user", power="medium", met=0.5),
        p("engineer1", "Process Engineer", "R&D", manager="rnd", role="user", power="low", met=0.0),
        p("logistics", "Logistics Manager", "Logistics", manager="coo", role="user", power="low", met=0.2),
    ]
    extra = {"Procurement": ("cpo", "Buyer"), "Operations": ("ops", "Plant Manager"), "R&D": ("rnd", "Engineer"),
             "IT": ("cio", "IT Architect"), "Finance": ("cfo", "Financial Analyst"), "Quality": ("quality", "Quality Engineer"),
             "Logistics": ("logistics", "Planner")}
    count = rng.randint(40, 50) if large else rng.randint(0, 6)
    for i in range(count):
        department = rng.choice(list(extra))
        manager, title = extra[department]
        if large and i > 12 and rng.random() < 0.45:  # small teams under the first people of a department
            leads = [q for q in people if q.department == department and q.key.startswith("x") and q.manager == manager]
            if leads:
                manager = rng.choice(leads[:2]).key
        people.append(p(f"x{i}", title, department, manager=manager, role=rng.choice(["user", "user", "influencer", ""]),
                        power=rng.choice(["low", "low", "medium"]), met=rng.choice([0, 0, 0.1, 0.3])))
    consultancy, auditor = rng.choice(CONSULTANCIES), rng.choice(AUDITORS)
    people += [
        p("consultant", "Senior Consultant", organisation=consultancy, role="influencer", power="medium", met=0.2),
        p("auditor", "Lead Auditor", organisation=auditor, role="influencer", power="low", met=0.0),
    ]
    if large or rng.random() < 0.4:
        people.append(p("partner", "Implementation Lead", organisation=rng.choice(INTEGRATORS), role="influencer",
                        power="low", sentiment="supporter", owner="implementation", met=0.4))
    if large:
        people.append(p("consultant2", "Analyst", organisation=consultancy, manager="consultant", role="user", met=0.1))
    return people


def _scenario(index: int, people: dict[str, _Person], rng) -> list[tuple[str, str, str, str, str]]:
    """Sentiments and influence lines; every third account is the issue's CFO case. Returns the lines."""
    for person in people.values():
        person.sentiment = rng.choices(["supporter", "neutral", "critic"], [3, 5, 2])[0]
    people["ops"].sentiment = "supporter"
    people["cpo"].sentiment = rng.choice(["neutral", "supporter"])
    lines = [
        ("ops", "coo", "positive", "strong", "Trusted adviser on every supplier decision."),
        ("cpo", "cfo", "positive", "medium", "Prepares the business cases the CFO signs."),
        ("consultant", "ceo", "positive", "medium", "Advises the board on the operations programme."),
        ("buyer1", "cpo", "positive", "weak", ""),
    ]
    if index % 3 == 0:
        # A critical CFO, a supportive head of operations who can reach them, an auditor against us.
        people["cfo"].sentiment = "critic"
        people["auditor"].sentiment = "neutral"
        lines += [
            ("ops", "cfo", "positive", "strong", "Worked together on the last plant investment."),
            ("auditor", "cfo", "negative", "medium", "Questions our pricing model in every audit."),
        ]
    elif index % 3 == 1:
        # A blocker with high power: general counsel holds the contract.
        people["legal"].role, people["legal"].power, people["legal"].sentiment = "blocker", "high", "critic"
        lines += [("consultant", "legal", "positive", "weak", "Old colleagues."),
                  ("cio", "legal", "negative", "medium", "Disagree about data ownership.")]
    else:
        # The CFO is neutral and only reachable over two steps, through the head of procurement.
        people["cfo"].sentiment = "neutral"
        people["cpo"].sentiment = "supporter"
        lines += [("plant1", "ops", "positive", "medium", ""), ("auditor", "ceo", "negative", "weak", "")]
    if "partner" in people:
        lines.append(("partner", "cio", "positive", "medium", "Runs the roll-out with IT."))
    if "x3" in people and "x7" in people:
        lines.append(("x3", "x7", "negative", "weak", ""))
    return lines


def _name(rng, used: set[str]) -> str:
    while True:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if name not in used:
            used.add(name)
            return name


def make_relationships(demo: Demo) -> None:
    rng = demo.rng
    key = demo.key_accounts
    if not key:
        return
    largest = max(key, key=lambda a: (a.employees or 0, a.external_id))
    team: dict[int, dict[str, list]] = {}
    for member in TeamMember.objects.filter(account__in=key).select_related("user"):
        team.setdefault(member.account_id, {}).setdefault(member.role, []).append(member.user)
    kinds = ["meeting", "call", "email", "visit", "event"]
    kind_weights = [4, 4, 3, 2, 1]

    plans = []  # (account, people by key, lines)
    for index, account in enumerate(key):
        people = {p.key: p for p in _org(rng, large=account.pk == largest.pk)}
        lines = _scenario(index, people, rng)
        plans.append((account, people, lines))

    # Stakeholders, one level of the hierarchy at a time so that managers have ids.
    used_names: dict[int, set[str]] = {}
    pending = [(account, person) for account, people, _ in plans for person in people.values()]
    while pending:
        ready = [(a, p) for a, p in pending if p.manager is None or plans_lookup(plans, a, p.manager).obj is not None]
        ready_ids = {id(p) for _, p in ready}
        pending = [(a, p) for a, p in pending if id(p) not in ready_ids]
        rows = []
        for account, person in ready:
            roles = team.get(account.pk, {})
            owner = roles.get(person.owner or "", [None])[0] if person.owner else None
            if person.owner == "kam" or (owner is None and person.owner == "executive_sponsor"):
                owner = roles.get("kam", [None])[0] if rng.random() < 0.85 else None
            if person.key == "cfo" and rng.random() < 0.6:
                owner = None  # a decision maker nobody on the team owns yet
            if person.met == 0 and person.organisation == "":
                person.contact = "none"
            elif person.met and rng.random() < 0.3:
                person.contact = rng.choice(["weak", "medium"])
            manager = plans_lookup(plans, account, person.manager).obj if person.manager else None
            row = Stakeholder(
                account=account, name=_name(rng, used_names.setdefault(account.pk, set())), title=person.title,
                department=person.department, external_organisation=person.organisation,
                email="", phone="", reports_to=manager, buying_role=person.role, decision_power=person.power,
                sentiment=person.sentiment, contact_strength=person.contact, is_key_contact=person.key_contact, owner=owner,
            )
            row.email = f"{row.name.lower().replace(' ', '.').replace('ü', 'ue')}@{_domain(account, person)}"
            person.obj = row
            rows.append(row)
        created = bulk_create_with_history(rows, Stakeholder, batch_size=500)
        if not all(r.pk for r in created):  # databases that do not return ids on bulk insert
            ids = {(s.account_id, s.name): s.pk for s in Stakeholder.objects.filter(account__in=key)}
            for row in rows:
                row.pk = row.id = ids[(row.account_id, row.name)]

    # Influence lines.
    line_rows = []
    for account, people, lines in plans:
        seen = set()
        for source, target, polarity, strength, note in lines:
            if source in people and target in people and (source, target) not in seen and source != target:
                seen.add((source, target))
                line_rows.append(InfluenceLine(
                    account=account, source=people[source].obj, target=people[target].obj, polarity=polarity,
                    strength=strength, note=note, since=demo.today - datetime.timedelta(days=rng.randint(200, 2000)),
                ))
    bulk_create_with_history(line_rows, InfluenceLine, batch_size=500)

    # The interaction log: the last 18 months, planned meetings to come, next steps (some recorded twice).
    interactions, who, users = [], [], []
    for index, (account, people, _) in enumerate(plans):
        roles = team.get(account.pk, {})
        members = [u for holders in roles.values() for u in holders]
        if not members:
            continue
        kam = roles.get("kam", members)[0]
        met = [p for p in people.values() if p.met > 0]
        # Stale cases: in some accounts the CEO was last seen months ago, a key contact never.
        stale_ceo = index % 2 == 0
        for _ in range(rng.randint(18, 36) + (30 if account.pk == largest.pk else 0)):
            days_ago = int(rng.triangular(1, 540, 20))
            chosen = [p for p in met if rng.random() < p.met * 0.5] or [rng.choice(met)]
            if stale_ceo:
                chosen = [p for p in chosen if p.key != "ceo" or days_ago > 75] or [people["ops"]]
            if index % 4 == 1:
                chosen = [p for p in chosen if p.key != "cpo" or days_ago > 90] or [people["ops"]]
            kind = rng.choices(kinds, kind_weights)[0]
            ours = [rng.choice(members)] + ([kam] if rng.random() < 0.5 else [])
            date = demo.today - datetime.timedelta(days=days_ago)
            step, owner, due, done = _next_step(rng, date, demo.today, members)
            interactions.append(Interaction(
                account=account, kind=kind, date=date, time=_time(rng) if kind in ("meeting", "call", "visit") else None,
                duration_minutes=rng.choice([30, 45, 60, 90]), location=_location(rng, kind, account),
                summary=rng.choice(SUMMARIES[kind]), next_step=step, next_step_owner=owner, next_step_due=due,
                next_step_done=done, created_by=ours[0],
            ))
            who.append(chosen)
            users.append(set(ours))
        for _ in range(rng.randint(2, 4)):  # planned meetings
            date = demo.today + datetime.timedelta(days=rng.randint(2, 45))
            chosen = rng.sample(list(people.values())[:8], 2)
            interactions.append(Interaction(
                account=account, kind=rng.choice(["meeting", "visit", "call", "meeting"]), date=date, time=_time(rng),
                duration_minutes=rng.choice([60, 90, 120]), location=_location(rng, "meeting", account),
                summary=rng.choice(PLANNED).format(name=chosen[0].obj.name), created_by=kam,
            ))
            who.append(chosen)
            users.append({kam})
        if index % 3 == 2 and len(members) > 1:
            # Two team members record the same next step after the same week of meetings.
            other = next(u for u in members if u != kam)
            date = demo.today - datetime.timedelta(days=rng.randint(3, 10))
            target = people["cfo"].obj.name
            for author, text, shift in ((kam, f"Send the revised offer to {target}", 0),
                                        (other, f"send revised offer to {target}", 2)):
                interactions.append(Interaction(
                    account=account, kind="meeting", date=date + datetime.timedelta(days=shift), time=_time(rng),
                    summary="Pricing round with finance and procurement.", next_step=text, next_step_owner=author,
                    next_step_due=demo.today + datetime.timedelta(days=10 + shift), created_by=author,
                    location=_location(rng, "meeting", account),
                ))
                who.append([people["cpo"]])
                users.append({author})
    created = bulk_create_with_history(interactions, Interaction, batch_size=500)
    if not all(i.pk for i in created):
        created = list(Interaction.objects.filter(account__in=key).order_by("pk"))
    through_people = Interaction.stakeholders.through
    through_users = Interaction.users.through
    Interaction.stakeholders.through.objects.bulk_create(
        [through_people(interaction_id=i.pk, stakeholder_id=p.obj.pk) for i, chosen in zip(created, who)
         for p in {q.key: q for q in chosen}.values()], batch_size=1000)
    Interaction.users.through.objects.bulk_create(
        [through_users(interaction_id=i.pk, user_id=u.pk) for i, ours in zip(created, users) for u in ours], batch_size=1000)


def plans_lookup(plans, account, key: str) -> _Person:
    for plan_account, people, _ in plans:
        if plan_account.pk == account.pk:
            return people[key]
    raise KeyError(key)


def _domain(account, person: _Person) -> str:
    base = person.organisation or account.website.removeprefix("https://www.").removesuffix(".example") or "customer"
    slug = "".join(ch for ch in base.lower() if ch.isalnum()) or "customer"
    return f"{slug}.example"


def _time(rng) -> datetime.time:
    return datetime.time(rng.choice([8, 9, 10, 11, 13, 14, 15, 16]), rng.choice([0, 0, 30]))


def _location(rng, kind: str, account) -> str:
    if kind == "visit":
        return f"{account.city}, plant"
    if kind == "meeting":
        return rng.choice([f"{account.city}, head office", "Video call", f"{account.city}, head office"])
    if kind == "event":
        return rng.choice(["Hannover Messe", "Customer day", "Industry dinner"])
    return ""


SUMMARIES = {
    "meeting": ["Quarterly business review: volumes up, two service tickets open.",
                "Discussed the roll-out to the second plant and the budget for next year.",
                "Pricing round: they want a 5% reduction for a three-year commitment.",
                "Presented the maintenance contract; questions about response times."],
    "call": ["Short call about the delayed delivery; resolved.", "Follow-up on the quote; waiting for the CFO's sign-off.",
             "Checked in after the go-live; happy with the training."],
    "email": ["Sent the revised specification.", "Answered questions on the SLA.", "Shared the case study from a similar plant."],
    "visit": ["Plant tour: saw the new line, met the shift leads.", "On-site workshop on predictive maintenance."],
    "event": ["Met at the trade fair stand; interested in the new controllers.", "Customer day: joined the panel on uptime."],
}
PLANNED = ["Quarterly business review with {name}", "Workshop on next year's volumes with {name}",
           "Contract renewal talk with {name}", "Site visit and lunch with {name}"]
STEPS = ["Send the revised quote", "Book a plant visit for the engineering team", "Share the uptime report",
         "Prepare the renewal proposal", "Introduce our service manager", "Answer the security questionnaire"]


def _next_step(rng, date: datetime.date, today: datetime.date, members: list):
    if rng.random() > 0.45:
        return "", None, None, False
    step = rng.choice(STEPS)
    due = date + datetime.timedelta(days=rng.randint(5, 30))
    done = due < today - datetime.timedelta(days=7) and rng.random() < 0.85
    return step, rng.choice(members), due, done
