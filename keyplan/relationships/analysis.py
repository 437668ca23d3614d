"""Relationship analyses: who to win next and through whom, stale relationships, duplicate
next steps, contact strength and the layout of the stakeholder map.

Pure functions over plain values (``Person``, ``Line``, ``NextStep``): no Django, no
database. ``services.py`` turns rows into these values; the pages, the API and
the CLI show the results. Labels are English codes with English text; the web
layer translates them by code.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

# ---------------------------------------------------------------- vocabulary (the values stored in the database)

POWER_WEIGHT = {"high": 3, "medium": 2, "low": 1}
SENTIMENT_GAP = {"critic": 3, "neutral": 2, "supporter": 0}
CONTACT_GAP = {"none": 2, "weak": 1, "medium": 0, "strong": 0}
CONTACT_RANK = {"none": 0, "weak": 1, "medium": 2, "strong": 3}
LINE_STRENGTH = {"weak": 1, "medium": 2, "strong": 3}
# A step of a path to someone: a reporting line counts, but less than any positive influence line.
PATH_STEP_STRENGTH = {"reporting": 0, **LINE_STRENGTH}
ROLE_WEIGHT = {"decision_maker": 2, "economic_buyer": 2, "blocker": 2, "gatekeeper": 1, "influencer": 1}
# The roles that decide: stale alerts and "decision makers without an owner" watch them.
DECIDING_ROLES = ("decision_maker", "economic_buyer")

# Contact strength from interactions: points over the last CONTACT_WINDOW_DAYS days,
# face to face counting double. No interaction held at all: the manual value stands.
CONTACT_WINDOW_DAYS = 180
CONTACT_POINTS = {"meeting": 2, "visit": 2, "event": 2, "call": 1, "email": 1}
STRONG_CONTACT_POINTS = 6
MEDIUM_CONTACT_POINTS = 3

STALE_AFTER_DAYS = 60
# The decision powers the stale alerts watch unless a lead chooses otherwise (see StaleRule).
STALE_POWERS = ("high", "medium")
MAX_PATHS = 3


def contact_strength(*, held: int, recent_points: int, manual: str) -> str:
    """The effective contact strength: computed when interactions were held, the manual value otherwise."""
    if held <= 0:
        return manual
    if recent_points >= STRONG_CONTACT_POINTS:
        return "strong"
    if recent_points >= MEDIUM_CONTACT_POINTS:
        return "medium"
    return "weak"


def contact_points(kinds_and_dates: Iterable[tuple[str, datetime.date]], *, today: datetime.date) -> tuple[int, int]:
    """(held, recent_points) of one stakeholder's interactions: the inputs of contact_strength()."""
    held = points = 0
    start = today - datetime.timedelta(days=CONTACT_WINDOW_DAYS)
    for kind, date in kinds_and_dates:
        if date <= today:
            held += 1
            if date > start:
                points += CONTACT_POINTS.get(kind, 1)
    return held, points


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Person:
    """One stakeholder as the analyses see it; ``contact`` is the effective contact strength."""

    id: int
    name: str
    title: str = ""
    department: str = ""
    organisation: str = ""  # the external organisation; empty for the customer's own people
    reports_to: int | None = None
    buying_role: str = ""
    power: str = "medium"
    sentiment: str = "neutral"
    contact: str = "none"
    key_contact: bool = False
    owner_id: int | None = None
    owner: str = ""  # the owner's full name (or username)
    owner_username: str = ""
    last_contact: datetime.date | None = None

    @property
    def external(self) -> bool:
        return bool(self.organisation)

    @property
    def decides(self) -> bool:
        return self.buying_role in DECIDING_ROLES

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name}

    def owner_dict(self) -> dict | None:
        """The relationship owner as the API shows users: id, username and name."""
        if self.owner_id is None:
            return None
        return {"id": self.owner_id, "username": self.owner_username, "name": self.owner}


@dataclass(frozen=True)
class Line:
    source: int
    target: int
    polarity: str = "positive"
    strength: str = "medium"
    note: str = ""
    id: int | None = None

    @property
    def positive(self) -> bool:
        return self.polarity == "positive"


# ---------------------------------------------------------------- who to win

