import datetime
import re

from django.urls import reverse

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole, Tier, TierChange
from keyplan.scoring import services
from keyplan.scoring.models import Criterion, Proposal, Review, Score
from tests.conftest import client_for


def test_matrix_shows_both_tables_with_totals_in_rank_order(lead, worked_example):
    body = client_for(lead).get(reverse("scoring:matrix")).content.decode()
    assert 'id="matrix-growth"' in body and 'id="matrix-harmony"' in body
    assert body.index("Charlie") < body.index("Alpha") < body.index("Bravo")
    for value in ("7.78", "7.23", "6.60", "8.70", "4.70", "7.55"):
        assert value in body


def test_matrix_sorts_and_filters(lead, worked_example):
    client = client_for(lead)
    body = client.get(reverse("scoring:matrix"), {"sort": "growth"}).content.decode()
    growth = body.split('id="matrix-harmony"')[0]
    assert growth.index("Bravo") < growth.index("Alpha") < growth.index("Charlie")
    body = client.get(reverse("scoring:matrix"), {"q": "alp"}).content.decode()
    assert "Alpha" in body and "Bravo" not in body
    partial = client.get(reverse("scoring:matrix"), {"quadrant": "develop"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.content.decode() and "Bravo" in partial.content.decode()
    assert "Charlie" not in partial.content.decode()


def test_inline_scoring_saves_and_triggers_a_refresh(lead, kam, criteria, kam_account):
    client = client_for(kam)
    url = reverse("scoring:score", args=[kam_account.pk, criteria[0].pk])
    editor = client.get(url, headers={"HX-Request": "true"})
    assert editor.status_code == 200 and 'name="value"' in editor.content.decode()
    saved = client.post(url, {"value": "8", "note": "Strong fit"}, headers={"HX-Request": "true"})
    assert saved.status_code == 200 and "scoresChanged" in saved.headers["HX-Trigger"]
    assert ">8</a>" in saved.content.decode()
    assert Score.objects.get().note == "Strong fit"
    bad = client.post(url, {"value": "11"}, headers={"HX-Request": "true"})
    assert bad.status_code == 200 and "field-error" in bad.content.decode()
    assert Score.objects.get().value == 8


def test_scoring_outside_ones_reach_is_404_and_viewers_cannot_score(outsider, viewer, criteria, kam_account):
    url = reverse("scoring:score", args=[kam_account.pk, criteria[0].pk])
    assert client_for(outsider).post(url, {"value": "5"}).status_code == 404
    assert client_for(viewer).post(url, {"value": "5"}).status_code == 403
    assert not Score.objects.exists()


def test_team_members_see_only_their_accounts_in_the_matrix(kam, lead, criteria, kam_account, make_account):
    make_account("Hidden Industries")
    body = client_for(kam).get(reverse("scoring:matrix")).content.decode()
    assert "Acme Manufacturing" in body and "Hidden Industries" not in body


def test_criteria_page_warns_and_creates_and_refuses_bad_input(lead):
    client = client_for(lead)
    response = client.post(reverse("scoring:criteria"), {"name": "Fit", "group": "growth", "weight": "-5", "source": "manual"})
    assert response.status_code == 400 and not Criterion.objects.exists()
    response = client.post(reverse("scoring:criteria"), {"name": "Fit", "group": "", "weight": "5", "source": "manual"})
    assert response.status_code == 400 and not Criterion.objects.exists()
    assert client.post(reverse("scoring:criteria"), {"name": "Fit", "group": "growth", "weight": "60", "source": "manual"}).status_code == 302
    response = client.post(reverse("scoring:criteria"), {"name": "fit", "group": "harmony", "weight": "5", "source": "manual"})
    assert response.status_code == 400 and "already exists" in response.content.decode()
    client.post(reverse("scoring:criterion_suggested"), {"key": "cultural_fit"})
    body = client.get(reverse("scoring:criteria")).content.decode()
    assert "3 to 5 are recommended" in body and "add up to 60" in body
    assert Criterion.objects.count() == 2


def test_criteria_pages_are_for_leads(kam, viewer):
    for user in (kam, viewer):
        assert client_for(user).post(reverse("scoring:criteria"), {"name": "Fit", "group": "growth", "weight": "5"}).status_code == 403


def test_round_accept_and_demote_through_pages(lead, make_user, worked_example):
    accounts.set_tier(worked_example["Bravo"], by=lead, tier=Tier.KEY, reason="Big")
    for name in ("Alpha", "Charlie"):
        accounts.add_team_member(worked_example[name], by=lead, user=make_user(f"k{name}", kam_capacity=1), role=TeamRole.KAM)
    client = client_for(lead)
    response = client.post(reverse("scoring:rounds"), {"name": "FY2026"})
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "Charlie" in page and "Carried by" in page and "cut-off" in page
    promote = Proposal.objects.get(account=worked_example["Charlie"])
    answer = client.post(reverse("scoring:proposal", args=[promote.pk]), {"decision": "accept"}, headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "Accepted" in answer.content.decode()
    demote = Proposal.objects.get(account=worked_example["Bravo"])
    answer = client.post(reverse("scoring:proposal", args=[demote.pk]), {"decision": "accept"}, headers={"HX-Request": "true"})
    assert "reason" in answer.content.decode().lower() and Proposal.objects.get(pk=demote.pk).status == "pending"
    client.post(reverse("scoring:proposal", args=[demote.pk]),
                {"decision": "accept", "reason": "Poor fit", "effective_date": "2026-09-30"}, headers={"HX-Request": "true"})
    change = TierChange.objects.filter(account=worked_example["Bravo"]).first()
    assert (change.to_tier, change.reason, change.effective_date) == ("candidate", "Poor fit", datetime.date(2026, 9, 30))


def test_an_earlier_rounds_undecided_proposals_show_as_superseded_without_buttons(lead, make_user, worked_example):
    accounts.add_team_member(worked_example["Charlie"], by=lead, user=make_user("kc", kam_capacity=1), role=TeamRole.KAM)
    client = client_for(lead)
    first = client.post(reverse("scoring:rounds"), {"name": "FY2026"}).url
    assert 'name="decision" value="accept"' in client.get(first).content.decode()
    client.post(reverse("scoring:rounds"), {"name": "FY2026-Q2"})
    page = client.get(first).content.decode()
    assert "badge superseded" in page and "Superseded by round FY2026-Q2." in page
    assert 'name="decision" value="accept"' not in page


def test_chart_page_has_the_figure_and_quadrants(lead, worked_example):
    body = client_for(lead).get(reverse("scoring:chart")).content.decode()
    assert 'type="application/json"' in body and "Invest: key account" in body and "plotly.min.js" in body
    assert not re.search(r"<script>(?!</script>)", body)  # no inline script under the CSP


def test_account_card_shows_rank_scores_and_history(lead, worked_example):
    alpha = worked_example["Alpha"]
    services.set_score(alpha, by=lead, criterion=Criterion.objects.get(name="Product fit"), value=9, note="New plant")
    body = client_for(lead).get(reverse("scoring:account_card", args=[alpha.pk])).content.decode()
    assert "Rank <strong>" in body and "New plant" in body and "Score history" in body
    detail = client_for(lead).get(reverse("accounts:detail", args=[alpha.pk])).content.decode()
    assert reverse("scoring:account_card", args=[alpha.pk]) in detail


def test_reviews_page_runs_a_review(lead, worked_example):
    client = client_for(lead)
    response = client.post(reverse("scoring:reviews"), {"as_of": ""})
    assert response.status_code == 302
    review = Review.objects.get()
    assert client.get(response.url).status_code == 200
    assert client.post(reverse("scoring:reviews"), {"settings": "1", "review_cadence": "monthly", "team_cost_per_member": "-1"}).status_code == 400
    assert client.post(reverse("scoring:reviews"), {"settings": "1", "review_cadence": "monthly", "team_cost_per_member": "9000"}).status_code == 302
    assert services.scoring_settings().review_cadence == "monthly"
    assert services.next_review_due() is not None and review.pk


def test_navigation_points_to_selection(lead):
    body = client_for(lead).get(reverse("home")).content.decode()
    assert 'href="/selection/"' in body
    assert client_for(lead).get("/selection/").status_code == 200
