"""What the account review deck shows, read once from the domain apps' services.

`gather()` returns plain values (numbers, dates, model rows the apps already expose): the slides in
`keyplan.reports.deck` only lay them out. Everything hangs off one account the user may see
(`Account.objects.visible_to`), so the deck holds nothing the account page would not show them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Sum
from django.utils import timezone

from keyplan.accounts.models import Account
from keyplan.core.models import User

TREND_MONTHS = 24  # the revenue and margin chart
MAX_TARGETS = 6  # who to win: the first few, as on the plan page
MAX_GOALS = 12
MAX_ACTIONS = 14  # bars on the timeline slide
MAX_OPPORTUNITIES = 10
MAX_STEPS = 8


@dataclass
class Month:
    month: datetime.date
    revenue: float
    cost: float

    @property
    def margin(self) -> float:
        return self.revenue - self.cost


@dataclass
class DeckData:
    account: Account
    today: datetime.date
    currency: str
    prepared_by: str
    value: Any  # planning.services.AccountValue
    months: list[Month]
    team: list[Any]  # accounts.TeamMember rows
    health: dict
    abc: list[tuple[int, str]]
    scores: list[tuple[str, str, int | None]]  # criterion, group, score (None: not scored)
    ranking: dict | None  # rank, totals, quadrant of the account in the scoring matrix; None: not ranked
    ranked: int
    people: list[Any]  # relationships.analysis.Person
    lines: list[Any]  # relationships.analysis.Line
    targets: list[Any]  # relationships.analysis.Target
    plan: Any | None  # planning.services.PlanView of the current plan
    opportunities: list[Any]
    pipeline: Any | None
    whitespace: Any | None  # planning.analysis.Grid
    risk_case: Any | None
    next_steps: list[Any]  # relationships.Interaction rows with an open next step
    overdue_actions: list[Any] = field(default_factory=list)  # planning.Action rows past due

    @property
    def has_revenue(self) -> bool:
        return any(m.revenue or m.cost for m in self.months)


def visible_account(user: User | None, external_id: str) -> Account | None:
    """The account of this external id if ``user`` may see it (``None``: the operator at the shell, every account)."""
    accounts = Account.objects.all() if user is None else Account.objects.visible_to(user)
    return accounts.filter(external_id=external_id).first()


def _months(account: Account, today: datetime.date) -> list[Month]:
    from keyplan.revenue.models import MonthlyRollup
    from keyplan.revenue.portfolio import Period, _add_months

    last = Period.last_months(12, today=today).months()[-1]
    first = _add_months(last, -(TREND_MONTHS - 1))
    rows = (MonthlyRollup.objects.filter(account=account, month__gte=first, month__lte=last)
            .values("month").annotate(revenue=Sum("revenue"), cost=Sum("cost")))
    by_month = {r["month"]: (float(r["revenue"] or 0), float(r["cost"] or 0)) for r in rows}
    months = [_add_months(first, i) for i in range(TREND_MONTHS)]
    return [Month(m, *by_month.get(m, (0.0, 0.0))) for m in months]


def _scores(account: Account) -> tuple[list[tuple[str, str, int | None]], dict | None, int]:
    from keyplan.scoring.models import CriterionGroup
    from keyplan.scoring.services import account_card

    card = account_card(account)
    groups = dict(CriterionGroup.choices)
    scores = [(c.name, str(groups.get(c.group, c.group)), s.value if s else None) for c, s in card["criteria"]]
    return scores, card["row"], card["ranked"]


def gather(account: Account, *, user: User | None, today: datetime.date | None = None) -> DeckData:
    """Everything the deck of ``account`` shows, as of ``today`` (the caller checked that ``user`` may see it)."""
    from keyplan.health import services as health
    from keyplan.health.models import RiskCase
    from keyplan.planning import analysis as planning_analysis
    from keyplan.planning import services as planning
    from keyplan.planning.models import Action
    from keyplan.relationships import services as relationships
    from keyplan.relationships.models import Interaction

    today = today or timezone.localdate()
    value = planning.account_value(account, today=today)
    plan = planning.current_plan(account)
    plan_view = planning.plan_view(plan, today=today) if plan is not None else None
    scores, ranking, ranked = _scores(account)
    health_now = health.account_health(account, today=today)
    case = (RiskCase.objects.open().filter(account=account).select_related("owner").prefetch_related("actions__owner")
            .first())
    steps = (Interaction.objects.filter(account=account, next_step_done=False).exclude(next_step="")
             .select_related("next_step_owner").order_by(F("next_step_due").asc(nulls_last=True), "-date", "pk"))
    overdue = []
    if plan is not None:
        overdue = list(Action.objects.filter(plan=plan, due__lt=today).exclude(status__in=planning_analysis.CLOSED_ACTION)
                       .select_related("owner", "goal").order_by("due", "pk")[:MAX_STEPS])
    opportunities = list(account.opportunities.open().select_related("owner")
                         .order_by(F("expected_close").asc(nulls_last=True), "pk")[:MAX_OPPORTUNITIES])
    grid = planning.whitespace(account)
    return DeckData(
        account=account,
        today=today,
        currency=value.currency,
        prepared_by=str(user) if user is not None else "",
        value=value,
        months=_months(account, today),
        team=list(account.team_members.select_related("user").order_by("role", "user__last_name", "user__username")),
        health=health_now,
        abc=value.abc,
        scores=scores,
        ranking=ranking,
        ranked=ranked,
        people=relationships.people(account, today=today),
        lines=relationships.lines(account),
        targets=relationships.who_to_win(account, today=today)[:MAX_TARGETS],
        plan=plan_view,
        opportunities=opportunities,
        pipeline=plan_view.pipeline if plan_view else None,
        whitespace=grid if grid.divisions and grid.product_lines else None,
        risk_case=case,
        next_steps=list(steps[:MAX_STEPS]),
        overdue_actions=overdue,
    )
