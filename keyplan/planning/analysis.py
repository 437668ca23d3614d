"""Plan computations: section content, dependency cycles, decision-maker coverage, the quality checklist.

Pure functions over plain values (``Item``, the relationships' ``Person``): no Django, no
database. ``services.py`` turns rows into these values. Check codes are English codes; the
web layer translates them by code.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

# ---------------------------------------------------------------- vocabulary

# What each written section holds: a text, or a list of short entries (one a line in the form).
SECTIONS: dict[str, dict[str, str]] = {
    "relationships": {"summary": "text"},
    "business": {"goals": "list", "financial_health": "list", "initiatives": "list", "customers": "list",
                 "competitors": "list"},
    "swot": {"strengths": "list", "weaknesses": "list", "opportunities": "list", "threats": "list"},
    "value": {"potential": "text"},
}
TEXT_LIMIT = 5000  # characters of a text field
ENTRY_LIMIT = 300  # characters of one list entry
ENTRIES_LIMIT = 50  # entries of one list

CLOSED_GOAL = ("achieved", "dropped")
CLOSED_STAGES = ("won", "lost")
CLOSED_ACTION = ("done", "dropped")
HORIZONS = ("short", "mid", "long")
REVIEW_CADENCE_DAYS = 90  # a plan not reviewed for longer is no longer living


def empty_section(key: str) -> dict:
    return {name: ("" if kind == "text" else []) for name, kind in SECTIONS[key].items()}


def section_filled(key: str, content: Mapping) -> bool:
    """Whether a section says something: every text written and, for lists, every list with an entry
    (the customer's business asks for its goals and at least one more list)."""
    fields = SECTIONS[key]
    if key == "business":
        return bool(content.get("goals")) and any(content.get(name) for name in fields if name != "goals")
    return all(content.get(name) for name in fields)


# ---------------------------------------------------------------- goals and actions as the computations see them


@dataclass(frozen=True)
class Item:
    """A goal (``goal_id`` None) or an action of a plan."""

    id: int
    title: str
    status: str
    owner_id: int | None = None
    start: datetime.date | None = None
    due: datetime.date | None = None
    goal_id: int | None = None
    horizon: str = ""
    target_value: Decimal | None = None
    stakeholder_id: int | None = None
    milestone: bool = False
    depends_on: tuple[int, ...] = ()

    @property
    def is_goal(self) -> bool:
        return self.goal_id is None

    @property
    def closed(self) -> bool:
        return self.status in (CLOSED_GOAL if self.is_goal else CLOSED_ACTION)

    def overdue(self, today: datetime.date) -> bool:
        return not self.closed and self.due is not None and self.due < today


def find_cycle(edges: Mapping[int, Iterable[int]]) -> list[int] | None:
    """A dependency cycle in ``edges`` (action → the actions it depends on), as the ids along it, or None."""
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    for root in sorted(edges):
        if state.get(root):
            continue
        stack: list[tuple[int, list[int]]] = [(root, sorted(edges.get(root, ())))]
        path = [root]
        state[root] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            nxt = todo.pop(0)
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, sorted(edges.get(nxt, ()))))
    return None


# ---------------------------------------------------------------- relationships


@dataclass(frozen=True)
class Coverage:
    """How well the team covers the customer's decision makers (people: the relationships' Person values)."""

    decision_makers: int
    covered: int  # by a relationship owner or an open action of the plan
    in_contact: int
    supporters: int
    critics: int
    neutral: int
    uncovered: tuple = ()  # the Person values of decision makers nobody covers

    @property
    def share(self) -> float | None:
        return self.covered / self.decision_makers if self.decision_makers else None


def coverage(people: Sequence, action_stakeholders: Iterable[int]) -> Coverage:
    targeted = set(action_stakeholders)
    deciders = [p for p in people if p.decides]
    covered = [p for p in deciders if p.owner_id is not None or p.id in targeted]
    return Coverage(
        decision_makers=len(deciders),
        covered=len(covered),
        in_contact=sum(1 for p in deciders if p.contact != "none"),
        supporters=sum(1 for p in people if p.sentiment == "supporter"),
        critics=sum(1 for p in people if p.sentiment == "critic"),
        neutral=sum(1 for p in people if p.sentiment == "neutral"),
        uncovered=tuple(sorted((p for p in deciders if p not in covered), key=lambda p: p.name.casefold())),
    )


