"""The printable account plan: every section and the timeline on one print-ready page, no editing controls."""

import datetime

from django.urls import reverse

from keyplan.planning import services
from tests.conftest import client_for


def test_the_plan_page_links_to_its_print_ready_version(kam, plan, goal, today):
    services.add_action(goal, by=kam, data={"title": "Kick-off with the CFO", "start": today,
                                            "due": today + datetime.timedelta(days=10)})
    client = client_for(kam)
    page = client.get(reverse("planning:plan", args=[plan.account_id, plan.pk])).content.decode()
    assert f'href="{reverse("planning:print", args=[plan.account_id, plan.pk])}" id="print-link"' in page
    printed = client.get(reverse("planning:print", args=[plan.account_id, plan.pk]))
    assert printed.status_code == 200
    body = printed.content.decode()
    assert "Printed on" in body and "by Karl Kam" in body and 'data-print id="print-now"' in body
    assert "Grow revenue 10 %" in body and "Kick-off with the CFO" in body
    assert 'id="timeline"' in body and "<svg" in body  # the Gantt chart comes along
    for control in ('id="edit-plan"', 'id="add-goal"', 'class="edit-goal"', 'class="add-action"', 'id="mark-reviewed"'):
        assert control not in body, control


def test_only_those_who_see_the_account_print_its_plan(outsider, viewer, plan):
    url = reverse("planning:print", args=[plan.account_id, plan.pk])
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(viewer).get(url).status_code == 200


def test_the_printed_plan_speaks_the_readers_language(kam, plan):
    client = client_for(kam)
    client.cookies["django_language"] = "nl"
    body = client.get(reverse("planning:print", args=[plan.account_id, plan.pk]), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert "Afgedrukt op" in body and "Afdrukken of opslaan als pdf" in body
