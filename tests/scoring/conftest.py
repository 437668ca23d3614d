"""The worked example of the selection: six criteria, three accounts, scores set through the services."""

import pytest

from keyplan.scoring import services

GROWTH = [("Product fit", 40), ("Potential as a channel partner", 35), ("Solvency", 25)]
HARMONY = [("Cultural fit", 50), ("Strategic fit", 30), ("Shared vision", 20)]
# account → scores in the order of GROWTH + HARMONY
SCORES = {
    "Alpha": [8, 6, 9, 7, 8, 5],    # growth 7.55, harmony 6.90, total 7.225 → 7.23
    "Bravo": [9, 9, 7, 4, 5, 6],    # growth 8.50, harmony 4.70, total 6.60
    "Charlie": [6, 7, 8, 9, 8, 9],  # growth 6.85, harmony 8.70, total 7.775 → 7.78
}


@pytest.fixture
def criteria(lead):
    made = [services.create_criterion(by=lead, name=n, group="growth", weight=w) for n, w in GROWTH]
    made += [services.create_criterion(by=lead, name=n, group="harmony", weight=w) for n, w in HARMONY]
    return made


@pytest.fixture
def worked_example(lead, criteria, make_account):
    accounts = {}
    for name, values in SCORES.items():
        account = make_account(name)
        for criterion, value in zip(criteria, values, strict=True):
            services.set_score(account, by=lead, criterion=criterion, value=value, note=f"{name} {criterion.name}")
        accounts[name] = account
    return accounts