# ---------------------------------------------------------------- quality


@dataclass(frozen=True)
class Check:
    code: str
    ok: bool
    names: tuple[str, ...] = ()  # what fails it (goals, people), for the message
    count: int = 0

    def as_dict(self) -> dict:
        return {"code": self.code, "ok": self.ok, "names": list(self.names), "count": self.count}


@dataclass(frozen=True)
class Quality:
    checks: tuple[Check, ...]
    living: bool

    @property
    def passed(self) -> int:
        return sum(1 for c in self.checks if c.ok)

    @property
    def score(self) -> float:
        return self.passed / len(self.checks) if self.checks else 0.0

    def as_dict(self) -> dict:
        return {"score": round(self.score, 4), "passed": self.passed, "total": len(self.checks), "living": self.living,
                "checks": [c.as_dict() for c in self.checks]}


@dataclass(frozen=True)
class PlanFacts:
    state: str
    starts: datetime.date
    ends: datetime.date
    summary: str
    reviewed_at: datetime.date | None
    sections: Mapping[str, Mapping] = field(default_factory=dict)
    goals: Sequence[Item] = ()
    actions: Sequence[Item] = ()
    uncovered: Sequence[str] = ()  # names of decision makers covered by neither an owner nor an action


def quality(plan: PlanFacts, *, today: datetime.date) -> Quality:
    """The plan's checklist, each check with what fails it. A plan is *living* when it is active,
    its period runs today, and it was reviewed within the cadence."""
    open_goals = [g for g in plan.goals if not g.closed]
    open_actions = [a for a in plan.actions if not a.closed]
    with_action = {a.goal_id for a in plan.actions}
    reviewed = plan.reviewed_at is not None and (today - plan.reviewed_at).days <= REVIEW_CADENCE_DAYS
    incomplete = [g.title for g in open_goals if g.owner_id is None or g.target_value is None or g.due is None]
    overdue = [a.title for a in open_actions if a.overdue(today)]
    horizons = {g.horizon for g in open_goals}
    checks = (
        Check("summary", bool(plan.summary.strip())),
        *(Check(f"section_{key}", section_filled(key, plan.sections.get(key, {}))) for key in SECTIONS),
        Check("goals_horizons", horizons >= set(HORIZONS),
              tuple(h for h in HORIZONS if h not in horizons)),
        Check("goals_complete", bool(open_goals) and not incomplete, tuple(incomplete), len(incomplete)),
        Check("goals_actions", bool(open_goals) and all(g.id in with_action for g in open_goals),
              tuple(g.title for g in open_goals if g.id not in with_action)),
        Check("decision_makers", not plan.uncovered, tuple(plan.uncovered), len(plan.uncovered)),
        Check("no_overdue", not overdue, tuple(overdue), len(overdue)),
        Check("reviewed", reviewed),
    )
    living = plan.state == "active" and plan.starts <= today <= plan.ends and reviewed
    return Quality(checks, living)


def progress(current: Decimal | float | None, target: Decimal | float | None) -> float | None:
    """How far a goal is: current / target, None when either is missing or the target is 0."""
    if current is None or target is None or not target:
        return None
    return float(current) / float(target)


def growth(now: float, before: float) -> float | None:
    return (now - before) / before if before > 0 else None


# ---------------------------------------------------------------- opportunities


def expected_value(amount: Decimal, probability: Decimal) -> Decimal:
    """Amount × probability, to the cent."""
    return (Decimal(amount) * Decimal(probability)).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Deal:
    """An opportunity as the totals see it."""

    amount: Decimal
    probability: Decimal
    stage: str
    expected_close: datetime.date | None = None
    closed_on: datetime.date | None = None


@dataclass(frozen=True)
class Pipeline:
    open: Decimal
    weighted: Decimal
    won: Decimal
    lost: Decimal
    open_count: int
    won_count: int
    lost_count: int

    @property
    def win_rate(self) -> float | None:
        decided = self.won_count + self.lost_count
        return self.won_count / decided if decided else None

    def as_dict(self) -> dict:
        return {"open": float(self.open), "weighted": float(self.weighted), "won": float(self.won), "lost": float(self.lost),
                "open_count": self.open_count, "won_count": self.won_count, "lost_count": self.lost_count,
                "win_rate": self.win_rate}