REASON_TEXT = {
    "urgent_blocker": "Blocker with high decision power: urgent.",
    "high_power": "High decision power.",
    "deciding_role": "Decides the purchase ({role}).",
    "blocker": "Blocks the decision.",
    "critic": "Critical of us.",
    "neutral": "Neutral towards us.",
    "no_contact": "Nobody on our side is in contact.",
    "weak_contact": "Only weak contact.",
    "no_owner": "Nobody on the team owns this relationship.",
    "negative_influence": "Negatively influenced by {names}.",
}
ROLE_TEXT = {
    "decision_maker": "decision maker", "economic_buyer": "economic buyer", "influencer": "influencer",
    "champion": "champion", "user": "user", "gatekeeper": "gatekeeper", "blocker": "blocker",
}


@dataclass(frozen=True)
class Reason:
    code: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        params = dict(self.params)
        if "role" in params:
            params["role"] = ROLE_TEXT.get(params["role"], params["role"])
        return REASON_TEXT[self.code].format(**params)

    def as_dict(self) -> dict:
        return {"code": self.code, "text": self.text}


@dataclass(frozen=True)
class Path:
    """People from the one who starts (a supporter or external party) to the target.

    Each step is a positive influence line or a reporting line (either way up or down
    the line: a manager can introduce us to their own manager, and to their team).
    ``links`` says which, step by step; ``stale`` that nobody has been in contact with
    the start for the stale threshold or longer (or ever).
    """

    people: tuple[Person, ...]
    weakest: str  # the weakest step: a line strength, or "reporting" (weaker than any influence line)
    links: tuple[str, ...] = ()  # "influence" or "reporting", one per step
    stale: bool = False

    @property
    def start(self) -> Person:
        return self.people[0]

    @property
    def steps(self) -> int:
        return len(self.people) - 1

    @property
    def owner(self) -> str:
        return self.start.owner

    @property
    def trail(self) -> tuple[tuple[Person, str], ...]:
        """Each person with the kind of step that led to them ("" for the start)."""
        return tuple(zip(self.people, ("", *self.links)))

    @property
    def order_key(self) -> tuple:
        """Best first: a start a team member owns, the start's contact strength, fewer steps, the stronger weakest step."""
        return (
            self.start.owner_id is None,
            -CONTACT_RANK.get(self.start.contact, 0),
            self.steps,
            -PATH_STEP_STRENGTH.get(self.weakest, 0),
            [p.name.casefold() for p in self.people],
            [p.id for p in self.people],
        )

    def owner_dict(self) -> dict | None:
        return self.start.owner_dict()

    def as_dict(self) -> dict:
        return {
            "steps": self.steps,
            "weakest_line": self.weakest,
            "links": list(self.links),
            "owner": self.owner_dict(),
            "start_contact": self.start.contact,
            "start_last_contact": self.start.last_contact,
            "stale": self.stale,
        }


@dataclass(frozen=True)
class Risk:
    """A negative influence line into the target."""

    source: Person
    strength: str
    note: str = ""

    def as_dict(self) -> dict:
        return {"stakeholder": self.source.as_dict(), "strength": self.strength, "note": self.note}


@dataclass(frozen=True)
class Target:
    person: Person
    rank: int
    score: int
    urgent: bool
    reasons: tuple[Reason, ...]
    paths: tuple[Path, ...]
    risks: tuple[Risk, ...]

    @property
    def best_path(self) -> Path | None:
        return self.paths[0] if self.paths else None

    @property
    def path_owner(self) -> str:
        """The team member who owns the best path ("" when nobody does or there is no path)."""
        return self.best_path.owner if self.best_path else ""

    def as_dict(self) -> dict:
        """JSON-ready: each path a list of the stakeholders from the one who starts to the target."""
        best = self.best_path
        return {
            "rank": self.rank,
            "stakeholder": self.person.as_dict(),
            "urgent": self.urgent,
            "score": self.score,
            "reasons": [r.as_dict() for r in self.reasons],
            "paths": [[p.as_dict() for p in path.people] for path in self.paths],
            "path_details": [path.as_dict() for path in self.paths],
            "no_path": not self.paths,
            "best_path_owner": best.owner_dict() if best else None,
            "risks": [r.as_dict() for r in self.risks],
        }


