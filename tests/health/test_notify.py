"""keyplan notify: each KAM's notifications raised once, the digest e-mailed once."""

import datetime
import json

from django.core import mail
from django.urls import reverse

from keyplan.cli import main
from keyplan.health import services
from keyplan.health.models import Notification
from keyplan.planning import services as planning
from keyplan.relationships import services as relationships
from tests.conftest import client_for


def test_notify_raises_once_and_emails_the_digest_once(key_account, kam, lead, today, capsys, api_client):
    kam.email = "kam@example.com"
    kam.save()
    services.record_review(key_account, by=kam, held_on=today - datetime.timedelta(days=200))
    services.open_case(key_account, by=lead, reason="CFO left")
    relationships.create_stakeholder(key_account, by=kam, data={"name": "Dora Decider", "buying_role": "decision_maker",
                                                                "decision_power": "high"})
    plan = planning.create_plan(key_account, by=kam, period=f"FY{today.year}")
    planning.activate_plan(plan, by=kam)
    goal = planning.add_goal(plan, by=kam, data={"title": "Keep them", "owner": kam})
    planning.add_action(goal, by=kam, data={"title": "Call Dora", "owner": kam, "due": today - datetime.timedelta(days=2)})

    assert main(["notify", "--email", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["created"] == 4 and first["emailed"] == 1
    assert {n.kind for n in Notification.objects.all()} == {"review_overdue", "endangered", "stale", "action_overdue"}
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["kam@example.com"]
    body = mail.outbox[0].body
    assert "Dora Decider" in body and "has never been contacted" in body and "“Call Dora”" in body and "CFO left" in body

    assert main(["notify", "--email", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second == {"created": 0, "emailed": 0, "users": 1} and len(mail.outbox) == 1

    page = client_for(kam).get(reverse("health:notifications")).content.decode()
    assert "The account review of" in page and page.count('class="unread"') == 4
    listed = api_client(kam).get("/api/v1/notifications?unread=true").json()
    assert listed["count"] == 4 and {"text", "url", "kind", "account"} <= set(listed["items"][0])
    assert client_for(kam).post(reverse("health:notifications")).status_code == 302
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    assert api_client(lead).get("/api/v1/notifications").json()["count"] == 0  # the lead is no KAM here


def test_notify_raises_overdue_check_ins_and_onboarding_stages_once(key_account, kam, today, capsys):
    from keyplan.health import onboarding

    services.record_checkin(key_account, by=kam, held_on=today - datetime.timedelta(days=120))  # quarterly: overdue
    onboarding.start_onboarding(key_account, by=kam, start=today - datetime.timedelta(days=40))  # two stages overdue
    assert main(["notify", "--json"]) == 0
    capsys.readouterr()
    kinds = sorted(Notification.objects.filter(kind__in=["checkin_overdue", "onboarding_overdue"]).values_list("kind", flat=True))
    assert kinds == ["checkin_overdue", "onboarding_overdue", "onboarding_overdue"]
    texts = [services.notification_text(n) for n in Notification.objects.filter(kind="onboarding_overdue")]
    assert any("“Kick-off with the customer”" in t for t in texts)
    assert main(["notify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] == 0