def pipeline(deals: Iterable[Deal], *, starts: datetime.date, ends: datetime.date) -> Pipeline:
    """A plan's totals for its period: open opportunities expected to close by its end (or without a date),
    their weighted value (amount × probability), and what was won and lost within the period."""
    zero = Decimal("0.00")
    open_, weighted, won, lost = zero, zero, zero, zero
    counts = {"open": 0, "won": 0, "lost": 0}
    for d in deals:
        if d.stage == "won":
            if d.closed_on and starts <= d.closed_on <= ends:
                won += d.amount
                counts["won"] += 1
        elif d.stage == "lost":
            if d.closed_on and starts <= d.closed_on <= ends:
                lost += d.amount
                counts["lost"] += 1
        elif d.expected_close is None or d.expected_close <= ends:
            open_ += d.amount
            weighted += expected_value(d.amount, d.probability)
            counts["open"] += 1
    return Pipeline(open_, weighted, won, lost, counts["open"], counts["won"], counts["lost"])


# ---------------------------------------------------------------- whitespace map


@dataclass(frozen=True)
class Chance:
    """An opportunity as the whitespace map sees it."""

    id: int
    name: str
    division: str
    product_line: str
    stage: str
    amount: Decimal
    probability: Decimal


@dataclass(frozen=True)
class Marked:
    """What the team set by hand on one cell."""

    state: str
    competitor: str = ""
    estimated_value: Decimal | None = None
    note: str = ""
    version: int = 1


@dataclass(frozen=True)
class Cell:
    division: str
    product_line: str
    state: str  # in_use, open_opportunity, competitor, not_relevant, whitespace
    competitor: str = ""
    estimated_value: Decimal | None = None
    note: str = ""
    opportunities: tuple[Chance, ...] = ()
    marked: Marked | None = None
    revenue: Decimal = Decimal("0.00")  # from the ledger's lines naming this division and product line

    @property
    def open_amount(self) -> Decimal:
        return sum((c.amount for c in self.opportunities if c.stage not in CLOSED_STAGES), Decimal("0.00"))

    @property
    def whitespace_value(self) -> Decimal:
        if self.state != "whitespace":
            return Decimal("0.00")
        return self.estimated_value or Decimal("0.00")


