"""Onboarding stages per account: started from the template of its key status, tracked on the page, the API and
the command line; overdue stages show on the dashboard and cost the score its onboarding component."""

import datetime
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from keyplan.cli import main
from keyplan.health import onboarding, services
from keyplan.health.models import OnboardingStage
from tests.conftest import client_for

days = datetime.timedelta


def test_start_from_the_template_and_the_score_follows(key_account, kam, today):
    stages = onboarding.start_onboarding(key_account, by=kam, start=today - days(40))
    assert [s.name for s in stages] == ["Kick-off with the customer", "Set-up and integration", "Training", "First value review"]
    assert stages[0].planned == today - days(33) and stages[0].owner == kam  # the KAM owns them
    assert stages[0].checklist[0] == {"item": "Contract and order confirmed", "done": False}
    state = onboarding.onboarding_of(key_account, today=today)
    assert state["status"] == "overdue" and state["stages_overdue"] == 2  # kick-off (day 7) and set-up (day 30)
    health = services.account_health(key_account, today=today)
    part = next(c for c in health["components"] if c["name"] == "onboarding")
    assert part["explanation"] == "−5: onboarding stages overdue: 2 of 4" and "onboarding_overdue" in health["endangered"]
    for stage in stages[:2]:
        onboarding.complete_stage(stage, by=kam, today=today)
    assert onboarding.onboarding_of(key_account, today=today)["status"] == "in_progress"
    with pytest.raises(ValidationError) as again:
        onboarding.start_onboarding(key_account, by=kam)
    assert "account" in again.value.message_dict


def test_bad_stage_input_names_the_field_and_writes_nothing(key_account, kam, outsider, today):
    for data, field in (({"name": ""}, "name"), ({"name": "x" * 201}, "name"),
                        ({"name": "Go live", "checklist": [{"item": "", "done": False}]}, "checklist"),
                        ({"name": "Go live", "owner": outsider}, "owner")):
        with pytest.raises(ValidationError) as error:
            onboarding.add_stage(key_account, by=kam, **data)
        assert field in error.value.message_dict, data
    stage = onboarding.add_stage(key_account, by=kam, name="Go live", checklist=["Cut-over plan"])
    with pytest.raises(ValidationError) as error:
        onboarding.update_stage(stage, by=kam, changes={"done_on": today + days(1)})
    assert "done_on" in error.value.message_dict
    stage.refresh_from_db()
    assert stage.done_on is None and OnboardingStage.objects.count() == 1


def test_onboarding_page(key_account, kam, lead, outsider, today):
    client = client_for(kam)
    url = reverse("health:onboarding", args=[key_account.pk])
    body = client.get(url).content.decode()
    assert "No onboarding stages yet." in body and "Start onboarding" in body
    assert client.post(url, {"what": "start", "start": (today - days(10)).isoformat()}).status_code == 302
    body = client.get(url).content.decode()
    assert "Kick-off with the customer" in body and "Overdue" in body
    kickoff = OnboardingStage.objects.get(position=0)
    assert client.post(url, {"what": "tick", "stage": kickoff.pk, "item": "1", "done": "1"}).status_code == 302
    kickoff.refresh_from_db()
    assert kickoff.checklist[1]["done"] and not kickoff.checklist[0]["done"]
    assert client.post(url, {"what": "done", "stage": kickoff.pk}).status_code == 302
    kickoff.refresh_from_db()
    assert kickoff.done_on == today
    bad = client.post(url, {"what": "update", "stage": kickoff.pk, f"s{kickoff.pk}-name": "Kick-off",
                            f"s{kickoff.pk}-done_on": (today + days(3)).isoformat()})
    assert bad.status_code == 422 and "is in the future" in bad.content.decode()
    ok = client.post(url, {"what": "update", "stage": kickoff.pk, f"s{kickoff.pk}-name": "Kick-off",
                           f"s{kickoff.pk}-checklist": "Account team introduced\nWelcome pack sent"})
    assert ok.status_code == 302
    kickoff.refresh_from_db()
    assert kickoff.name == "Kick-off" and kickoff.done_on is None
    assert kickoff.checklist == [{"item": "Account team introduced", "done": True}, {"item": "Welcome pack sent", "done": False}]
    assert client.post(url, {"what": "add", "name": "Go live", "checklist": "Cut-over"}).status_code == 302
    assert client.post(url, {"what": "remove", "stage": kickoff.pk}).status_code == 302
    assert OnboardingStage.objects.count() == 4 and not OnboardingStage.objects.filter(pk=kickoff.pk).exists()
    assert client_for(outsider).get(url).status_code == 404
    health_page = client.get(reverse("health:account", args=[key_account.pk])).content.decode()
    assert "Go live" in health_page and "Plan and track the onboarding" in health_page


