"""The home page's "this week" carries the KAM's overdue reviews and the accounts that entered the at-risk queue."""

import datetime

from django.urls import reverse

from keyplan.health import services
from tests.conftest import client_for


def test_this_week_shows_overdue_reviews_and_newly_endangered_accounts(key_account, kam, lead, today):
    services.record_review(key_account, by=kam, held_on=today - datetime.timedelta(days=200))
    services.open_case(key_account, by=lead, reason="The CFO moved to a competitor")
    body = client_for(kam).get(reverse("home")).content.decode()
    section = body[body.index('id="this-week"'):]
    assert "Account review due" in section and "The CFO moved to a competitor" in section
    assert reverse("health:account", args=[key_account.pk]) in section


def test_a_review_on_time_and_an_old_case_stay_off_this_week(key_account, kam, lead, today):
    services.record_review(key_account, by=kam, held_on=today - datetime.timedelta(days=5))
    services.open_case(key_account, by=lead, reason="Quiet for months", today=today - datetime.timedelta(days=20))
    section = client_for(kam).get(reverse("home")).content.decode().split('id="this-week"')[1]
    assert "Account review due" not in section and "Quiet for months" not in section