def _reasons(person: Person, urgent: bool, risks: Sequence[Risk]) -> list[Reason]:
    reasons = []
    if urgent:
        reasons.append(Reason("urgent_blocker"))
    elif person.power == "high":
        reasons.append(Reason("high_power"))
    if person.buying_role in DECIDING_ROLES:
        reasons.append(Reason("deciding_role", (("role", person.buying_role),)))
    elif person.buying_role == "blocker" and not urgent:
        reasons.append(Reason("blocker"))
    if person.sentiment in ("critic", "neutral"):
        reasons.append(Reason(person.sentiment))
    if person.contact == "none":
        reasons.append(Reason("no_contact"))
    elif person.contact == "weak":
        reasons.append(Reason("weak_contact"))
    if person.owner_id is None:
        reasons.append(Reason("no_owner"))
    if risks:
        names = ", ".join(r.source.name for r in risks)
        reasons.append(Reason("negative_influence", (("names", names),)))
    return reasons


def _can_start_path(person: Person) -> bool:
    # Supporters carry our message; external parties (consultants, auditors) can, unless they are critics.
    return person.sentiment == "supporter" or (person.external and person.sentiment != "critic")


@dataclass(frozen=True)
class _Step:
    source: int
    strength: str  # a line strength, or "reporting"
    kind: str  # "influence" or "reporting"


def _steps_into(people: dict[int, Person], lines: Sequence[Line]) -> dict[int, list[_Step]]:
    """For each person, the steps that lead to them: positive influence lines, and reporting lines both ways.

    Between two people, an influence line in one direction replaces the reporting line in that
    direction: a positive one is the stronger way, a negative one says the step is closed.
    """
    into: dict[int, list[_Step]] = defaultdict(list)
    drawn: set[tuple[int, int]] = set()
    for line in lines:
        if line.source in people and line.target in people and line.source != line.target:
            drawn.add((line.source, line.target))
            if line.positive:
                into[line.target].append(_Step(line.source, line.strength, "influence"))
    for person in people.values():
        manager = person.reports_to
        if manager is None or manager not in people or manager == person.id:
            continue
        for source, target in ((person.id, manager), (manager, person.id)):
            if (source, target) not in drawn:
                into[target].append(_Step(source, "reporting", "reporting"))
    return into


def find_paths(
    target: Person,
    people: dict[int, Person],
    lines: Sequence[Line],
    *,
    today: datetime.date | None = None,
    stale_days: int = STALE_AFTER_DAYS,
    steps_into: dict[int, list[_Step]] | None = None,
) -> list[Path]:
    """Paths to ``target`` over one or two steps, best first (``Path.order_key``).

    A step is a positive influence line or a reporting line, up or down. A path starts
    with a supporter or a non-critical external party; the person in the middle of a
    two-step path is anyone but a critic (a critic would not carry our case). With
    ``today``, a path whose start was not contacted for ``stale_days`` days is marked stale.
    """
    into = steps_into if steps_into is not None else _steps_into(people, lines)
    found: list[Path] = []
    for first in into.get(target.id, ()):
        middle = people[first.source]
        if middle.id == target.id:
            continue
        if _can_start_path(middle):
            found.append(_path((middle, target), (first,), today, stale_days))
        if middle.sentiment == "critic":
            continue
        for second in into.get(middle.id, ()):
            start = people[second.source]
            if start.id in (target.id, middle.id) or not _can_start_path(start):
                continue
            found.append(_path((start, middle, target), (second, first), today, stale_days))
    found.sort(key=lambda p: p.order_key)
    return found


def _path(people: tuple[Person, ...], steps: tuple[_Step, ...], today: datetime.date | None, stale_days: int) -> Path:
    weakest = min((step.strength for step in steps), key=lambda s: PATH_STEP_STRENGTH.get(s, 0))
    stale = today is not None and _is_stale(people[0], today, stale_days)
    return Path(people, weakest, tuple(step.kind for step in steps), stale)