def test_dashboard_shows_the_onboarding_status(key_account, kam, lead, today):
    onboarding.start_onboarding(key_account, by=kam, start=today - days(40))
    services.take_snapshot(today=today)
    body = client_for(lead).get(reverse("health:dashboard")).content.decode()
    assert "Onboarding of the key accounts" in body and 'class="badge onboarding-overdue">Overdue' in body
    data = client_for(lead).get("/api/v1/dashboard").json()
    assert data["key_account_onboarding"] == {"none": 0, "in_progress": 0, "overdue": 1, "done": 0}


def test_onboarding_api(key_account, kam, outsider, api_client, today):
    client = api_client(kam)
    base = f"/api/v1/accounts/{key_account.pk}/onboarding"
    assert client.get(base).json()["status"] == "none"
    started = client.post(f"{base}/start", {"start": today.isoformat()}, content_type="application/json")
    assert started.status_code == 201 and started.json()["stages_total"] == 4 and started.json()["status"] == "in_progress"
    again = client.post(f"{base}/start", {}, content_type="application/json")
    assert again.status_code == 422 and again.json()["detail"][0]["loc"] == ["body", "account"]
    added = client.post(f"{base}/stages/", {"name": "Go live", "planned": (today - days(1)).isoformat(),
                                            "checklist": ["Cut-over plan"]}, content_type="application/json")
    assert added.status_code == 201 and added.json()["overdue"] and added.json()["checklist"][0] == {"item": "Cut-over plan", "done": False}
    stage = added.json()["id"]
    assert client.get(base).json()["status"] == "overdue"
    bad = client.patch(f"/api/v1/onboarding-stages/{stage}", {"owner_id": outsider.pk}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "owner_id"]
    done = client.patch(f"/api/v1/onboarding-stages/{stage}", {"done_on": today.isoformat(),
                                                                "checklist": [{"item": "Cut-over plan", "done": True}]},
                        content_type="application/json")
    assert done.status_code == 200 and done.json()["done_on"] == today.isoformat() and not done.json()["overdue"]
    assert client.delete(f"/api/v1/onboarding-stages/{stage}").status_code == 204
    assert api_client(outsider).get(base).status_code == 404
    assert api_client(outsider).delete(f"/api/v1/onboarding-stages/{OnboardingStage.objects.first().pk}").status_code == 404


def test_onboarding_cli(key_account, kam, capsys, today):
    onboarding.start_onboarding(key_account, by=kam, start=today - days(40))
    assert main(["health", "onboarding", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["count"] == 1 and out["items"][0]["status"] == "overdue" and out["items"][0]["stages_overdue"] == 2
    assert main(["health", "onboarding", "--overdue"]) == 0
    assert key_account.name in capsys.readouterr().out


def test_templates_are_set_by_a_lead(lead, kam, key_account):
    from keyplan.health.forms import SettingsForm  # noqa: F401  (the page's form parses the lines)

    text = "5 | Welcome call | Agenda sent; Notes shared\n20 | Go live"
    tiers = {t: onboarding.templates_from_text(text if t == "key" else "", t) for t in ("key", "candidate", "standard")}
    services.update_settings(by=lead, changes={"onboarding_templates": tiers})
    assert onboarding.templates_as_text(services.health_settings().onboarding_templates, "key") == "5 | Welcome call | Agenda sent; Notes shared\n20 | Go live"
    stages = onboarding.start_onboarding(key_account, by=kam)
    assert [s.name for s in stages] == ["Welcome call", "Go live"] and len(stages[0].checklist) == 2
    with pytest.raises(ValidationError) as error:
        services.update_settings(by=lead, changes={"onboarding_templates": {"key": [{"name": "X", "days": -1}]}})
    assert "onboarding_templates" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        onboarding.templates_from_text("soon | Kick-off", "key")
    assert "onboarding_key" in error.value.message_dict
