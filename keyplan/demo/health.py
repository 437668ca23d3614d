"""Demo step: satisfaction surveys, account reviews, a few key accounts visibly slipping, and daily health
snapshots for the last four weeks (so that the dashboard, the at-risk queue and each score's trend have
something true to show).

Key accounts take turns: every fifth one slips (its NPS falls from 8 to 4 this quarter, the customer
downgrades its plan, nobody meets them any more), the others answer surveys as satisfied or neutral
customers do. Reviews: some held last month, some overdue, some never. Written through the services.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from keyplan.accounts.models import Tier
from keyplan.health import services
from keyplan.health import analysis
from keyplan.health.models import AccountReview, Invoice, OnboardingStage, SurveyResponse, Ticket, UsageRecord
from keyplan.relationships.models import Interaction, Stakeholder
from keyplan.revenue.models import Subscription

if TYPE_CHECKING:
    from keyplan.demo.generator import Demo

SLIPPING = 5  # every fifth key account slips
SNAPSHOT_DAYS = (28, 21, 14, 7, 0)  # days before today with a health snapshot


def _slipping(index: int) -> bool:
    return index % SLIPPING == 1


def _onboarding_and_invoices(demo: Demo, key: list) -> None:
    """Every third key account is being onboarded (started one to four months ago; the slipping ones have
    stages overdue, the others are on track or done); every key account has monthly invoices for the last
    nine months: paid within a few days, except by the slipping accounts, which pay five to seven weeks late
    and leave the last two unpaid."""
    rng, today = demo.rng, demo.today
    kams = services._kams([a.pk for a in key])
    stages, invoices = [], []
    for index, account in enumerate(key):
        slipping = _slipping(index)
        if index % 3 == 1 or (slipping and index % 2):
            start = today - datetime.timedelta(days=rng.randint(30, 120))
            for position, step in enumerate(analysis.DEFAULT_ONBOARDING["key"]):
                planned = start + datetime.timedelta(days=step["days"])
                late = slipping and position in (1, 2)
                done_on = None if late or planned > today else min(today, planned + datetime.timedelta(days=rng.randint(-3, 4)))
                stages.append(OnboardingStage(account=account, position=position, name=step["name"], owner_id=kams.get(account.pk),
                                              planned=planned, done_on=done_on,
                                              checklist=[{"item": item, "done": done_on is not None or (i == 0 and not late)}
                                                         for i, item in enumerate(step["checklist"])]))
        for month in range(9):
            due = (today.replace(day=15) - datetime.timedelta(days=30 * month))
            if due > today:
                continue
            if slipping and month < 2:
                paid = None
            elif slipping:
                paid = due + datetime.timedelta(days=rng.randint(35, 50))
            else:
                paid = due + datetime.timedelta(days=rng.choice([-5, -2, 0, 1, 3, 6, 12]))
            invoices.append(Invoice(account=account, invoice_id=f"INV-{account.pk}-{month:02d}", due=due,
                                    paid=paid if paid is None or paid <= today else None,
                                    amount=rng.choice([490, 1490, 3900])))
    OnboardingStage.objects.bulk_create(stages, batch_size=1000)
    Invoice.objects.bulk_create(invoices, batch_size=2000)


def make_health(demo: Demo) -> None:
    rng, today = demo.rng, demo.today
    key = demo.key_accounts
    candidates = [a for a in demo.accounts if a.tier == Tier.CANDIDATE][:200]
    admin = demo.users.get("admin") or next(iter(demo.users.values()))
    people: dict[int, list[int]] = {}
    for pk, account_id in Stakeholder.objects.filter(account__in=key, archived_at__isnull=True).values_list("pk", "account_id"):
        people.setdefault(account_id, []).append(pk)
    surveys = []
    for index, account in enumerate(key + candidates):
        slipping = index < len(key) and _slipping(index)
        mood = rng.choice([9, 8, 8, 7, 6]) if not slipping else 8
        for quarter in range(4):  # the last four quarters, one to three answers each
            for _ in range(rng.randint(1, 3)):
                day = today - datetime.timedelta(days=quarter * 91 + rng.randint(1, 85))
                if slipping and quarter == 0:
                    score = rng.choice([3, 4, 4, 5])
                else:
                    score = max(0, min(10, mood + rng.choice([-1, 0, 0, 1])))
                who = rng.choice(people.get(account.pk) or [None])
                surveys.append(SurveyResponse(account=account, stakeholder_id=who, kind="nps", score=score,
                                              responded_on=day, created_by=admin))
            if rng.random() < 0.5:
                csat = 2 if slipping and quarter == 0 else rng.choice([4, 4, 5, 3])
                surveys.append(SurveyResponse(account=account, kind="csat", score=csat, created_by=admin,
                                              responded_on=today - datetime.timedelta(days=quarter * 91 + rng.randint(1, 85))))
    SurveyResponse.objects.bulk_create(surveys, batch_size=1000)

    for index, account in enumerate(key):
        if not _slipping(index):
            continue
        # Nobody meets them any more: the last two months of meetings did not happen.
        Interaction.objects.filter(account=account, date__gt=today - datetime.timedelta(days=75), date__lte=today).delete()
        # They downgraded from their plan to a cheaper one six weeks ago.
        running = Subscription.objects.filter(account=account, end__isnull=True).order_by("-monthly_amount").first()
        if running is not None and running.start < today - datetime.timedelta(days=60):
            cut = today - datetime.timedelta(days=42)
            Subscription.objects.filter(pk=running.pk).update(end=cut)
            Subscription.objects.create(account=account, plan="Basic", monthly_amount=490, currency=running.currency,
                                        start=cut)

    # Product usage (weekly logins, the last half year) and support tickets: the slipping accounts log in
    # less and less and have a critical ticket open.
    usage, tickets = [], []
    for index, account in enumerate(key):
        slipping = _slipping(index)
        base = rng.randint(80, 400)
        for week in range(26):
            day = today - datetime.timedelta(days=7 * week + 1)
            level = base * (0.4 + 0.6 * week / 26) if slipping else base * rng.uniform(0.9, 1.15)
            usage.append(UsageRecord(account=account, day=day, metric="logins", value=round(level)))
        for n in range(rng.randint(1, 4)):
            opened = today - datetime.timedelta(days=rng.randint(10, 300))
            tickets.append(Ticket(account=account, ticket_id=f"T-{account.pk}-{n}", opened=opened,
                                  closed=opened + datetime.timedelta(days=rng.randint(1, 9)),
                                  severity=rng.choice(["low", "medium", "medium", "high"])))
        if slipping:
            tickets.append(Ticket(account=account, ticket_id=f"T-{account.pk}-open", severity="critical",
                                  opened=today - datetime.timedelta(days=12)))
    UsageRecord.objects.bulk_create(usage, batch_size=2000)
    Ticket.objects.bulk_create(tickets, batch_size=1000)

    reviews = []
    for index, account in enumerate(key):
        case = index % 3
        if case == 2:
            continue  # never reviewed: due now
        held = today - datetime.timedelta(days=rng.randint(10, 40) if case == 0 else rng.randint(120, 200))
        reviews.append(AccountReview(
            account=account, held_on=held, held_by=admin, health_score=rng.randint(55, 90),
            what_changed="New head of procurement; budget round for next year has started." if case == 0 else
                         "Quiet quarter; no change in the buying center.",
            plan_progress="Two of five actions done; the service contract proposal is with the COO.",
            risks="The CFO questions our pricing against a second supplier.",
            decisions="Invite the CFO to the plant visit; prepare a three-year price offer."))
    AccountReview.objects.bulk_create(reviews, batch_size=500)

    # Customer check-ins (quarterly for key accounts): most met the customer lately, some are overdue (the
    # slipping ones last met half a year ago), a few never.
    from keyplan.health.models import CustomerCheckIn

    feedback = ["Happy with delivery times; wants a named contact in support.",
                "Asks for a roadmap session on the new product line.",
                "Invoices are hard to match with orders; asks for a PO number on each."]
    checkins = []
    for index, account in enumerate(key):
        if index % 7 == 3:
            continue  # never met for feedback: due now
        ago = rng.randint(170, 200) if _slipping(index) else rng.randint(5, 80)
        checkins.append(CustomerCheckIn(account=account, held_on=today - datetime.timedelta(days=ago), held_by=admin,
                                        attendees=rng.choice(["COO and head of purchasing", "Key users", "Sponsor"]),
                                        feedback=rng.choice(feedback),
                                        follow_up="Send the summary and the agreed next steps within a week."))
    CustomerCheckIn.objects.bulk_create(checkins, batch_size=500)

    _onboarding_and_invoices(demo, key)

    for days in SNAPSHOT_DAYS:  # four weeks of snapshots: trends on the pages, time in the at-risk queue
        services.take_snapshot(today=today - datetime.timedelta(days=days))

    # Save plans for the cases of the key accounts that slip most: their steps go into the account plan.
    from keyplan.health.models import RiskCase

    steps = ("Meet the sponsor with our managing director", "Service review of the open critical ticket",
             "Offer a price hold for the next contract year")
    for n, case in enumerate(RiskCase.objects.open().filter(account__in=key).select_related("account", "owner")
                             .order_by("-mrr_at_risk", "pk")[:8]):
        for i, title in enumerate(steps[:2 + n % 2]):
            action = services.add_save_action(case, by=admin, title=title, owner=case.owner,
                                              due=today + datetime.timedelta(days=7 * (i + 1)))
            if i == 0 and n % 2:
                services.complete_save_action(action, by=admin, today=today)
