import datetime
import re

import pytest
from django.urls import reverse

from keyplan.relationships.models import InfluenceLine, Interaction, Stakeholder
from tests.conftest import client_for


def url(name, account, *args):
    return reverse(f"relationships:{name}", args=[account.pk, *args])


HX = {"HTTP_HX_REQUEST": "true"}


class TestReach:
    @pytest.mark.parametrize("name", ["map", "table", "who_to_win", "interactions", "ics", "stakeholder_create", "line_create"])
    def test_another_teams_account_is_404(self, name, kam_account, make_account, kam):
        other = make_account("Secret Corp")
        assert client_for(kam).get(url(name, other)).status_code == 404

    def test_a_stakeholder_of_another_account_is_404_under_this_one(self, kam_account, make_account, make_stakeholder, kam):
        stranger = make_stakeholder(make_account("Other"), "Stranger")
        assert client_for(kam).get(url("stakeholder", kam_account, stranger.pk)).status_code == 404

    def test_viewer_reads_but_cannot_write(self, kam_account, viewer, cfo_case):
        client = client_for(viewer)
        page = client.get(url("map", kam_account))
        assert page.status_code == 200 and b"Add stakeholder" not in page.content
        detail = client.get(url("stakeholder", kam_account, cfo_case["cfo"].pk))
        assert detail.status_code == 200 and b"name=\"sentiment\"" not in detail.content and b"Frank Finance" in detail.content
        assert client.post(url("stakeholder", kam_account, cfo_case["cfo"].pk), {"name": "X"}).status_code == 403
        assert client.post(url("stakeholder_remove", kam_account, cfo_case["cfo"].pk)).status_code == 403
        assert client.get(url("stakeholder_create", kam_account)).status_code == 403
        assert client.post(url("interaction_create", kam_account), {"summary": "x"}).status_code == 403
        assert Stakeholder.objects.get(pk=cfo_case["cfo"].pk).name == "Frank Finance"


class TestMapPage:
    def test_map_shows_the_svg_inline_with_clickable_people(self, kam_account, kam, cfo_case):
        body = client_for(kam).get(url("map", kam_account)).content.decode()
        assert '<svg xmlns="http://www.w3.org/2000/svg"' in body
        cfo = cfo_case["cfo"]
        assert f'href="{url("stakeholder", kam_account, cfo.pk)}" class="node-link"' in body
        assert "Frank Finance" in body and "Who to win next" in body
        assert 'src="/static/keyplan/stakeholder-map.js"' in body
        assert ' style="' not in body  # the CSP allows no inline styles

    def test_htmx_refresh_gives_only_the_map(self, kam_account, kam, cfo_case):
        response = client_for(kam).get(url("map", kam_account) + f"?selected={cfo_case['cfo'].pk}", **HX)
        body = response.content.decode()
        assert body.lstrip().startswith('<section class="card map-card') and "<html" not in body
        assert 'class="selected"' in body

    def test_account_page_links_to_relationships(self, kam_account, kam):
        body = client_for(kam).get(reverse("accounts:detail", args=[kam_account.pk])).content.decode()
        assert f'href="{url("map", kam_account)}"' in body

    def test_stale_alert_on_the_map(self, kam_account, kam, make_stakeholder, log):
        make_stakeholder(kam_account, "Quiet Key", is_key_contact=True)
        met = make_stakeholder(kam_account, "Old Friend", buying_role="decision_maker")
        log(kam_account, met, days_ago=70)
        body = client_for(kam).get(url("map", kam_account)).content.decode()
        assert "2 stale relationships" in body and "never contacted" in body and "70 days" in body
        body = client_for(kam).get(url("map", kam_account) + "?days=100").content.decode()
        assert "1 stale relationship:" in body