@dataclass(frozen=True)
class Grid:
    divisions: tuple[str, ...]
    product_lines: tuple[str, ...]
    cells: Mapping[tuple[str, str], Cell]
    row_totals: Mapping[str, Decimal]  # whitespace value per division
    column_totals: Mapping[str, Decimal]  # whitespace value per product line
    whitespace_value: Decimal
    counts: Mapping[str, int]

    def rows(self) -> list[tuple[str, list[Cell], Decimal]]:
        return [(d, [self.cells[(d, p)] for p in self.product_lines], self.row_totals[d]) for d in self.divisions]


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def whitespace_grid(divisions: Iterable[str], product_lines: Iterable[str], marked: Mapping[tuple[str, str], Marked],
                    chances: Iterable[Chance], revenue: Mapping[tuple[str, str], Decimal] | None = None) -> Grid:
    """The divisions × product lines grid. Revenue from the ledger (``revenue`` by division and product line)
    or a won opportunity puts a cell in use, and an open one makes it an open opportunity; otherwise the cell
    is what the team marked (in use, held by a competitor, not relevant), or whitespace, with the value they
    estimate. Names match whatever their case and spacing."""
    names: dict[str, dict[str, str]] = {"d": {}, "p": {}}  # first spelling seen wins

    def name(kind: str, text: str) -> str:
        return names[kind].setdefault(_key(text), " ".join(text.split()))

    for d in divisions:
        if d.strip():
            name("d", d)
    for p in product_lines:
        if p.strip():
            name("p", p)
    by_cell: dict[tuple[str, str], list[Chance]] = {}
    for c in chances:
        if c.division.strip() and c.product_line.strip():
            by_cell.setdefault((name("d", c.division), name("p", c.product_line)), []).append(c)
    marks = {}
    for (d, p), m in marked.items():
        marks[(name("d", d), name("p", p))] = m
    sold: dict[tuple[str, str], Decimal] = {}
    for (d, p), amount in (revenue or {}).items():
        if d.strip() and p.strip():
            cell_key = (name("d", d), name("p", p))
            sold[cell_key] = sold.get(cell_key, Decimal("0.00")) + amount
    rows = tuple(sorted(names["d"].values(), key=str.casefold))
    columns = tuple(sorted(names["p"].values(), key=str.casefold))
    cells: dict[tuple[str, str], Cell] = {}
    counts = {"in_use": 0, "open_opportunity": 0, "competitor": 0, "not_relevant": 0, "whitespace": 0}
    for d in rows:
        for p in columns:
            found = tuple(by_cell.get((d, p), ()))
            m = marks.get((d, p))
            if sold.get((d, p), 0) > 0 or any(c.stage == "won" for c in found):
                state = "in_use"
            elif any(c.stage not in CLOSED_STAGES for c in found):
                state = "open_opportunity"
            elif m is not None:
                state = m.state
            else:
                state = "whitespace"
            cell = Cell(d, p, state, m.competitor if m else "", m.estimated_value if m else None, m.note if m else "",
                        found, m, sold.get((d, p), Decimal("0.00")))
            cells[(d, p)] = cell
            counts[state] = counts.get(state, 0) + 1
    zero = Decimal("0.00")
    row_totals = {d: sum((cells[(d, p)].whitespace_value for p in columns), zero) for d in rows}
    column_totals = {p: sum((cells[(d, p)].whitespace_value for d in rows), zero) for p in columns}
    return Grid(rows, columns, cells, row_totals, column_totals, sum(row_totals.values(), zero), counts)


# ---------------------------------------------------------------- team responsibilities


def raci_warnings(areas: Sequence[str], assignments: Iterable[tuple[str, str, str]]) -> dict[str, list[str]]:
    """Per area, who is accountable: ``assignments`` are (person, area, role letter). An area needs exactly
    one accountable person; the result names the areas with none (empty list) or more than one."""
    accountable: dict[str, list[str]] = {area: [] for area in areas}
    for person, area, role in assignments:
        if role == "A" and area in accountable:
            accountable[area].append(person)
    return {area: people for area, people in accountable.items() if len(people) != 1}


# ---------------------------------------------------------------- share of wallet


def share_of_wallet(revenue: float | Decimal | None, wallet: float | Decimal | None) -> float | None:
    """Our revenue over the customer's estimated wallet (their spend in our categories), as a share 0–1;
    None without a wallet. It may pass 1 when the wallet was estimated too low: shown as it is."""
    if revenue is None or wallet is None or not wallet or float(wallet) <= 0:
        return None
    return max(float(revenue), 0.0) / float(wallet)


# ---------------------------------------------------------------- the program charter

# What the charter's leaders write: texts, and lists of short entries (one a line in the form).
CHARTER: dict[str, str] = {
    "purpose": "text",
    "objectives": "list",
    "success_measures": "list",
    "roles": "list",
    "note_concentration": "text",
    "note_buying_center": "text",
    "note_relationship_age": "text",
    "note_growth_room": "text",
    "note_investment": "text",
}
READINESS = ("concentration", "buying_center", "relationship_age", "growth_room", "investment")
YES, PARTLY, NO, UNKNOWN = "yes", "partly", "no", "unknown"


@dataclass(frozen=True)
class ReadinessFacts:
    """What Keyplan knows that answers the guides' questions of whether KAM fits the company.

    Shares are 0–1; None where the data is missing (no ledger, no key accounts, …)."""

    accounts_with_revenue: int = 0
    vital_few: int = 0  # the fewest accounts that make 80 % of revenue
    vital_few_share: float | None = None  # … as a share of the accounts with revenue
    key_accounts: int = 0
    key_revenue_share: float | None = None  # the key accounts' share of revenue
    stakeholders: Sequence[int] = ()  # per key account: stakeholders on the map
    decision_makers: Sequence[int] = ()  # per key account: decision makers on the map
    relationship_years: Sequence[float] = ()  # per key account with a known start: years since
    whitespace_value: float = 0.0  # across the key accounts
    weighted_pipeline: float = 0.0  # open opportunities × probability, across the key accounts
    key_revenue: float = 0.0  # the key accounts' revenue of the period
    growth_mapped: int = 0  # key accounts with a whitespace map or an opportunity
    capacity: int = 0  # key accounts the KAMs can carry
    with_kam: int = 0
    with_sponsor: int = 0


