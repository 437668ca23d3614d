"""Every edit form carries the version it was read at: saving over someone else's newer change shows a
conflict (their values next to yours) and writes nothing, instead of the last write winning. Remove
buttons carry it too."""

import datetime

from django.urls import reverse

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamMember, TeamRole
from keyplan.health import onboarding
from keyplan.health import services as health
from keyplan.health.models import OnboardingStage, RiskCase
from keyplan.relationships import services as relationships
from keyplan.relationships.forms import InfluenceLineForm, InteractionForm, StakeholderForm
from keyplan.relationships.models import InfluenceLine, Interaction, Stakeholder
from keyplan.revenue import services as revenue
from keyplan.revenue.models import Subscription
from keyplan.scoring import services as scoring
from keyplan.scoring.models import Criterion
from tests.conftest import client_for


def _posted(form, **changes) -> dict:
    """What the browser posts for ``form`` as it was read, with the user's changes."""
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None or value is False:
            continue
        data[name] = [str(v) for v in value] if isinstance(value, list | tuple) else value
    return {**data, **changes}


def test_the_stakeholder_editor_shows_a_conflict(lead, kam, kam_account):
    person = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Clara Ceo"})
    url = reverse("relationships:stakeholder", args=[kam_account.pk, person.pk])
    page = client_for(kam).get(url).content.decode()
    assert 'name="version"' in page
    read = StakeholderForm(instance=person, account=kam_account)
    relationships.update_stakeholder(person, by=lead, changes={"title": "CEO"})
    response = client_for(kam).post(url, _posted(read, title="CFO"))
    assert response.status_code == 409
    page = response.content.decode()
    assert 'id="conflict"' in page and "CEO" in page and "CFO" in page and 'id="keep-mine"' in page
    assert Stakeholder.objects.get(pk=person.pk).title == "CEO"
    # Keep mine: the form now carries the current version, so saving again is a choice.
    again = client_for(kam).post(url, _posted(read, title="CFO", version=person.version + 1))
    assert again.status_code == 302 and Stakeholder.objects.get(pk=person.pk).title == "CFO"
    # On the map (HTMX) the editor is swapped in with the conflict.
    hx = client_for(kam).post(url, _posted(read, title="COO"),
                              headers={"HX-Request": "true"})
    assert hx.status_code == 200 and 'id="conflict"' in hx.content.decode()
    stale_remove = client_for(kam).post(reverse("relationships:stakeholder_remove", args=[kam_account.pk, person.pk]),
                                        {"version": person.version})
    assert stale_remove.status_code == 302 and Stakeholder.objects.filter(pk=person.pk, archived_at=None).exists()


def test_line_and_interaction_forms_show_a_conflict(lead, kam, kam_account):
    boss = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Clara Ceo"})
    cfo = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Frank Finance"})
    line = relationships.add_influence_line(kam_account, by=lead, source=boss, target=cfo)
    url = reverse("relationships:line", args=[kam_account.pk, line.pk])
    assert 'name="version"' in client_for(kam).get(url).content.decode()
    read = InfluenceLineForm(instance=line, account=kam_account)
    relationships.update_influence_line(line, by=lead, changes={"note": "Golf"})
    response = client_for(kam).post(url, _posted(read, note="Tennis"))
    assert response.status_code == 409 and "Golf" in response.content.decode()
    assert InfluenceLine.objects.get(pk=line.pk).note == "Golf"
    client_for(kam).post(reverse("relationships:line_remove", args=[kam_account.pk, line.pk]), {"version": 1})
    assert InfluenceLine.objects.filter(pk=line.pk).exists()

    call = relationships.log_interaction(kam_account, by=lead, kind="call", date=datetime.date(2026, 1, 5), summary="Call")
    url = reverse("relationships:interaction", args=[kam_account.pk, call.pk])
    assert 'name="version"' in client_for(kam).get(url).content.decode()
    read = InteractionForm(instance=call, account=kam_account)
    relationships.update_interaction(call, by=lead, changes={"location": "Delft"})
    response = client_for(kam).post(url, _posted(read, location="Breda"))
    assert response.status_code == 409 and "Delft" in response.content.decode() and "Breda" in response.content.decode()
    assert Interaction.objects.get(pk=call.pk).location == "Delft"
    client_for(kam).post(reverse("relationships:interaction_remove", args=[kam_account.pk, call.pk]), {"version": 1})
    assert Interaction.objects.filter(pk=call.pk).exists()


def test_team_competitor_criterion_case_stage_and_subscription_forms_refuse_a_stale_version(lead, kam, kam_account, make_user):
    sales = accounts.add_team_member(kam_account, by=lead, user=make_user("sam"), role=TeamRole.SALES)
    accounts.update_team_member(sales, by=lead, responsibilities="Pricing")
    stale = client_for(kam).post(reverse("accounts:team_member", args=[kam_account.pk, sales.pk]), {"remove": "1", "version": 1},
                                 headers={"HX-Request": "true"})
    assert stale.status_code == 200 and 'id="team-conflict"' in stale.content.decode()
    assert TeamMember.objects.filter(pk=sales.pk).exists()

    criterion = scoring.create_criterion(by=lead, name="Growth rate", group="growth")
    scoring.update_criterion(criterion, by=lead, changes={"description": "Year on year"})
    response = client_for(lead).post(reverse("scoring:criterion", args=[criterion.pk]),
                                     {"name": "Growth rate", "description": "Quarterly", "weight": "20", "version": 1}, follow=True)
    assert "Someone saved this since you read it" in response.content.decode()
    assert Criterion.objects.get(pk=criterion.pk).description == "Year on year"

    case = health.open_case(kam_account, by=lead, reason="Usage fell")
    health.update_case(case, by=lead, note="Call the CFO")
    response = client_for(kam).post(reverse("health:case", args=[case.pk]),
                                    {"what": "close", "outcome": "saved", "version": 1})
    assert response.status_code == 409 and RiskCase.objects.get(pk=case.pk).outcome == ""

    stage = onboarding.add_stage(kam_account, by=lead, name="Kick-off")
    onboarding.update_stage(stage, by=lead, changes={"name": "Kick-off call"})
    url = reverse("health:onboarding", args=[kam_account.pk])
    assert f'name="s{stage.pk}-version"' in client_for(kam).get(url).content.decode()
    response = client_for(kam).post(url, {"what": "update", "stage": stage.pk, f"s{stage.pk}-name": "Start",
                                          f"s{stage.pk}-version": 1})
    page = response.content.decode()
    assert response.status_code == 409 and 'id="conflict"' in page and "Kick-off call" in page
    assert OnboardingStage.objects.get(pk=stage.pk).name == "Kick-off call"
    assert client_for(kam).post(url, {"what": "remove", "stage": stage.pk, "version": 1}).status_code == 409
    assert OnboardingStage.objects.filter(pk=stage.pk).exists()

    subscription = revenue.add_subscription(kam_account, by=lead, plan="Basic", monthly_amount=100, currency="EUR",
                                            start=datetime.date(2025, 1, 1))
    revenue.end_subscription(subscription, by=lead, end=datetime.date(2026, 3, 31))
    response = client_for(kam).post(reverse("revenue:subscription_end", args=[kam_account.pk, subscription.pk]),
                                    {"end": "2026-01-31", "version": 1})
    assert response.status_code == 400 and "Someone saved this since you read it" in response.content.decode()
    assert Subscription.objects.get(pk=subscription.pk).end == datetime.date(2026, 3, 31)