class TestEditInPlace:
    def test_editor_fragment_for_a_node(self, kam_account, kam, cfo_case):
        response = client_for(kam).get(url("stakeholder", kam_account, cfo_case["cfo"].pk), **HX)
        body = response.content.decode()
        assert body.lstrip().startswith('<div class="stakeholder-editor"') and "<html" not in body
        assert 'name="sentiment"' in body and 'id="selected-stakeholder"' in body

    def test_saving_in_place_returns_the_editor_and_refreshes_the_map(self, kam_account, kam, cfo_case):
        cfo = cfo_case["cfo"]
        data = {"name": "Frank Finance", "title": "CFO", "decision_power": "high", "sentiment": "neutral",
                "contact_strength": "weak", "buying_role": "economic_buyer", "reports_to": cfo_case["ceo"].pk}
        response = client_for(kam).post(url("stakeholder", kam_account, cfo.pk), data, **HX)
        assert response.status_code == 200 and "relationshipsChanged" in response.headers["HX-Trigger"]
        assert "Saved." in response.content.decode()
        cfo.refresh_from_db()
        assert cfo.sentiment == "neutral" and cfo.history.first().history_user == kam

    def test_a_cycle_is_shown_on_the_field_and_nothing_saved(self, kam_account, kam, cfo_case, make_stakeholder):
        ceo, cfo = cfo_case["ceo"], cfo_case["cfo"]
        data = {"name": "Clara Ceo", "decision_power": "high", "sentiment": "neutral", "contact_strength": "medium",
                "reports_to": cfo.pk}
        response = client_for(kam).post(url("stakeholder", kam_account, ceo.pk), data, **HX)
        body = response.content.decode()
        assert response.status_code == 200 and "HX-Trigger" not in response.headers
        assert "cycle" in body and "nothing was saved" in body
        ceo.refresh_from_db()
        assert ceo.reports_to is None

    def test_plain_post_without_javascript(self, kam_account, kam):
        response = client_for(kam).post(url("stakeholder_create", kam_account), {
            "name": "Nina New", "decision_power": "low", "sentiment": "supporter", "contact_strength": "none"})
        person = Stakeholder.objects.get(name="Nina New")
        assert response.status_code == 302 and response.url == url("map", kam_account) + f"?selected={person.pk}"
        bad = client_for(kam).post(url("stakeholder_create", kam_account), {"name": "", "sentiment": "enthusiastic"})
        assert bad.status_code == 400 and Stakeholder.objects.count() == 1

    def test_add_a_line_from_the_map(self, kam_account, kam, cfo_case):
        ceo, ops = cfo_case["ceo"], cfo_case["ops"]
        response = client_for(kam).post(url("line_create", kam_account), {
            "source": ops.pk, "target": ceo.pk, "polarity": "positive", "strength": "weak", "note": ""}, **HX)
        assert response.status_code == 200 and "relationshipsChanged" in response.headers["HX-Trigger"]
        assert InfluenceLine.objects.filter(source=ops, target=ceo).exists()
        self_line = client_for(kam).post(url("line_create", kam_account), {
            "source": ops.pk, "target": ops.pk, "polarity": "positive", "strength": "weak"}, **HX)
        assert "cannot influence themselves" in self_line.content.decode()

    def test_remove_archives_someone_in_the_log(self, kam_account, kam, cfo_case, log):
        log(kam_account, cfo_case["cfo"])
        response = client_for(kam).post(url("stakeholder_remove", kam_account, cfo_case["cfo"].pk), **HX)
        assert "is archived" in response.content.decode()
        assert Stakeholder.objects.get(pk=cfo_case["cfo"].pk).is_archived


class TestTable:
    def test_filters_and_last_contact(self, kam_account, kam, cfo_case, log, today):
        log(kam_account, cfo_case["ops"], days_ago=3)
        client = client_for(kam)
        body = client.get(url("table", kam_account)).content.decode()
        assert "4 stakeholders" in body and "Van Dijk Audit" in body
        assert (today - datetime.timedelta(days=3)).strftime("%Y-%m-%d") in body
        assert "1 stakeholder" in client.get(url("table", kam_account), {"sentiment": "critic"}).content.decode()
        external = client.get(url("table", kam_account), {"side": "external"}, **HX).content.decode()
        assert external.lstrip().startswith('<div id="results">') and "Arne Audit" in external and "Frank Finance" not in external
        assert "1 stakeholder" in client.get(url("table", kam_account), {"contact": "medium"}).content.decode()
        assert "0 stakeholders" in client.get(url("table", kam_account), {"archived": "on"}).content.decode()


class TestWhoToWin:
    def test_ranked_list_with_path_owner_and_risk(self, kam_account, kam, cfo_case):
        body = client_for(kam).get(url("who_to_win", kam_account)).content.decode()
        first = body.index('id="target-')
        assert body[first:].startswith(f'id="target-{cfo_case["cfo"].pk}"')
        assert "Olga Operations" in body and "owned by Karl Kam" in body
        assert "Arne Audit has a negative influence" in body and "Questions our pricing" in body
        assert "Critical of us." in body

    def test_no_path_is_said(self, kam_account, kam, make_stakeholder):
        make_stakeholder(kam_account, "Lonely Boss", decision_power="high", sentiment="critic")
        assert "No path" in client_for(kam).get(url("who_to_win", kam_account)).content.decode()