@dataclass(frozen=True)
class Answer:
    code: str  # a key of READINESS
    verdict: str  # yes, partly, no, unknown
    figures: Mapping[str, float | int | None] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"code": self.code, "verdict": self.verdict, "figures": dict(self.figures)}


def median(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def readiness(facts: ReadinessFacts) -> tuple[Answer, ...]:
    """The five readiness questions answered from data: a verdict and the figures behind it.

    - concentration: yes when at most 30 % of the accounts with revenue make 80 % of it, partly up to 50 %;
    - buying center: yes when a mapped key account has (median) 2 or more decision makers or 5 or more
      stakeholders on its map, partly with 3 or more stakeholders;
    - relationship age: yes when the key accounts' relationships are (median) 3 years old or more, partly 1;
    - room to grow: yes when whitespace and weighted pipeline reach 20 % of the key accounts' revenue,
      partly when there is any;
    - investment in people: yes when every key account has a KAM and an executive sponsor and the KAMs can
      carry them all, partly when at least half have both.
    """
    answers = []
    share = facts.vital_few_share
    verdict = UNKNOWN if share is None else YES if share <= 0.3 else PARTLY if share <= 0.5 else NO
    answers.append(Answer("concentration", verdict, {
        "accounts_with_revenue": facts.accounts_with_revenue, "vital_few": facts.vital_few, "vital_few_share": share,
        "key_accounts": facts.key_accounts, "key_revenue_share": facts.key_revenue_share}))

    # Over the key accounts whose map has anyone on it: an empty map says nothing about how the customer buys.
    mapped = [(n, d) for n, d in zip(facts.stakeholders, facts.decision_makers, strict=True) if n]
    people, deciders = median([n for n, _d in mapped]), median([d for _n, d in mapped])
    if people is None:
        verdict = UNKNOWN
    elif (deciders or 0) >= 2 or people >= 5:
        verdict = YES
    else:
        verdict = PARTLY if people >= 3 else NO
    answers.append(Answer("buying_center", verdict, {
        "key_accounts": len(facts.stakeholders), "stakeholders_median": people, "decision_makers_median": deciders,
        "mapped": len(mapped)}))

    years = median(facts.relationship_years)
    verdict = UNKNOWN if years is None else YES if years >= 3 else PARTLY if years >= 1 else NO
    answers.append(Answer("relationship_age", verdict, {
        "years_median": None if years is None else round(years, 1), "known": len(facts.relationship_years),
        "key_accounts": facts.key_accounts}))

    room = facts.whitespace_value + facts.weighted_pipeline
    ratio = room / facts.key_revenue if facts.key_revenue > 0 else None
    if not facts.growth_mapped:
        verdict = UNKNOWN
    elif room <= 0:
        verdict = NO
    else:
        verdict = YES if ratio is None or ratio >= 0.2 else PARTLY
    answers.append(Answer("growth_room", verdict, {
        "whitespace_value": round(facts.whitespace_value, 2), "weighted_pipeline": round(facts.weighted_pipeline, 2),
        "key_revenue": round(facts.key_revenue, 2), "room_share": None if ratio is None else round(ratio, 4),
        "mapped": facts.growth_mapped, "key_accounts": facts.key_accounts}))

    n = facts.key_accounts
    if not n:
        verdict = UNKNOWN
    elif facts.with_kam == n and facts.with_sponsor == n and facts.capacity >= n:
        verdict = YES
    else:
        verdict = PARTLY if min(facts.with_kam, facts.with_sponsor) * 2 >= n else NO
    answers.append(Answer("investment", verdict, {
        "key_accounts": n, "with_kam": facts.with_kam, "with_sponsor": facts.with_sponsor, "capacity": facts.capacity}))
    return tuple(answers)