def who_to_win(
    people: Sequence[Person],
    lines: Sequence[Line],
    *,
    today: datetime.date | None = None,
    stale_days: int = STALE_AFTER_DAYS,
) -> list[Target]:
    """The stakeholders to work on, most important first, each with why and through whom.

    Order: blockers with high decision power (urgent); then high decision power with a
    neutral or critical sentiment or weak contact; then everyone else with something to
    win, by score = power × (sentiment gap + contact gap) + weight of the role + negative
    influences. Supporters with medium or strong contact have nothing to win and are left out.
    """
    by_id = {p.id: p for p in people}
    negative_in: dict[int, list[Risk]] = defaultdict(list)
    for line in lines:
        if not line.positive and line.source in by_id and line.target in by_id:
            negative_in[line.target].append(Risk(by_id[line.source], line.strength, line.note))
    candidates = []
    for person in people:
        urgent = person.buying_role == "blocker" and person.power == "high"
        gap = SENTIMENT_GAP.get(person.sentiment, 0) + CONTACT_GAP.get(person.contact, 0)
        if not urgent and gap == 0:
            continue
        risks = sorted(negative_in[person.id], key=lambda r: (-LINE_STRENGTH.get(r.strength, 1), r.source.name))
        score = POWER_WEIGHT.get(person.power, 1) * gap + ROLE_WEIGHT.get(person.buying_role, 0) + len(risks)
        first_tier = person.power == "high" and gap > 0
        key = (not urgent, not first_tier, -score, person.name.casefold(), person.id)
        candidates.append((key, person, urgent, score, risks))
    candidates.sort(key=lambda c: c[0])
    targets = []
    steps_into = _steps_into(by_id, lines)
    for rank, (_key, person, urgent, score, risks) in enumerate(candidates, start=1):
        paths = find_paths(person, by_id, lines, today=today, stale_days=stale_days, steps_into=steps_into)[:MAX_PATHS]
        targets.append(Target(person, rank, score, urgent, tuple(_reasons(person, urgent, risks)), tuple(paths), tuple(risks)))
    return targets


def decision_makers_without_owner(people: Sequence[Person]) -> list[Person]:
    return sorted((p for p in people if p.decides and p.owner_id is None), key=lambda p: p.name.casefold())


@dataclass(frozen=True)
class BuyingCenter:
    department: str
    people: tuple[Person, ...]


def buying_centers_without_contact(people: Sequence[Person]) -> list[BuyingCenter]:
    """Departments of the customer in which nobody has any contact with us."""
    by_department: dict[str, list[Person]] = defaultdict(list)
    for person in people:
        if not person.external and person.department.strip():
            by_department[person.department.strip()].append(person)
    return [
        BuyingCenter(name, tuple(sorted(members, key=lambda p: p.name.casefold())))
        for name, members in sorted(by_department.items(), key=lambda item: item[0].casefold())
        if all(p.contact == "none" for p in members)
    ]


# ---------------------------------------------------------------- stale relationships


@dataclass(frozen=True)
class StaleRule:
    """Who the stale alerts watch, and after how many days without contact.

    A stakeholder is watched when their decision power is in ``powers``, their buying
    role in ``roles``, or (with ``key_contacts``) they are a key contact point.
    """

    days: int = STALE_AFTER_DAYS
    powers: tuple[str, ...] = STALE_POWERS
    roles: tuple[str, ...] = DECIDING_ROLES
    key_contacts: bool = True

    def watches(self, person: Person) -> bool:
        return (
            person.power in self.powers
            or (bool(person.buying_role) and person.buying_role in self.roles)
            or (self.key_contacts and person.key_contact)
        )


def _is_stale(person: Person, today: datetime.date, days: int) -> bool:
    """Not contacted for ``days`` days or more, or never."""
    return person.last_contact is None or (today - person.last_contact).days >= days


@dataclass(frozen=True)
class Stale:
    person: Person
    days_since: int | None  # None: never contacted

    @property
    def never(self) -> bool:
        return self.days_since is None


