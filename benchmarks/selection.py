"""Selection at scale: server time of the scoring matrix and the rounds page on N accounts.

    .venv/bin/python benchmarks/selection.py --accounts 100000 [--database-url URL] [--reuse]

Builds N accounts with the demo's eight criteria and about 7.7 scores each (some accounts
miss a score, as in the demo: 767,000 scores at 100,000 accounts), written through the same
bulk writers as the demo (with their history rows), in the database given (a fresh SQLite
file under /tmp by default). Then it times each page through Django's full stack (test
client: middleware, ORM, templates; no network):

- *cold*: the first request after a change of the scores (it ranks every account and keeps
  the ranking in the database cache);
- *warm*: the median of the following requests, which read the kept ranking; with SQLite (in the
  process) its CPU time is also the request's time on an idle machine, which the wall time is not
  when other work shares the cores.

The reference engine is the ranking itself (`services.ranking()`, every account ranked from
the scores in the database), which is what each request did before the ranking was kept.
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

    url = args.database_url or f"sqlite:////tmp/keyplan-bench-selection-{args.accounts}.sqlite3"
    os.environ["KEYPLAN_DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keyplan.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client

    from keyplan.accounts.models import Account
    from keyplan.core.db import refresh_statistics
    from keyplan.core.models import User
    from keyplan.scoring import services

    call_command("migrate", verbosity=0)
    if not (args.reuse and Account.objects.count() == args.accounts):
        call_command("flush", interactive=False, verbosity=0)
        started = time.perf_counter()
        _build(args.accounts)
        print(f"{args.accounts:,} accounts with scores built in {time.perf_counter() - started:.1f} s")
    refresh_statistics()
    cache.clear()

    lead = User.objects.get(username="bench-lead")
    client = Client(SERVER_NAME="localhost")
    client.force_login(lead)
    cases = [("/selection/", {}), ("/selection/rounds/", {}), ("/selection/", {"sort": "-total"}),
             ("/selection/", {"quadrant": "invest"}), ("/selection/", {"q": "Account 12345"}),
             ("/selection/chart/", {})]
    from django.db import connection

    started, cpu = time.perf_counter(), time.process_time()
    services.ranking()
    reference, reference_cpu = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
    print(f"\n{connection.vendor}, {args.accounts:,} accounts, load average {os.getloadavg()[0]:.1f}; "
          f"the reference, ranking every account: {reference:.0f} ms ({reference_cpu:.0f} ms of CPU)")
    print(f"{'request':<34}{'cold ms':>9}{'warm ms':>9}{'warm CPU ms':>13}")
    for path, params in cases:
        _touch_a_score(lead)  # a change: the next request ranks again
        started = time.perf_counter()
        response = client.get(path, params)
        cold = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (path, response.status_code)
        times, cpus = [], []
        for _ in range(args.repeat):
            started, cpu = time.perf_counter(), time.process_time()
            response = client.get(path, params)
            times.append((time.perf_counter() - started) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
            assert response.status_code == 200
        label = path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
        print(f"{label:<34}{cold:>9.0f}{statistics.median(times):>9.0f}{statistics.median(cpus):>13.0f}")
    return 0


def _touch_a_score(lead) -> None:
    from keyplan.accounts.models import Account
    from keyplan.scoring import services
    from keyplan.scoring.models import Criterion

    criterion = Criterion.objects.filter(source="manual").first()
    account = Account.objects.order_by("pk").first()
    current = criterion.scores.filter(account=account).values_list("value", flat=True).first() or 5
    services.set_score(account, by=lead, criterion=criterion, value=current % 10 + 1)


def _build(n: int) -> None:
    from django.db import transaction
    from django.utils import timezone
    from simple_history.utils import bulk_create_with_history

    from keyplan.accounts.models import Account, Tier
    from keyplan.core.models import Role
    from keyplan.core.services import create_user
    from keyplan.scoring import services
    from keyplan.scoring.models import Score

    rng = random.Random(42)
    with transaction.atomic():
        lead = create_user(username="bench-lead", password="x" * 20, role=Role.KAM_LEAD, check_password=False)
        keys = [("product_fit", 35), ("revenue_potential", 30), ("profitability", 20), ("solvency", 15),
                ("existing_relationship", 30), ("strategic_fit", 30), ("cultural_fit", 20), ("shared_vision", 20)]
        criteria = [services.add_suggested_criterion(by=lead, key=key, weight=weight) for key, weight in keys]
        tiers = [Tier.KEY] * 2 + [Tier.CANDIDATE] * 8 + [Tier.STANDARD] * 90
        accounts = bulk_create_with_history(
            [Account(external_id=f"B-{i:06d}", name=f"Account {i}", tier=rng.choice(tiers)) for i in range(n)],
            Account, batch_size=2000, default_user=lead)
        if not all(a.pk for a in accounts):
            accounts = list(Account.objects.order_by("pk"))
        now = timezone.now() - datetime.timedelta(days=1)
        scores = [Score(account=a, criterion=c, value=rng.randint(1, 10), scored_by=lead, scored_at=now)
                  for a in accounts for c in criteria if rng.random() < 0.96]
        bulk_create_with_history(scores, Score, batch_size=5000, default_user=lead)


if __name__ == "__main__":
    sys.exit(main())
