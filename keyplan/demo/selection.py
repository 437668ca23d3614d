"""Demo step: selection criteria, scores with history, and last year's selection round.

The round is dated a year back and froze the scores given then. Some of those scores
followed what the ledger went on to show (product fit), others did not (shared vision,
cultural fit), and a fifth of the key accounts chosen then have shrunk since: the
review has real findings to show. Today's scores were given again since, so each
account's score history has two entries.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from keyplan.accounts.models import Account, Lifecycle, Tier
from keyplan.revenue import portfolio
from keyplan.scoring import services
from keyplan.scoring.models import Proposal, Score

if TYPE_CHECKING:
    from keyplan.demo.generator import Demo

CRITERIA = [("product_fit", 35), ("revenue_potential", 30), ("profitability", 20), ("solvency", 15),
            ("existing_relationship", 30), ("strategic_fit", 30), ("cultural_fit", 20), ("shared_vision", 20)]
RATINGS = ["AAA", "AA", "A", "BBB", "BB", "B", "CCC"]
NOTES = {
    "product_fit": ["Uses three of our product lines.", "Only buys spare parts from us.", "New plant needs our controllers.",
                    "Standardising on one supplier.", "Evaluating a competitor's platform."],
    "strategic_fit": ["Digitisation roadmap matches ours.", "Moving to service contracts.", "Price-driven buyer.",
                      "Expanding into our core markets."],
    "cultural_fit": ["Open, fast decisions.", "Slow committee decisions.", "Engineers talk to engineers.", ""],
    "shared_vision": ["Talks of a long-term partnership.", "Sees us as a vendor.", "Board wants fewer, closer suppliers.", ""],
}


def _clamp(value: float) -> int:
    return max(1, min(10, round(value)))


def make_selection(demo: Demo) -> None:
    rng = demo.rng
    lead = demo.users["lead"]
    criteria = {key: services.add_suggested_criterion(by=lead, key=key, weight=weight) for key, weight in CRITERIA}
    round_date = demo.today - datetime.timedelta(days=365)
    active = [a for a in demo.accounts if a.lifecycle != Lifecycle.CHURNED or rng.random() < 0.5]

    # What happened after the round: revenue growth over the year since, from the ledger.
    scope = portfolio.Scope(lead)
    after = portfolio.revenue_by_account(scope, portfolio.Period(round_date, demo.today))
    before = portfolio.revenue_by_account(scope, portfolio.Period(round_date - datetime.timedelta(days=365), round_date))
    revenue_after = dict(zip(after["external_id"].to_list(), after["revenue"].to_list(), strict=True))
    revenue_before = dict(zip(before["external_id"].to_list(), before["revenue"].to_list(), strict=True))

    def realised(account: Account) -> float:
        then = revenue_before.get(account.external_id, 0.0)
        return revenue_after.get(account.external_id, 0.0) / then - 1 if then > 0 else 0.0

    # Last year's scores, as the KAM team gave them then.
    then = timezone.make_aware(datetime.datetime.combine(round_date, datetime.time(10)))
    past: dict[tuple[int, str], int] = {}
    rows = []
    for account in active:
        base = 6.5 if account.tier == Tier.KEY else 5.5 if account.tier == Tier.CANDIDATE else 4.5
        growth = max(-0.5, min(1.0, realised(account)))
        values = {
            "product_fit": _clamp(base + growth * 7 + rng.gauss(0, 0.8)),          # foresaw the growth
            "strategic_fit": _clamp(base + growth * 3 + rng.gauss(0, 1.6)),        # a little
            "cultural_fit": _clamp(base + rng.gauss(0, 1.8)),                      # did not
            "shared_vision": _clamp(base + 1 + rng.gauss(0, 1.5)),                 # flattering, predicted nothing
        }
        for key, value in values.items():
            past[(account.pk, key)] = value
            rows.append(Score(account=account, criterion=criteria[key], value=value, scored_by=lead, scored_at=then,
                              note=rng.choice(NOTES[key])))
    bulk_create_with_history(rows, Score, batch_size=1000, default_user=lead, default_date=then)
    ratings = []
    for account in active:
        good = 0 if account.tier == Tier.KEY else 1 if account.tier == Tier.CANDIDATE else 2
        ratings.append((account.external_id, RATINGS[min(len(RATINGS) - 1, good + int(rng.expovariate(0.9)))]))
    services.import_credit_ratings(ratings, by=lead)
    Score.history.filter(criterion=criteria["solvency"]).update(history_date=then)
    Score.objects.filter(criterion=criteria["solvency"]).update(scored_at=then)

    # The scores computed from data as they were on the day of the round.
    services.refresh_computed_scores(by=lead, today=round_date)
    Score.history.filter(history_date__gt=then).update(history_date=then)
    Score.objects.filter(scored_at__gt=then).update(scored_at=then)
    selection_round = services.create_round(
        by=lead, name=f"FY{round_date.year}", date=round_date, refresh=False,
        notes="Recorded from the spreadsheet the team used at the time; its decisions are in the tier history.")
    Proposal.objects.filter(round=selection_round).delete()

    # Since then the team rescored about a third of the accounts, the key accounts first.
    now = timezone.make_aware(datetime.datetime.combine(demo.today - datetime.timedelta(days=rng.randint(3, 20)), datetime.time(15)))
    scores = {(s.account_id, s.criterion_id): s for s in Score.objects.filter(
        criterion__in=[criteria[k] for k in ("product_fit", "strategic_fit", "cultural_fit", "shared_vision")])}
    changed = []
    for account in active:
        if account.tier == Tier.STANDARD and rng.random() > 0.3:
            continue
        growth = max(-0.5, min(1.0, realised(account)))
        for key in ("product_fit", "strategic_fit", "cultural_fit", "shared_vision"):
            score = scores[(account.pk, criteria[key].pk)]
            drift = growth * 4 if key == "product_fit" else rng.gauss(0, 1.2)
            value = _clamp(past[(account.pk, key)] + drift)
            if value != score.value:
                score.value, score.scored_at, score.note = value, now, rng.choice(NOTES[key])
                changed.append(score)
    if changed:
        bulk_update_with_history(changed, Score, ["value", "scored_at", "note"], batch_size=1000, default_user=lead,
                                 default_date=now)
    services.refresh_computed_scores(by=lead, today=demo.today)