def stale_relationships(
    people: Sequence[Person], *, today: datetime.date, days: int | None = None, rule: StaleRule | None = None
) -> list[Stale]:
    """The watched stakeholders (``rule``) not contacted for ``rule.days`` days or more (or never), longest first.

    ``days`` overrides the rule's threshold.
    """
    rule = rule or StaleRule()
    days = rule.days if days is None else days
    if days < 1:
        raise ValueError("days must be at least 1")
    stale = []
    for person in people:
        if not rule.watches(person) or not _is_stale(person, today, days):
            continue
        stale.append(Stale(person, None if person.last_contact is None else (today - person.last_contact).days))
    stale.sort(key=lambda s: (s.days_since is not None, -(s.days_since or 0), s.person.name.casefold(), s.person.id))
    return stale


# ---------------------------------------------------------------- duplicate next steps


@dataclass(frozen=True)
class NextStep:
    interaction_id: int
    text: str
    recorded_by: int | None
    due: datetime.date | None = None
    done: bool = False


DUPLICATE_SIMILARITY = 0.8
DUPLICATE_DUE_WITHIN_DAYS = 14


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"\w+", text))


def similar_text(a: str, b: str) -> bool:
    a, b = _normalise(a), _normalise(b)
    if not a or not b:
        return False
    if a == b:
        return True
    words_a, words_b = set(a.split()), set(b.split())
    overlap = len(words_a & words_b) / len(words_a | words_b)
    return overlap >= DUPLICATE_SIMILARITY or SequenceMatcher(None, a, b).ratio() >= DUPLICATE_SIMILARITY


def possible_duplicates(steps: Sequence[NextStep]) -> dict[int, list[int]]:
    """Open next steps that two different people recorded with (nearly) the same words and close due dates.

    Answers ``{interaction id: [ids of the interactions whose next step looks the same]}``.
    """
    open_steps = [s for s in steps if not s.done and s.text.strip()]
    found: dict[int, list[int]] = defaultdict(list)
    for i, a in enumerate(open_steps):
        for b in open_steps[i + 1:]:
            if a.recorded_by == b.recorded_by:
                continue
            if a.due and b.due and abs((a.due - b.due).days) > DUPLICATE_DUE_WITHIN_DAYS:
                continue
            if similar_text(a.text, b.text):
                found[a.interaction_id].append(b.interaction_id)
                found[b.interaction_id].append(a.interaction_id)
    return {key: sorted(value) for key, value in found.items()}


# ---------------------------------------------------------------- map layout

H_GAP = 20  # between neighbouring blocks
V_GAP = 48  # between a manager and the row below
WRAP_GAP = 24  # between a manager and their team wrapped into columns
STACK_GAP = 10  # between people stacked in a column
INDENT = 18  # stacked people sit right of their manager's trunk line
PANEL_GAP = 56  # between the hierarchy and the external parties
ORG_HEAD = 26  # height of an organisation's heading in the external panel
# The printable area of an A4 landscape page with 10 mm margins, in mm.
PAGE_W, PAGE_H = 277.0, 190.0
COMPACT_FROM = 60  # from this many people on, nodes are drawn compact (two lines)
# Millimetres per drawing unit from which 12-unit text prints at about 7 pt: good enough to read.
LEGIBLE_SCALE = 0.2


@dataclass(frozen=True)
class NodeSize:
    width: float
    height: float
    compact: bool


REGULAR = NodeSize(184, 64, False)
COMPACT = NodeSize(156, 44, True)


@dataclass
class Block:
    """A laid-out subtree: its size, its own boxes and lines, and the blocks placed inside it, relative to (0, 0).

    Placing a block records a reference and an offset; flatten() adds the offsets up
    once, so that nesting stays linear in the number of people however deep the tree.
    """

    width: float
    height: float
    boxes: dict[int, tuple[float, float]] = field(default_factory=dict)
    lines: list[list[tuple[float, float]]] = field(default_factory=list)
    anchor: float = 0.0  # x where the connector from the manager arrives
    reaches_up: bool = False  # its own lines already reach up to the manager's bus (stacks)
    parts: list[tuple["Block", float, float]] = field(default_factory=list)

    def place(self, into: "Block", dx: float, dy: float) -> None:
        into.parts.append((self, dx, dy))

    def flatten(self) -> tuple[dict[int, tuple[float, float]], list[list[tuple[float, float]]]]:
        boxes: dict[int, tuple[float, float]] = {}
        lines: list[list[tuple[float, float]]] = []
        pending = [(self, 0.0, 0.0)]
        while pending:
            block, dx, dy = pending.pop()
            boxes.update({k: (x + dx, y + dy) for k, (x, y) in block.boxes.items()})
            lines.extend([[(x + dx, y + dy) for x, y in line] for line in block.lines])
            pending.extend((part, dx + px, dy + py) for part, px, py in block.parts)
        return boxes, lines

    @property
    def empty(self) -> bool:
        return not self.boxes and not self.parts