class TestInteractionLog:
    def test_log_a_meeting_with_a_next_step(self, kam_account, kam, cfo_case, today):
        response = client_for(kam).post(url("interaction_create", kam_account), {
            "kind": "meeting", "date": today.isoformat(), "duration_minutes": 60, "summary": "Pricing talk",
            "stakeholders": [cfo_case["cfo"].pk], "users": [kam.pk], "next_step": "Send the revised offer",
            "next_step_owner": kam.pk, "next_step_due": (today + datetime.timedelta(days=7)).isoformat()}, **HX)
        assert response.status_code == 200 and "relationshipsChanged" in response.headers["HX-Trigger"]
        interaction = Interaction.objects.get()
        assert interaction.created_by == kam and list(interaction.stakeholders.all()) == [cfo_case["cfo"]]
        body = client_for(kam).get(url("interactions", kam_account)).content.decode()
        assert "Pricing talk" in body and "Send the revised offer" in body

    def test_newest_first_filters_and_duplicates(self, kam_account, kam, sales, cfo_case, log, today):
        log(kam_account, cfo_case["cfo"], days_ago=30, summary="Old meeting", by=kam)
        log(kam_account, cfo_case["ops"], days_ago=2, summary="New call", kind="call", by=kam,
            next_step="Send the revised offer to Frank", next_step_due=today + datetime.timedelta(days=5))
        log(kam_account, cfo_case["cfo"], days_ago=1, summary="Lunch", by=sales,
            next_step="send revised offer to Frank", next_step_due=today + datetime.timedelta(days=6))
        client = client_for(kam)
        body = client.get(url("interactions", kam_account)).content.decode()
        assert body.index("Lunch") < body.index("New call") < body.index("Old meeting")
        assert body.count("Possible duplicate") == 2
        calls = client.get(url("interactions", kam_account), {"kind": "call"}, **HX).content.decode()
        assert "New call" in calls and "Old meeting" not in calls
        about_cfo = client.get(url("interactions", kam_account), {"stakeholder": cfo_case["cfo"].pk}).content.decode()
        assert "Old meeting" in about_cfo and "New call" not in about_cfo

    def test_edit_page_saves_and_shows_history(self, kam_account, kam, cfo_case, log, today):
        interaction = log(kam_account, cfo_case["cfo"], by=kam, summary="First words", next_step="Call back")
        response = client_for(kam).post(url("interaction", kam_account, interaction.pk), {
            "kind": "call", "date": interaction.date.isoformat(), "duration_minutes": 30, "summary": "Better words",
            "stakeholders": [cfo_case["cfo"].pk], "next_step": "Call back", "next_step_done": "on"})
        assert response.status_code == 302
        interaction.refresh_from_db()
        assert interaction.kind == "call" and interaction.next_step_done
        body = client_for(kam).get(url("interaction", kam_account, interaction.pk)).content.decode()
        assert "First words" in body and "Better words" in body and "Karl Kam" in body

    def test_bad_input_is_shown_on_the_field(self, kam_account, kam):
        response = client_for(kam).post(url("interaction_create", kam_account), {
            "kind": "telepathy", "date": "", "summary": ""}, **HX)
        body = response.content.decode()
        assert response.status_code == 200 and "nothing was saved" in body and "field-error" in body
        assert not Interaction.objects.exists()

    def test_ics_export_of_planned_meetings(self, kam_account, kam, cfo_case, log):
        import datetime as dt

        log(kam_account, cfo_case["cfo"], days_ago=-7, summary="Budget meeting\nwith the CFO; bring numbers",
            time=dt.time(9, 30), duration_minutes=90, location="Utrecht, HQ")
        log(kam_account, cfo_case["ops"], days_ago=-3, summary="Plant day", kind="visit")
        log(kam_account, cfo_case["ops"], days_ago=5, summary="Held already")
        log(kam_account, cfo_case["ops"], days_ago=-2, summary="Just an email", kind="email")
        response = client_for(kam).get(url("ics", kam_account))
        assert response["Content-Type"].startswith("text/calendar")
        assert "attachment" in response["Content-Disposition"] and ".ics" in response["Content-Disposition"]
        text = response.content.decode()
        assert text.count("BEGIN:VEVENT") == 2 and "Held already" not in text and "Just an email" not in text
        unfolded = text.replace("\r\n ", "")
        assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
        assert "LOCATION:Utrecht\\, HQ" in unfolded
        assert "Budget meeting\\nwith the CFO\\; bring numbers" in unfolded
        # 09:30 in Amsterdam is 07:30 or 08:30 UTC depending on the season; 90 minutes long.
        start = re.search(r"DTSTART:(\d{8}T\d{6}Z)", unfolded).group(1)
        end = re.search(r"DTEND:(\d{8}T\d{6}Z)", unfolded).group(1)
        fmt = "%Y%m%dT%H%M%SZ"
        assert (dt.datetime.strptime(end, fmt) - dt.datetime.strptime(start, fmt)) == dt.timedelta(minutes=90)
        assert "DTSTART;VALUE=DATE:" in unfolded  # the visit without a time is an all-day event


class TestPortfolio:
    def test_navigation_and_portfolio_page(self, kam_account, kam, cfo_case, make_account, make_stakeholder):
        from keyplan.accounts import services as accounts

        accounts.set_tier(kam_account, by=cfo_case["ceo"].account.tier_changes.first().changed_by, tier="key", reason="Big")
        hidden = make_account("Hidden Corp")
        make_stakeholder(hidden, "Hidden Key", is_key_contact=True)
        response = client_for(kam).get(reverse("relationships:portfolio"))
        body = response.content.decode()
        assert response.status_code == 200 and "Coming next" not in body
        assert re.search(r'<a href="/relationships/" aria-current="page">Relationships</a>', body)
        assert "Frank Finance" in body and "Acme Manufacturing" in body  # who to win on the key account
        assert "Clara Ceo" in body  # a decision maker never contacted: stale
        assert "Hidden Key" not in body and "Hidden Corp" not in body
