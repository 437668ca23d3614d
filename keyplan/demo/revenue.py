"""Demo step: three years of revenue ledger with costs, subscriptions and exchange rates.

The numbers go through the same import services a user's exports do (CSV files
written to a temporary folder), so the rollups and batches are real. The shape
is a believable B2B portfolio: a few large accounts carry most revenue, key
accounts grow, some standard accounts rise fast (worth courting), some key
accounts shrink (worth a review), churned accounts stop buying.
"""

from __future__ import annotations

import csv
import datetime
import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from keyplan.accounts.models import Lifecycle, Tier
from keyplan.revenue import services

if TYPE_CHECKING:
    from keyplan.demo.generator import Demo

PRODUCTS = ["Sensors", "Controllers", "Spare parts", "Maintenance contract", "Training", "Software licence",
            "Installation", "Consulting"]
DIVISIONS = ["Operations", "Procurement", "Finance", "R&D", "Logistics", "Quality"]
PLANS = [("Basic", 490), ("Standard", 1490), ("Premium", 3900)]
# Euro value of one unit of each currency the demo accounts use, at the start of the ledger.
RATES = {"USD": 0.92, "GBP": 1.17, "CHF": 1.05, "CNY": 0.127, "AED": 0.25, "PLN": 0.23}


def _months(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    months, month = [], start.replace(day=1)
    while month <= end:
        months.append(month)
        month = (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return months


def _month_end(month: datetime.date) -> datetime.date:
    return (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1) - datetime.timedelta(days=1)


def make_revenue(demo: Demo) -> None:
    rng = demo.rng
    start = datetime.date(demo.today.year - 3, 1, 1)
    months = _months(start, demo.today)
    folder = Path(tempfile.mkdtemp(prefix="keyplan-demo-"))
    lead = demo.users["lead"]

    with open(folder / "rates.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", "currency", "rate"])
        for currency, rate in RATES.items():
            for month in months:
                writer.writerow([month.isoformat(), currency, f"{rate:.6f}"])
                rate *= math.exp(rng.gauss(0, 0.015))
    services.import_rates(folder / "rates.csv", by=lead)

    ledger_rows, subscription_rows = [], []
    for account in demo.accounts:
        if account.lifecycle == Lifecycle.PROSPECT:
            continue
        profile = _profile(account, rng, demo, months)
        if profile is None:
            continue
        first, last, yearly, growth, margin, products, divisions = profile
        sequence = 0
        for month in months:
            if month < first or month > last:
                continue
            years_in = (month - start).days / 365.25
            season = 1 + 0.12 * math.sin((month.month - 3) / 12 * 2 * math.pi)
            monthly = yearly / 12 * (1 + growth) ** years_in * season * math.exp(rng.gauss(0, 0.25))
            invoices = max(1, min(12, int(rng.expovariate(1 / max(1.0, math.log10(max(yearly, 10)) - 3.2)))))
            days_in_month = min(_month_end(month), demo.today).day
            for _ in range(invoices):
                day = month.replace(day=rng.randint(1, days_in_month))
                invoice = f"INV-{account.external_id}-{month:%Y%m}-{sequence}"
                for _ in range(rng.randint(1, 3)):
                    sequence += 1
                    amount = monthly / invoices / 2 * math.exp(rng.gauss(0, 0.35))
                    cost = amount * (1 - margin) * math.exp(rng.gauss(0, 0.1))
                    ledger_rows.append([f"{account.external_id}-{sequence}", account.external_id, day.isoformat(),
                                        f"{amount:.2f}", f"{cost:.2f}", account.reporting_currency,
                                        rng.choice(products), rng.choice(divisions), invoice])
        subscription_rows += _subscriptions(account, rng, first, last)

    with open(folder / "ledger.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line_id", "customer_id", "invoice_date", "net_amount", "cost", "currency", "product",
                         "division", "invoice_number"])
        writer.writerows(ledger_rows)
    result = services.import_ledger(folder / "ledger.csv", by=lead)
    if result.error_count:
        raise RuntimeError(f"the demo ledger did not import: {result.errors[:3]}")

    with open(folder / "subscriptions.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["account_id", "plan", "monthly_amount", "currency", "start", "end"])
        writer.writerows(subscription_rows)
    result = services.import_subscriptions(folder / "subscriptions.csv", by=lead)
    if result.error_count:
        raise RuntimeError(f"the demo subscriptions did not import: {result.errors[:3]}")
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


def _profile(account, rng, demo: Demo, months: list[datetime.date]):
    """First and last month of revenue, yearly size, growth, margin, products and divisions of one account."""
    size = min(4_000_000.0, rng.lognormvariate(10.3, 1.15) * (1 + account.employees / 5000))
    growth = rng.gauss(0.04, 0.12)
    if account.tier == Tier.KEY:
        size *= 6
        growth = rng.gauss(0.08, 0.08) if rng.random() > 0.2 else rng.gauss(-0.22, 0.06)  # a fifth underperform
    elif account.tier == Tier.CANDIDATE:
        size *= 2.5
        growth = rng.gauss(0.15, 0.1)
    elif rng.random() < 0.04:
        growth = rng.uniform(0.45, 0.9)  # rising accounts, worth courting
    first, last = months[0], months[-1]
    if account.relationship_start and account.relationship_start > first:
        first = account.relationship_start.replace(day=1)
    if account.lifecycle == Lifecycle.ONBOARDING:
        first = months[-min(len(months), rng.randint(2, 6))]
    if account.lifecycle == Lifecycle.CHURNED:
        last = months[rng.randint(len(months) // 3, len(months) - 4)]
    if first > last:
        return None
    margin = min(0.7, max(0.05, rng.gauss(0.34, 0.12)))
    products = rng.sample(PRODUCTS, rng.randint(2, 5 if account.tier == Tier.STANDARD else 7))
    divisions = rng.sample(DIVISIONS, rng.randint(1, 4))
    return first, last, size, growth, margin, products, divisions


def _subscriptions(account, rng, first: datetime.date, last: datetime.date) -> list[list[str]]:
    """Some accounts subscribe; some upgrade (expansion), some cancel (churn); churned accounts stop."""
    chance = {Tier.KEY: 0.8, Tier.CANDIDATE: 0.6}.get(account.tier, 0.3)
    if rng.random() > chance:
        return []
    plan_index = 2 if account.tier == Tier.KEY and rng.random() < 0.5 else rng.randint(0, 1)
    start = first + datetime.timedelta(days=rng.randint(0, max(0, (last - first).days // 2)))
    end = None
    if account.lifecycle == Lifecycle.CHURNED:
        end = last + datetime.timedelta(days=27)
    elif rng.random() < 0.08:
        end = start + datetime.timedelta(days=rng.randint(120, 700))
    rows = []
    plan, fee = PLANS[plan_index]
    if plan_index < 2 and end is None and rng.random() < 0.3:
        upgrade = start + datetime.timedelta(days=rng.randint(90, 500))
        if upgrade < last:
            rows.append([account.external_id, plan, f"{fee}", account.reporting_currency, start.isoformat(), upgrade.isoformat()])
            plan, fee = PLANS[plan_index + 1]
            start = upgrade
    rows.append([account.external_id, plan, f"{fee}", account.reporting_currency, start.isoformat(),
                 end.isoformat() if end and end > start else ""])
    return rows