@dataclass(frozen=True)
class Panel:
    """A labelled area: the external parties' side panel and each organisation's group in it."""

    x: float
    y: float
    width: float
    height: float
    title: str
    kind: str  # "externals" (the whole side panel) or "organisation"


@dataclass
class MapLayout:
    width: float
    height: float
    boxes: dict[int, tuple[float, float]]  # top-left corner of each person's box
    reporting: list[list[tuple[float, float]]]  # solid connector polylines
    panels: list[Panel]
    node: NodeSize = REGULAR

    @property
    def node_w(self) -> float:
        return self.node.width

    @property
    def node_h(self) -> float:
        return self.node.height

    def center(self, person_id: int) -> tuple[float, float]:
        x, y = self.boxes[person_id]
        return x + self.node.width / 2, y + self.node.height / 2

    @property
    def print_scale(self) -> float:
        """Millimetres per unit when the map is fitted onto one A4 landscape page."""
        if not self.width or not self.height:
            return 1.0
        return min(PAGE_W / self.width, PAGE_H / self.height)


class _Tree:
    """One layout pass: reporting lines drawn as an org chart down to ``depth`` levels, as indented lists below."""

    def __init__(self, children: dict[int, list[int]], node: NodeSize, depth: int, column: float):
        self.children = children
        self.node = node
        self.depth = depth  # levels laid out side by side; deeper levels are indented lists
        self.column = column  # the height at which a stack of people wraps into a new column

    def leaf(self, pid: int) -> Block:
        return Block(self.node.width, self.node.height, {pid: (0, 0)}, anchor=self.node.width / 2)

    def indented(self, pid: int) -> Block:
        """A manager with everyone below as an indented list, like a file tree; a long list wraps into columns."""
        kids = self.children.get(pid, [])
        block = self.leaf(pid)
        if not kids:
            return block
        blocks = [self.indented(kid) for kid in kids]
        if len(blocks) > 1 and sum(b.height + STACK_GAP for b in blocks) - STACK_GAP > self.column:
            below = self.stack(blocks, trunk=True, bus_gap=WRAP_GAP)
            below.place(block, 0, self.node.height + WRAP_GAP)
            block.lines.append([(INDENT / 2, self.node.height), (INDENT / 2, self.node.height + WRAP_GAP / 2)])
            block.width = max(block.width, below.width)
            block.height = self.node.height + WRAP_GAP + below.height
            return block
        y = self.node.height + STACK_GAP
        trunk_x = INDENT / 2
        last_tick = y
        for child in blocks:
            child.place(block, INDENT, y)
            last_tick = y + self.node.height / 2
            block.lines.append([(trunk_x, last_tick), (INDENT, last_tick)])
            block.width = max(block.width, INDENT + child.width)
            y += child.height + STACK_GAP
        block.lines.append([(trunk_x, self.node.height), (trunk_x, last_tick)])
        block.height = y - STACK_GAP
        return block

    def stack(self, blocks: Sequence[Block], *, trunk: bool, bus_gap: float = V_GAP) -> Block:
        """Blocks in columns no taller than ``self.column``; with ``trunk``, joined to a bus above them."""
        columns: list[list[Block]] = [[]]
        height = 0.0
        for child in blocks:
            if columns[-1] and height + child.height > self.column:
                columns.append([])
                height = 0.0
            columns[-1].append(child)
            height += child.height + STACK_GAP
        out = Block(0, 0)
        x = 0.0
        trunks = []
        for column in columns:
            y, col_w, last_tick = 0.0, 0.0, 0.0
            offset = INDENT if trunk else 0
            for child in column:
                child.place(out, x + offset, y)
                last_tick = y + self.node.height / 2
                if trunk:
                    out.lines.append([(x + INDENT / 2, last_tick), (x + INDENT, last_tick)])
                col_w = max(col_w, offset + child.width)
                y += child.height + STACK_GAP
            if trunk:
                out.lines.append([(x + INDENT / 2, -bus_gap / 2), (x + INDENT / 2, last_tick)])
                trunks.append(x + INDENT / 2)
            out.height = max(out.height, y - STACK_GAP)
            x += col_w + H_GAP
        out.width = x - H_GAP
        if trunk and len(trunks) > 1:
            out.lines.append([(trunks[0], -bus_gap / 2), (trunks[-1], -bus_gap / 2)])
        out.anchor = (trunks[0] + trunks[-1]) / 2 if trunk else out.width / 2
        out.reaches_up = trunk
        return out

    def row(self, blocks: Sequence[Block]) -> tuple[Block, list[float]]:
        out, anchors, x = Block(0, 0), [], 0.0
        for child in blocks:
            child.place(out, x, 0)
            anchors.append(x + child.anchor)
            out.height = max(out.height, child.height)
            x += child.width + H_GAP
        out.width = x - H_GAP
        return out, anchors

    def subtree(self, pid: int, level: int = 0) -> Block:
        kids = self.children.get(pid, [])
        if not kids:
            return self.leaf(pid)
        if level + 1 >= self.depth:
            # The last org-chart level: everyone below hangs from it as indented lists in columns.
            below = [self.stack([self.indented(k) for k in kids], trunk=True)]
        else:
            leaves = [k for k in kids if not self.children.get(k)]
            branches = [k for k in kids if self.children.get(k)]
            below = []
            if len(leaves) >= 3:
                below.append(self.stack([self.leaf(k) for k in leaves], trunk=True))
            else:
                below += [self.leaf(k) for k in leaves]
            below += [self.subtree(k, level + 1) for k in branches]
        row, anchors = self.row(below)
        w, h = self.node.width, self.node.height
        width = max(w, row.width)
        shift = (width - row.width) / 2
        anchors = [a + shift for a in anchors]
        node_x = min(max((anchors[0] + anchors[-1]) / 2 - w / 2, 0), width - w)
        out = Block(width, h + V_GAP + row.height, {pid: (node_x, 0)})
        row.place(out, shift, h + V_GAP)
        parent_x, bus_y = node_x + w / 2, h + V_GAP / 2
        out.lines.append([(parent_x, h), (parent_x, bus_y)])
        out.lines.append([(min(anchors + [parent_x]), bus_y), (max(anchors + [parent_x]), bus_y)])
        for child, a in zip(below, anchors):
            if not child.reaches_up:
                out.lines.append([(a, bus_y), (a, h + V_GAP)])
        out.anchor = parent_x
        return out


