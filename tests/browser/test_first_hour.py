"""Issue 12's "done when": a new KAM lead's first hour on a fresh database, in the browser.

The home page's checklist, criteria from the guide's library, three clients scored (one with an
estimate on a criterion computed from data it does not have yet), Client B top right on the chart and
proposed, accepted, a team and stakeholders added, each step ticked on the home page as it is done,
and who-to-win's best path starting with the supporter the KAM owns.
"""

import pytest
from playwright.sync_api import expect

from keyplan.accounts import services as accounts
from keyplan.accounts.models import Account, TeamRole, Tier
from keyplan.relationships.models import Stakeholder
from keyplan.scoring.models import Criterion, Proposal, Score

pytestmark = pytest.mark.browser

GROWTH = ["Product fit", "Revenue potential", "Influence and authority"]
HARMONY = ["Existing relationship", "Cultural fit", "Strategic fit"]
# client → {criterion: score}; Client B's revenue potential is an estimate (a new prospect, no revenue yet).
SCORES = {
    "Client A": {"Product fit": 7, "Influence and authority": 4, "Cultural fit": 3, "Strategic fit": 4},
    "Client B": {"Product fit": 9, "Influence and authority": 8, "Cultural fit": 8, "Strategic fit": 9},
    "Client C": {"Product fit": 3, "Influence and authority": 5, "Cultural fit": 8, "Strategic fit": 7},
}

def done_steps(page) -> set[str]:
    return {item.get_attribute("id").removeprefix("step-") for item in page.locator("#checklist li.done").all()}

def score(page, account: Account, criterion: Criterion, value: int) -> None:
    cell = page.locator(f"#cell-{account.pk}-{criterion.pk}")
    cell.locator("a.score-link").click()
    editor = page.locator(f"#cell-{account.pk}-{criterion.pk} .score-editor")
    editor.locator("select[name=value]").select_option(str(value))
    with page.expect_response(lambda r: r.url.split("?")[0].endswith("/selection/") and r.request.method == "GET"):
        editor.locator("button:has-text('Save')").click()  # saves the cell, then the rows reload with the new totals
    page.wait_for_load_state("networkidle")
    expect(page.locator(f"#cell-{account.pk}-{criterion.pk}")).to_contain_text(str(value))

def add_stakeholder(page, account: Account, **fields) -> None:
    page.goto(f"/accounts/{account.pk}/relationships/people/new/")
    for name, value in fields.items():
        field = page.locator(f"form [name={name}]").first
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    page.locator("button:has-text('Add to the map')").click()
    expect(page.locator(".messages, .message").first).to_contain_text(f"{fields['name']} added to the map")
    page.wait_for_load_state("networkidle")  # the map's own requests, before the test reads the database

def add_line(page, account: Account, source: Stakeholder, target: Stakeholder) -> None:
    page.goto(f"/accounts/{account.pk}/relationships/lines/new/")
    page.locator("select[name=source]").select_option(str(source.pk))
    page.locator("select[name=target]").select_option(str(target.pk))
    page.locator("input[name=polarity][value=positive]").check()
    page.locator("select[name=strength]").select_option("strong")
    page.locator("button:has-text('Draw the line')").click()
    expect(page.locator(".messages, .message").first).to_contain_text("Influence line drawn")
    page.wait_for_load_state("networkidle")

