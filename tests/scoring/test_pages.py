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


def test_archiving_a_criterion_asks_first_and_says_what_happens_to_its_scores(lead, worked_example, criteria):
    services.create_round(by=lead, name="FY")
    client = client_for(lead)
    page = client.get(f"/selection/criteria/{criteria[0].pk}/remove/")
    html = page.content.decode()
    assert page.status_code == 200 and "Archive Product fit?" in html
    assert "1 past round used it" in html and "Its 3 current scores are kept but no longer count" in html
    assert not Criterion.objects.get(pk=criteria[0].pk).is_archived  # asking changes nothing
    client.post(f"/selection/criteria/{criteria[0].pk}/remove/")
    assert Criterion.objects.get(pk=criteria[0].pk).is_archived
    # A criterion no round used is deleted with its scores, and the page says so.
    fresh = services.create_criterion(by=lead, name="Fresh", group="growth")
    html = client.get(f"/selection/criteria/{fresh.pk}/remove/").content.decode()
    assert "Delete Fresh?" in html and "No round used it" in html
    assert client_for_kam_is_refused(fresh)


def client_for_kam_is_refused(criterion) -> bool:
    from keyplan.core.services import create_user

    kam = create_user(username="kam-x", password="x" * 20, role="team_member", check_password=False)
    return client_for(kam).get(f"/selection/criteria/{criterion.pk}/remove/").status_code == 403


def test_the_rank_column_is_named_overall_rank_in_both_tables(lead, worked_example):
    html = client_for(lead).get("/selection/").content.decode()
    assert html.count(">Overall rank") == 2


def test_the_review_defaults_to_the_latest_round_and_lets_the_user_choose(lead, worked_example, capsys):
    import datetime

    from keyplan.cli import main
    from keyplan.scoring.models import Review

    older = services.create_round(by=lead, name="FY-old", date=datetime.date.today() - datetime.timedelta(days=200))
    latest = services.create_round(by=lead, name="FY-new", date=datetime.date.today() - datetime.timedelta(days=3))
    client = client_for(lead)
    form = client.get("/selection/reviews/").content.decode()
    assert "The latest round" in form and "FY-old" in form
    client.post("/selection/reviews/", {"notes": ""})
    assert Review.objects.get().round == latest  # not the one 28 days older, as before
    client.post("/selection/reviews/", {"round": older.pk})
    assert Review.objects.order_by("-pk").first().round == older
    assert main(["review", "run", "--json", "--as", "lead"]) == 0
    import json

    assert json.loads(capsys.readouterr().out)["round"]["name"] == "FY-new"


def test_the_chart_floors_the_bubbles_and_has_a_search_box(lead, worked_example):
    from keyplan.scoring import charts

    html = client_for(lead).get("/selection/chart/").content.decode()
    assert 'id="chart-search"' in html and '<option value="Charlie">' in html
    assert "smallest bubble" in html
    points = [{"name": "Big", "growth": 8, "harmony": 8, "revenue": 1_000_000, "tier": "key", "url": "/a"},
              {"name": "Prospect", "growth": 9, "harmony": 9, "revenue": 0, "tier": "standard", "url": "/b"}]
    figure = charts.bubble(points, tiers={"key": "Key", "standard": "Standard"},
                           labels={"growth": "G", "harmony": "H", "revenue": "R", "invest": "I", "develop": "D",
                                   "maintain": "M", "deprioritise": "X"}, currency="EUR")
    sizes = {t["text"][0]: t["marker"]["size"][0] for t in figure["data"] if t["text"]}
    assert sizes["Prospect"] == 1_000_000 * charts.MIN_AREA and sizes["Big"] == 1_000_000
    assert figure["data"][1]["customdata"][0][1] == 0  # the hover tells the real revenue
    assert figure["data"][-1]["x"] == [] and len(figure["layout"]["shapes"]) == 2
    assert {a["text"] for a in figure["layout"]["annotations"]} == {"<b>I</b>", "<b>D</b>", "<b>M</b>", "<b>X</b>"}


def test_a_library_criterion_reads_in_the_readers_language_a_teams_own_name_as_given(lead, kam_account):
    """The demo's criteria (and any an English-speaking lead took from the library) are stored in English; a German
    reader sees the library's German name and description, while a criterion the team named stays as named."""
    from django.utils import translation

    with translation.override("en"):
        services.add_suggested_criterion(by=lead, key="product_fit")
    services.create_criterion(by=lead, name="Gemeinsame Roadmap", group="harmony", weight=20)
    client = client_for(lead)
    client.cookies["django_language"] = "de"
    body = client.get(reverse("scoring:matrix")).content.decode()
    assert "<bdi>Produkt-Fit</bdi>" in body and "<bdi>Product fit</bdi>" not in body
    assert "<bdi>Gemeinsame Roadmap</bdi>" in body
    assert 'aria-label="Produkt-Fit bewerten"' in body or "Produkt-Fit bewerten" in body
    persian = client_for(lead)
    persian.cookies["django_language"] = "fa"
    ranks = re.findall(r'<td class="num">([^<]*)</td>', persian.get(reverse("scoring:matrix")).content.decode())
    assert ranks and not any(re.search(r"[0-9]", r) for r in ranks), ranks
