"""Customer check-ins: recurring feedback meetings with the customer beside the internal reviews, at a cadence per
key status, due and overdue on the reviews page, the account's health page, the API and the command line."""

import datetime
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from keyplan.cli import main
from keyplan.health import services
from keyplan.health.models import CustomerCheckIn
from tests.conftest import client_for

days = datetime.timedelta


def test_cadence_due_and_overdue(key_account, kam, lead, today):
    assert services.checkin_cadence("key") == "quarterly" and services.checkin_cadence("standard") == "none"
    never = services.checkins_due(services.Account.objects.all(), today=today)
    assert [(d.account, d.due, d.overdue) for d in never] == [(key_account, today, False)]  # never met: due today
    services.record_checkin(key_account, by=kam, held_on=today - days(100), feedback="Happy with the service")
    overdue = services.checkins_due(services.Account.objects.all(), today=today)
    assert overdue[0].overdue and overdue[0].last_held == today - days(100) and overdue[0].kam == "kam"
    services.record_checkin(key_account, by=kam, held_on=today - days(10))
    assert services.checkins_due(services.Account.objects.all(), today=today) == []
    services.update_settings(by=lead, changes={"checkin_key": "weekly"})
    assert services.checkins_due(services.Account.objects.all(), today=today, within_days=0)[0].overdue
    with pytest.raises(ValidationError) as error:
        services.update_settings(by=lead, changes={"checkin_key": "daily"})
    assert "checkin_key" in error.value.message_dict


def test_a_check_in_in_the_future_is_refused(key_account, kam, today):
    with pytest.raises(ValidationError) as error:
        services.record_checkin(key_account, by=kam, held_on=today + days(1))
    assert "held_on" in error.value.message_dict and not CustomerCheckIn.objects.exists()


def test_pages(key_account, kam, lead, outsider, today):
    client = client_for(kam)
    bad = client.post(reverse("health:checkin_add", args=[key_account.pk]), {"held_on": (today + days(2)).isoformat()})
    assert bad.status_code == 422 and "is in the future" in bad.content.decode() and not CustomerCheckIn.objects.exists()
    reviews = client_for(lead).get(reverse("health:reviews")).content.decode()
    assert "Customer check-ins due" in reviews and key_account.name in reviews.split('id="checkins-due"')[1]
    ok = client.post(reverse("health:checkin_add", args=[key_account.pk]),
                     {"held_on": today.isoformat(), "attendees": "Eva (COO)", "feedback": "Wants faster deliveries",
                      "follow_up": "Logistics call"})
    assert ok.status_code == 302
    page = client.get(reverse("health:account", args=[key_account.pk])).content.decode()
    assert "Wants faster deliveries" in page and "Eva (COO)" in page
    assert "No customer check-in due this week." in client_for(lead).get(reverse("health:reviews")).content.decode()
    assert client_for(outsider).post(reverse("health:checkin_add", args=[key_account.pk]),
                                     {"held_on": today.isoformat()}).status_code == 404


def test_api_and_cli(key_account, kam, api_client, today, capsys):
    client = api_client(kam)
    url = f"/api/v1/accounts/{key_account.pk}/check-ins/"
    future = client.post(url, {"held_on": (today + days(1)).isoformat()}, content_type="application/json")
    assert future.status_code == 422 and future.json()["detail"][0]["loc"] == ["body", "held_on"]
    assert client.get("/api/v1/check-ins/due").json()["count"] == 1
    assert main(["health", "check-ins", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["items"][0]["account"]["id"] == key_account.pk
    held = client.post(url, {"held_on": today.isoformat(), "feedback": "Fine"}, content_type="application/json")
    assert held.status_code == 201 and held.json()["feedback"] == "Fine"
    assert client.get(url).json()["count"] == 1 and client.get("/api/v1/check-ins/due").json()["count"] == 0
    assert main(["health", "check-ins"]) == 0 and "No customer check-in due." in capsys.readouterr().out
