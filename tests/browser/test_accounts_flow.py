
import pytest
from playwright.sync_api import expect

from keyplan.accounts.models import Account

pytestmark = pytest.mark.browser


def test_create_find_edit_inline_and_see_history(page, log_in, lead, make_account, screenshot):
    make_account("Zenith Logistics B.V.")
    log_in("lead")
    page.click("text=Accounts")
    page.click("text=New account")
    page.fill("#id_name", "Brightwell Chemicals GmbH")
    page.fill("#id_external_id", "C-900001")
    page.select_option("#id_country", "DE")
    page.select_option("#id_time_zone", "Europe/Berlin")
    page.fill("#id_city", "Köln")
    page.click("button:has-text('Create account')")
    expect(page.locator("h1")).to_contain_text("Brightwell Chemicals GmbH")

    # Find it in the list through the live search (HTMX swaps the results in place).
    page.click("nav.mainnav >> text=Accounts")
    page.wait_for_load_state("load")
    page.fill("input[name=q]", "brightwell")
    expect(page.locator("#results")).to_contain_text("1 account")
    expect(page.locator("#results")).not_to_contain_text("Zenith")
    page.click("#results >> text=Brightwell Chemicals GmbH")
    page.wait_for_load_state("load")

    # Edit the city in place; the history panel refreshes itself.
    page.click("#field-city a.edit")
    page.fill("#field-city input[name=city]", "Düsseldorf")
    page.click("#field-city button:has-text('Save')")
    expect(page.locator("#field-city")).to_contain_text("Düsseldorf")
    expect(page.locator("#history")).to_contain_text("Köln")
    expect(page.locator("#history")).to_contain_text("Düsseldorf")
    expect(page.locator("#history")).to_contain_text("Lena Lead")
    screenshot("account-page")
    assert Account.objects.get(external_id="C-900001").city == "Düsseldorf"


def test_form_errors_are_shown_on_the_fields(page, log_in, lead, account):
    log_in("lead")
    page.goto("/accounts/new/")
    page.fill("#id_name", "Duplicate")
    page.fill("#id_external_id", account.external_id)
    page.fill("#id_parent_external_id", "NO-SUCH-ID")
    page.click("button:has-text('Create account')")
    expect(page.locator(".field.has-error")).to_have_count(2)
    expect(page.locator("text=No account has the external id NO-SUCH-ID")).to_be_visible()
    assert Account.objects.count() == 1


def test_persian_is_right_to_left(page, log_in, lead, account, screenshot):
    log_in("lead")
    page.goto(f"/accounts/{account.pk}/")
    page.select_option("#language", "fa")
    page.wait_for_load_state("load")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "fa")
    # The layout mirrors: the brand sits at the right edge, the user menu at the left.
    brand = page.locator(".brand").bounding_box()
    assert brand["x"] > 900
    screenshot("account-page-fa")


def test_team_member_cannot_open_another_teams_account(page, log_in, kam, kam_account, make_account):
    other = make_account("Secret Corp")
    log_in("kam")
    response = page.goto(f"/accounts/{other.pk}/")
    assert response.status == 404
    page.goto("/accounts/")
    expect(page.locator("#results")).to_contain_text("Acme Manufacturing")
    expect(page.locator("#results")).not_to_contain_text("Secret Corp")


def test_the_list_fits_a_phone(page, log_in, lead, make_account, screenshot):
    make_account("Hoogendoorn Intralogistiek Nederland B.V.", industry="logistics", city="'s-Hertogenbosch")
    log_in("lead")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/accounts/")
    expect(page.locator("table.accounts")).to_contain_text("Hoogendoorn")
    # The page itself does not scroll sideways; the table scrolls within its box if it must.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(page.locator("table.accounts th.wide-only").first).to_be_hidden()
    screenshot("accounts-phone")


def test_a_concurrent_save_shows_both_versions_instead_of_overwriting(page, log_in, lead, kam, kam_account, screenshot):
    from keyplan.accounts import services

    log_in("kam")
    page.goto(f"/accounts/{kam_account.pk}/edit/")
    page.fill("#id_city", "Breda")
    services.update_account(kam_account, by=lead, changes={"city": "Delft"})  # the lead saves meanwhile
    page.click("button:has-text('Save changes')")
    expect(page.locator("#conflict")).to_contain_text("Someone saved this account while you were editing it")
    expect(page.locator("#conflict")).to_contain_text("Delft")
    expect(page.locator("#id_city")).to_have_value("Breda")
    screenshot("account-conflict")
    assert Account.objects.get(pk=kam_account.pk).city == "Delft"
    page.click("button:has-text('Save changes')")  # saving again keeps the KAM's value, knowingly
    expect(page.locator("h1")).to_contain_text("Acme")
    assert Account.objects.get(pk=kam_account.pk).city == "Breda"