def _hierarchy(internal: Sequence[Person]) -> tuple[dict[int, list[int]], list[int]]:
    """Direct reports of each person, and the people at the top, in the given order."""
    ids = {p.id for p in internal}
    order = {p.id: i for i, p in enumerate(internal)}
    parent = {p.id: p.reports_to for p in internal if p.reports_to in ids and p.reports_to != p.id}
    # Defensive: the services refuse cycles, but a layout must never loop.
    for pid in list(parent):
        seen, node = {pid}, parent.get(pid)
        while node is not None:
            if node in seen:
                parent.pop(pid, None)
                break
            seen.add(node)
            node = parent.get(node)
    children: dict[int, list[int]] = defaultdict(list)
    for pid, manager in parent.items():
        children[manager].append(pid)
    # People without reports first, then managers with their teams: small boxes stay next to their manager.
    for kids in children.values():
        kids.sort(key=lambda k: (k in children, order[k]))
    return children, [p.id for p in internal if p.id not in parent]


def _externals(externals: Sequence[Person], node: NodeSize, max_height: float) -> tuple[Block, list[Panel]]:
    """External parties grouped by organisation, in columns no taller than ``max_height``."""
    groups: dict[str, list[Person]] = defaultdict(list)
    for person in externals:
        groups[person.organisation.strip()].append(person)
    block, panels = Block(0, 0), []
    col_x, y = 0.0, 0.0
    group_w = node.width + 2 * STACK_GAP
    limit = max(max_height, ORG_HEAD + 4 * (node.height + STACK_GAP))
    for name in sorted(groups, key=str.casefold):
        members = groups[name]
        height = ORG_HEAD + len(members) * (node.height + STACK_GAP)
        if y > 0 and y + height > limit:
            col_x += group_w + H_GAP
            y = 0.0
        panels.append(Panel(col_x, y, group_w, height, name, "organisation"))
        for i, person in enumerate(members):
            block.boxes[person.id] = (col_x + STACK_GAP, y + ORG_HEAD + i * (node.height + STACK_GAP))
        block.height = max(block.height, y + height)
        y += height + 2 * STACK_GAP
    block.width = col_x + group_w if groups else 0
    return block, panels


