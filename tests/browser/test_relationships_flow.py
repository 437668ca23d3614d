"""A KAM works a key account's map in the browser: edit a person in place, add someone, draw a line, log a meeting."""

import datetime

import pytest
from playwright.sync_api import expect

from keyplan.relationships import services
from keyplan.relationships.models import InfluenceLine, Interaction, Stakeholder

pytestmark = pytest.mark.browser


@pytest.fixture
def mapped(kam_account, kam):
    def add(name, **data):
        return services.create_stakeholder(kam_account, by=kam, data={"name": name, **data})

    ceo = add("Clara Ceo", title="CEO", decision_power="high", buying_role="decision_maker", owner=kam)
    cfo = add("Frank Finance", title="CFO", reports_to=ceo, decision_power="high", sentiment="critic", buying_role="economic_buyer")
    ops = add("Olga Operations", title="Head of operations", reports_to=ceo, sentiment="supporter", owner=kam, is_key_contact=True)
    auditor = add("Arne Audit", title="Auditor", external_organisation="Van Dijk Audit")
    services.add_influence_line(kam_account, by=kam, source=ops, target=cfo, strength="strong")
    services.add_influence_line(kam_account, by=kam, source=auditor, target=cfo, polarity="negative")
    return {"ceo": ceo, "cfo": cfo, "ops": ops, "auditor": auditor}


def node(page, person):
    return page.locator(f"svg.stakeholder-map #kp-stakeholder-{person.pk}")


def test_edit_a_node_on_the_map_in_place(page, log_in, kam, kam_account, mapped, screenshot):
    log_in("kam")
    page.goto(f"/accounts/{kam_account.pk}/")
    page.click("#relationships-link")
    expect(page.locator("svg.stakeholder-map")).to_be_visible()
    map_url = page.url
    cfo = mapped["cfo"]
    expect(node(page, cfo)).to_have_attribute("data-sentiment", "critic")
    expect(page.locator("#map-editor")).to_contain_text("Who to win next")

    # Click the CFO: the editor opens beside the map, the page stays where it is.
    node(page, cfo).click()
    editor = page.locator("#map-editor .stakeholder-editor")
    expect(editor.locator("h2")).to_contain_text("Frank Finance")
    assert page.url == map_url
    editor.locator("select[name=sentiment]").select_option("supporter")
    editor.locator("select[name=owner]").select_option(str(kam.pk))
    editor.locator("button:has-text('Save')").click()
    expect(page.locator("#map-editor .message")).to_have_text("Saved.")
    # The map redraws itself: the CFO is now green, and still selected.
    expect(node(page, cfo)).to_have_attribute("data-sentiment", "supporter")
    expect(node(page, cfo).locator("rect.selected")).to_have_count(1)
    assert page.url == map_url
    cfo.refresh_from_db()
    assert cfo.sentiment == "supporter" and cfo.owner == kam
    screenshot("relationships-map-edited")

    # A cycle is refused on the field, and nothing changes.
    node(page, mapped["ceo"]).click()
    expect(editor.locator("h2")).to_contain_text("Clara Ceo")
    editor.locator("select[name=reports_to]").select_option(str(cfo.pk))
    editor.locator("button:has-text('Save')").click()
    expect(editor.locator(".field-error")).to_contain_text("cycle")
    assert Stakeholder.objects.get(pk=mapped["ceo"].pk).reports_to is None

    # Add a direct report of the CFO from the editor, then draw a line from her.
    node(page, cfo).click()
    expect(editor.locator("h2")).to_contain_text("Frank Finance")
    editor.locator("text=Add a direct report").click()
    expect(editor.locator("h2")).to_contain_text("New stakeholder")
    editor.locator("input[name=name]").fill("Nina Numbers")
    editor.locator("input[name=title]").fill("Controller")
    editor.locator("button:has-text('Add to the map')").click()
    expect(page.locator("#map-editor .message")).to_contain_text("Nina Numbers added to the map")
    nina = Stakeholder.objects.get(name="Nina Numbers")
    assert nina.reports_to == cfo
    expect(node(page, nina)).to_be_visible()
    page.locator("#map-editor").locator("text=Draw a line from this person").click()
    page.locator("#map-editor select[name=target]").select_option(str(mapped["ceo"].pk))
    page.locator("#map-editor button:has-text('Draw the line')").click()
    expect(page.locator("#map-editor .message")).to_have_text("Influence line drawn.")
    expect(page.locator(f"svg.stakeholder-map g.influence[data-source='{nina.pk}'][data-target='{mapped['ceo'].pk}']")).to_have_count(1)
    assert InfluenceLine.objects.filter(source=nina, target=mapped["ceo"]).exists()