def test_a_kam_leads_first_hour(page, log_in, lead, make_user, screenshot):
    page.set_default_timeout(30_000)  # a long flow: each save refreshes the matrix, slow on a busy machine
    kam = make_user("kira", first_name="Kira", last_name="Kam", kam_capacity=1)
    log_in("lead")

    # A fresh installation: the home page lays out the process, nothing done yet.
    expect(page.locator("#checklist")).to_contain_text("0 of 8 steps done")
    screenshot("first-hour-1-home-empty")

    # Criteria from the guide's library: three for growth potential, three for harmony.
    page.locator("#step-criteria a").click()
    for name in GROWTH + HARMONY:
        page.locator(f".suggested button:has-text('+ {name}')").click()
        expect(page.locator(f"tr.criterion-row input[name=name][value='{name}']")).to_have_count(1)
    assert sorted(Criterion.objects.filter(group="growth").values_list("name", flat=True)) == sorted(GROWTH)
    assert sorted(Criterion.objects.filter(group="harmony").values_list("name", flat=True)) == sorted(HARMONY)

    # Three clients, new prospects without revenue.
    clients = {}
    for number, name in enumerate(SCORES, start=1):
        page.goto("/accounts/new/")
        page.fill("#id_name", name)
        page.fill("#id_external_id", f"CL-{number}")
        page.locator("button:has-text('Create account')").click()
        expect(page.locator("h1")).to_contain_text(name)
        # The account page loads its cards with requests of its own; on SQLite they share this thread's
        # in-memory connection, so the test touches the database only once the page is idle.
        page.wait_for_load_state("networkidle")
        clients[name] = Account.objects.get(name=name)
    # The KAM who will carry the key account, on Client A's team already (the program's capacity: 1).
    accounts.add_team_member(clients["Client A"], by=lead, user=kam, role=TeamRole.KAM)

    # Score them in the matrix; Client B's revenue potential is estimated, as no revenue is there yet.
    page.goto("/selection/")
    criteria = {c.name: c for c in Criterion.objects.all()}
    for name, values in SCORES.items():
        for criterion, value in values.items():
            score(page, clients[name], criteria[criterion], value)
    score(page, clients["Client B"], criteria["Revenue potential"], 9)
    estimate = Score.objects.get(account=clients["Client B"], criterion=criteria["Revenue potential"])
    assert estimate.estimate and estimate.scored_by == lead
    expect(page.locator(f"#cell-{clients['Client B'].pk}-{criteria['Revenue potential'].pk}")).to_contain_text("≈9")
    expect(page.locator("#matrix-growth tbody tr").first).to_contain_text("Client B")
    screenshot("first-hour-2-matrix")

    # Client B sits top right on the growth × harmony chart.
    page.goto("/selection/chart/")
    page.fill("#chart-search", "Client B")
    expect(page.locator("#bubble-chart")).to_have_attribute("data-highlighted", "Client B")
    ring = page.evaluate("() => { const d = document.getElementById('bubble-chart').data; const t = d[d.length - 1];"
                         " return [t.x[0], t.y[0]]; }")
    assert ring[0] > 5.5 and ring[1] > 5.5, ring
    screenshot("first-hour-3-chart")

    # Take a round: Client B is proposed; accept it.
    page.goto("/")
    page.locator("#step-round a").click()
    page.fill("#id_name", "FY-first")
    page.locator("button:has-text('Take the round')").click()
    proposal = page.locator("li.proposal")
    expect(proposal).to_have_count(1)
    expect(proposal).to_contain_text("Client B")
    proposal.locator("button:has-text('Accept')").click()
    expect(page.locator("li.proposal .badge.accepted")).to_be_visible()
    clients["Client B"].refresh_from_db()
    assert clients["Client B"].tier == Tier.KEY
    assert Proposal.objects.get().status == "accepted"
    # The round kept the estimate: there was still no revenue to replace it.
    assert Score.objects.get(pk=estimate.pk).estimate

    page.goto("/")
    assert done_steps(page) == {"criteria", "score", "round", "accept"}

    # Give Client B a team: the KAM.
    page.goto(f"/accounts/{clients['Client B'].pk}/")
    page.locator("summary:has-text('Add a team member')").click()
    team_form = page.locator(f"form[action='/accounts/{clients['Client B'].pk}/team/']")
    team_form.locator("select[name=user]").select_option(str(kam.pk))
    team_form.locator("select[name=role]").select_option(TeamRole.KAM)
    team_form.locator("button:has-text('Add')").click()
    expect(page.locator("#team")).to_contain_text("Kira Kam")

    # Map the stakeholders: a neutral decision maker, a supporter the KAM owns, an outside consultant.
    client_b = clients["Client B"]
    add_stakeholder(page, client_b, name="Dana Decider", title="CEO", buying_role="decision_maker",
                    decision_power="high", sentiment="neutral")
    add_stakeholder(page, client_b, name="Sam Supporter", title="Head of operations", sentiment="supporter",
                    decision_power="medium", contact_strength="strong", owner=str(kam.pk))
    add_stakeholder(page, client_b, name="Carl Consultant", title="Adviser", external_organisation="Advisory BV",
                    sentiment="neutral")
    people = {s.name: s for s in Stakeholder.objects.filter(account=client_b)}
    # The consultant's line first: the order they were drawn in must not decide the best path.
    add_line(page, client_b, people["Carl Consultant"], people["Dana Decider"])
    add_line(page, client_b, people["Sam Supporter"], people["Dana Decider"])

    # The map computed the existing relationship at once (no estimate was given for it).
    coverage = Score.objects.get(account=client_b, criterion=criteria["Existing relationship"])
    assert not coverage.estimate and coverage.computed_at is not None

    page.goto("/")
    assert done_steps(page) == {"criteria", "score", "round", "accept", "team", "stakeholders"}
    expect(page.locator("#checklist")).to_contain_text("6 of 8 steps done")
    screenshot("first-hour-4-home")

    # Who to win: the decision maker, reached best through the supporter the KAM owns and knows well.
    page.goto(f"/accounts/{client_b.pk}/relationships/who-to-win/")
    target = page.locator(f"#target-{people['Dana Decider'].pk}")
    best = target.locator("li.path.best")
    expect(best.locator(".path-person").first).to_have_text("Sam Supporter")
    expect(best).to_contain_text("owned by Kira Kam")
    other = target.locator("li.path:not(.best)")
    expect(other.locator(".path-person").first).to_have_text("Carl Consultant")
    expect(other).to_contain_text("nobody has contacted Carl Consultant yet")
    screenshot("first-hour-5-who-to-win")
