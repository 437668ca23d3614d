"""Fixtures for health: accounts, subscriptions, stakeholders and plans made through the services users go through."""

import datetime

import pytest

from keyplan.revenue import services as revenue


@pytest.fixture
def subscribe(lead, today):
    """subscribe(account, plan, amount, days_ago, ended_days_ago=None)"""

    def make(account, plan: str, amount, days_ago: int = 400, ended_days_ago: int | None = None):
        end = None if ended_days_ago is None else today - datetime.timedelta(days=ended_days_ago)
        return revenue.add_subscription(account, by=lead, plan=plan, monthly_amount=amount, currency="EUR",
                                        start=today - datetime.timedelta(days=days_ago), end=end)

    return make