def _layout(people: Sequence[Person], node: NodeSize, depth: int, column: float) -> MapLayout:
    internal = [p for p in people if not p.external]
    externals = [p for p in people if p.external]
    children, roots = _hierarchy(internal)
    tree = _Tree(children, node, depth, column)
    blocks = [tree.subtree(r) for r in roots if children.get(r)]
    singles = [tree.leaf(r) for r in roots if not children.get(r)]
    if singles:  # people outside the reporting lines: a plain grid, no connectors
        blocks.append(tree.stack(singles, trunk=False))
    forest, _ = tree.row(blocks) if blocks else (Block(0, 0), [])
    forest.width = max(forest.width, 0)
    boxes, lines = forest.flatten()
    out = MapLayout(forest.width, forest.height, boxes, lines, [], node)
    if externals:
        side, groups = _externals(externals, node, forest.height - ORG_HEAD)
        x0 = forest.width + PANEL_GAP if not forest.empty else 0.0
        out.boxes.update({pid: (x + x0, y + ORG_HEAD) for pid, (x, y) in side.boxes.items()})
        out.panels.append(Panel(x0, 0, side.width, side.height + ORG_HEAD, "", "externals"))
        out.panels += [Panel(g.x + x0, g.y + ORG_HEAD, g.width, g.height, g.title, g.kind) for g in groups]
        out.width = x0 + side.width
        out.height = max(out.height, side.height + ORG_HEAD)
    return out


def map_layout(people: Sequence[Person], *, node: NodeSize | None = None) -> MapLayout:
    """Positions for the stakeholder map: the reporting hierarchy as an org chart, external parties to the side.

    The top levels are drawn as an org chart, managers above their reports; below a
    certain level, and for people without reports, teams hang from their manager as
    indented lists in columns, as printed org charts do. Of the possible layouts the one
    that prints largest on an A4 landscape page wins, so a map of 200 people stays
    compact instead of growing a kilometre wide. From COMPACT_FROM people on, nodes are
    drawn smaller. ``node`` sets the size of the boxes instead (the drawing knows how much text they hold).
    """
    people = sorted(people, key=lambda p: (p.name.casefold(), p.id))
    if not people:
        return MapLayout(0, 0, {}, [], [])
    node = node or (COMPACT if len(people) >= COMPACT_FROM else REGULAR)
    # Options that cannot differ are skipped: a depth below the deepest level, a column taller than everyone.
    children, roots = _hierarchy([p for p in people if not p.external])
    height, level = 0, list(roots)
    while level:
        height += 1
        level = [k for pid in level for k in children.get(pid, [])]
    depths = [d for d in (1, 2, 3, 4, 6) if d < height] + [99]
    rows_options = [r for r in (3, 4, 5, 6, 8, 10, 12, 16, 24, 40) if r < len(people)] or [3]
    best, best_key = None, None
    for depth in depths:
        for rows in rows_options:
            layout = _layout(people, node, depth, rows * (node.height + STACK_GAP))
            # Legible on paper first; among legible layouts, the most org-chart-like; then the largest print.
            key = (min(layout.print_scale, LEGIBLE_SCALE), depth, layout.print_scale)
            if best_key is None or key > best_key:
                best, best_key = layout, key
    return best
