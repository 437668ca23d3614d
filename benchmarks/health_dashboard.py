"""The health dashboard at scale: the daily snapshot of N accounts, and the pages and API read from it.

    .venv/bin/python benchmarks/health_dashboard.py --accounts 100000 [--database-url URL] [--reuse]

Builds N accounts (2 % key accounts, 5 % candidates) written in bulk in the database given (a fresh
SQLite file under /tmp by default): subscriptions for 60 % of them (Basic, Standard, Premium; some
ended or downgraded in the last 90 days), satisfaction surveys for a quarter of them, stakeholders
and interactions for the key accounts. Then it times:

- the daily snapshot (`keyplan health snapshot`): every account scored, the queue filled, the
  program's numbers stored; and the second run of the day (it replaces the first);
- the reference engine: what a dashboard request would cost if it recomputed the program's numbers
  (facts of every account, scored, added up) instead of reading the snapshot;
- the dashboard page, `GET /api/v1/dashboard` and `GET /api/v1/risk-queue` through Django's full stack
  (test client: middleware, ORM, templates; no network): median of the requests, wall and CPU time
  (with SQLite in the process, CPU time is the request's time on an idle machine).
"""

import argparse
import datetime
import os
import random
import statistics
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--reuse", action="store_true", help="keep an existing database of the right size")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    url = args.database_url or f"sqlite:////tmp/keyplan-bench-health-{args.accounts}.sqlite3"
    os.environ["KEYPLAN_DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keyplan.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from keyplan.accounts.models import Account
    from keyplan.core.db import refresh_statistics
    from keyplan.core.models import Role, User
    from keyplan.health import analysis, services

    call_command("migrate", verbosity=0)
    today = timezone.localdate()
    if not (args.reuse and Account.objects.count() == args.accounts):
        call_command("flush", interactive=False, verbosity=0)
        started = time.perf_counter()
        build(args.accounts, today)
        print(f"{args.accounts:,} accounts built in {time.perf_counter() - started:.1f} s")
    refresh_statistics()
    lead = User.objects.filter(role=Role.KAM_LEAD).first()

    def timed(function):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        return result, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000

    run, wall, cpu = timed(lambda: services.take_snapshot(today=today))
    print(f"\n{connection.vendor}, {args.accounts:,} accounts")
    print(f"snapshot, first run of the day:  {wall:>9,.0f} ms wall {cpu:>9,.0f} ms CPU  "
          f"({run.accounts:,} scored, {run.endangered:,} endangered, {run.cases_opened:,} cases opened)")
    run, wall, cpu = timed(lambda: services.take_snapshot(today=today))
    print(f"snapshot, second run (replaces): {wall:>9,.0f} ms wall {cpu:>9,.0f} ms CPU  ({run.cases_opened} cases opened)")

    def recompute():
        config = services.config()
        gathered = services.facts(None, today=today)
        rows = []
        for pk, f in gathered.items():
            health = analysis.score(f, config)
            rows.append(analysis.Row(pk, "", "", f.plan, f.mrr_now, f.mrr_before, health.score, health.band,
                                     bool(health.endangered), f.nps_recent, f.csat_recent))
        return analysis.program(rows, tiers={})

    _, reference, reference_cpu = timed(recompute)

    client = Client(SERVER_NAME="localhost")
    client.force_login(lead)
    cases = [("dashboard page", "/health/"), ("api, dashboard", "/api/v1/dashboard"),
             ("api, risk queue", "/api/v1/risk-queue"), ("at-risk queue page", "/health/queue/")]
    print(f"\nmedian of {args.repeat} requests; reference (recompute per request): {reference:,.0f} ms wall, "
          f"{reference_cpu:,.0f} ms CPU")
    print(f"{'request':<22}{'wall ms':>9}{'CPU ms':>9}{'queries':>9}{'ref/CPU':>9}")
    for label, path in cases:
        client.get(path)  # warm caches
        walls, cpus = [], []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                response, wall, cpu = timed(lambda: client.get(path))
            assert response.status_code == 200, (path, response.status_code)
            walls.append(wall)
            cpus.append(cpu)
        cpu = statistics.median(cpus)
        print(f"{label:<22}{statistics.median(walls):>9.1f}{cpu:>9.1f}{len(queries):>9}{reference_cpu / cpu:>8.0f}×")
    return 0


def build(n: int, today: datetime.date) -> None:
    """N accounts with subscriptions, surveys and, for the key accounts, stakeholders and interactions."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from keyplan.accounts.models import Account, TeamMember, TeamRole, Tier
    from keyplan.core.models import Role, User
    from keyplan.health.models import SurveyResponse
    from keyplan.relationships.models import Interaction, Stakeholder
    from keyplan.revenue.models import Subscription

    rng = random.Random(42)
    password = make_password("bench")
    with transaction.atomic():
        User.objects.create(username="lead", role=Role.KAM_LEAD, password=password)
        kams = User.objects.bulk_create([User(username=f"kam{i}", role=Role.TEAM_MEMBER, password=password) for i in range(40)])
        tiers = [Tier.KEY] * 2 + [Tier.CANDIDATE] * 5 + [Tier.STANDARD] * 93
        accounts = Account.objects.bulk_create(
            [Account(external_id=f"H-{i:06d}", name=f"Account {i}", tier=rng.choice(tiers), lifecycle="active")
             for i in range(n)], batch_size=5000)
        if not all(a.pk for a in accounts):
            accounts = list(Account.objects.order_by("pk"))
        key = [a for a in accounts if a.tier == Tier.KEY]
        TeamMember.objects.bulk_create([TeamMember(account=a, user=kams[i % len(kams)], role=TeamRole.KAM)
                                        for i, a in enumerate(key)], batch_size=5000)
        plans = [("Basic", 490), ("Standard", 1490), ("Premium", 3900)]
        subscriptions, surveys = [], []
        for a in accounts:
            if rng.random() < 0.6:
                plan, fee = rng.choice(plans)
                start = today - datetime.timedelta(days=rng.randint(100, 1000))
                if rng.random() < 0.05:  # a downgrade 40 days ago
                    cut = today - datetime.timedelta(days=40)
                    subscriptions.append(Subscription(account=a, plan=plan, monthly_amount=fee, currency="EUR", start=start, end=cut))
                    subscriptions.append(Subscription(account=a, plan="Basic", monthly_amount=490, currency="EUR", start=cut))
                else:
                    subscriptions.append(Subscription(account=a, plan=plan, monthly_amount=fee, currency="EUR", start=start))
            if rng.random() < 0.25 or a.tier == Tier.KEY:
                for _ in range(rng.randint(1, 3)):
                    surveys.append(SurveyResponse(account=a, kind="nps", score=rng.randint(3, 10),
                                                  responded_on=today - datetime.timedelta(days=rng.randint(1, 170))))
        Subscription.objects.bulk_create(subscriptions, batch_size=5000)
        SurveyResponse.objects.bulk_create(surveys, batch_size=5000)
        people = []
        for a in key:
            for j, (role, power, sentiment) in enumerate((("decision_maker", "high", "supporter"), ("economic_buyer", "high", "neutral"),
                                                          ("influencer", "medium", "critic"), ("user", "low", "neutral"))):
                people.append(Stakeholder(account=a, name=f"Person {j}", buying_role=role, decision_power=power,
                                          sentiment=rng.choice([sentiment, "critic"]) if power == "high" else sentiment))
        Stakeholder.objects.bulk_create(people, batch_size=5000)
        Interaction.objects.bulk_create(
            [Interaction(account=a, kind="meeting", date=today - datetime.timedelta(days=rng.randint(1, 180)), summary="Review")
             for a in key for _ in range(rng.randint(0, 8))], batch_size=5000)


if __name__ == "__main__":
    sys.exit(main())
