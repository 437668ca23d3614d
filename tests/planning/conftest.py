"""Fixtures for plans: made through the services users go through."""

import datetime

import pytest

from keyplan.planning import services


@pytest.fixture
def plan(key_account, kam, today):
    return services.create_plan(key_account, by=kam, period=f"FY{today.year}")


@pytest.fixture
def goal(plan, kam, today):
    return services.add_goal(plan, by=kam, data={"title": "Grow revenue 10 %", "horizon": "short", "owner": kam,
                                                 "metric": "revenue_12m", "target_value": 110_000,
                                                 "due": today + datetime.timedelta(days=90)})