def test_log_a_meeting_and_read_who_to_win(page, log_in, kam, kam_account, mapped, screenshot):
    log_in("kam")
    page.goto(f"/accounts/{kam_account.pk}/relationships/who-to-win/")
    first = page.locator("ol.targets > li").first
    expect(first).to_contain_text("Frank Finance")
    expect(first.locator(".path.best")).to_contain_text("Olga Operations → Frank Finance")
    expect(first.locator(".risk")).to_contain_text("Arne Audit")

    page.click("nav.tabs >> text=Interaction log")
    next_week = datetime.date.today() + datetime.timedelta(days=7)
    form = page.locator("#log-form")
    form.locator("select[name=kind]").select_option("meeting")
    form.locator("input[name=date]").fill(next_week.isoformat())
    form.locator("input[name=time]").fill("10:00")
    form.locator("textarea[name=summary]").fill("Budget review with the CFO")
    form.locator("select[name=stakeholders]").select_option([str(mapped["cfo"].pk), str(mapped["ops"].pk)])
    form.locator("textarea[name=next_step]").fill("Send the revised offer")
    form.locator("select[name=next_step_owner]").select_option(str(kam.pk))
    form.locator("button:has-text('Log it')").click()
    expect(page.locator("#log-form .message")).to_have_text("Interaction logged.")
    expect(page.locator("#results")).to_contain_text("Budget review with the CFO")
    expect(page.locator("#results")).to_contain_text("planned")
    interaction = Interaction.objects.get()
    assert interaction.date == next_week and set(interaction.stakeholders.all()) == {mapped["cfo"], mapped["ops"]}
    # The filters swap the list in place; the log form beside it does not set them off.
    page.locator("form.filters select[name=when]").select_option("held")
    expect(page.locator("#results")).to_contain_text("0 interactions")
    page.locator("form.filters select[name=when]").select_option("planned")
    expect(page.locator("#results")).to_contain_text("Budget review with the CFO")
    with page.expect_download() as download:
        page.click("text=Export to calendar (.ics)")
    text = open(download.value.path(), encoding="utf-8").read()
    assert "BEGIN:VEVENT" in text and "Budget review with the CFO" in text.replace("\r\n ", "")
    screenshot("relationships-log")


def test_show_one_department_of_the_map(page, log_in, kam, kam_account, mapped, screenshot):
    services.update_stakeholder(mapped["cfo"], by=kam, changes={"department": "Finance"})
    services.update_stakeholder(mapped["ops"], by=kam, changes={"department": "Operations"})
    log_in("kam")
    page.goto(f"/accounts/{kam_account.pk}/relationships/")
    legend = page.locator("svg.stakeholder-map g.legend")
    expect(legend).to_contain_text("Medium decision power")
    expect(legend).to_contain_text("stripe")
    page.locator("#map-department").select_option("Finance")
    page.locator("form.map-filter button").click()
    expect(page.locator("svg.stakeholder-map .map-subtitle")).to_contain_text("Department: Finance (1 of 4 people)")
    expect(node(page, mapped["cfo"])).to_be_visible()
    expect(node(page, mapped["ops"])).to_have_count(0)
    assert "department=Finance" in page.url  # the address prints and shares the same map
    expect(page.locator("a:has-text('Download SVG')")).to_have_attribute("href", f"/api/v1/accounts/{kam_account.pk}/map.svg?department=Finance")
    screenshot("relationships-map-department")


@pytest.mark.parametrize("language", ["en", "fa"])
def test_a_concurrent_change_on_the_map_shows_both_versions(page, log_in, lead, kam, kam_account, mapped, screenshot,
                                                             live_server, language):
    log_in("kam")
    if language != "en":
        page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page.goto(f"/accounts/{kam_account.pk}/relationships/")
    cfo = mapped["cfo"]
    node(page, cfo).click()
    editor = page.locator("#map-editor .stakeholder-editor")
    editor.locator("input[name=title]").fill("Finance director")
    services.update_stakeholder(cfo, by=lead, changes={"title": "Chief financial officer"})  # the lead saves meanwhile
    editor.locator("button[type=submit].primary").first.click()
    conflict = page.locator("#map-editor #conflict")
    expect(conflict).to_contain_text("Chief financial officer")
    expect(conflict).to_contain_text("Finance director")
    expect(editor.locator("input[name=title]")).to_have_value("Finance director")
    screenshot(f"relationships-map-conflict-{language}")
    assert Stakeholder.objects.get(pk=cfo.pk).title == "Chief financial officer"
    page.locator("#keep-mine").click()  # saving again keeps the user's value, knowingly
    expect(page.locator("#map-editor #conflict")).to_have_count(0)
    assert Stakeholder.objects.get(pk=cfo.pk).title == "Finance director"
