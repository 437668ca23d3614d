"""A KAM opens their key account, clicks "Review deck" and gets the account's review as PowerPoint, in their language."""

import pytest
from playwright.sync_api import expect
from pptx import Presentation

from keyplan.relationships import services as relationships

pytestmark = pytest.mark.browser


@pytest.fixture
def mapped(key_account, kam):
    relationships.create_stakeholder(key_account, by=kam, data={"name": "Cora Chief", "title": "CEO",
                                                                "decision_power": "high", "sentiment": "critic"})
    return key_account


def test_a_kam_downloads_the_review_deck_of_their_account(page, live_server, log_in, screenshot, mapped, tmp_path):
    log_in("kam")
    page.goto(f"/accounts/{mapped.pk}/")
    button = page.get_by_role("link", name="Review deck")
    expect(button).to_be_visible()
    screenshot("account-review-deck-button")
    with page.expect_download() as download:
        button.click()
    assert download.value.suggested_filename.startswith(f"keyplan-review-{mapped.external_id}-")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    deck = Presentation(str(path))
    assert len(deck.slides) == 11
    assert deck.slides[1].shapes.title.text == "Account snapshot"
    assert any("Cora Chief" in s.text_frame.text for s in deck.slides[4].shapes if s.has_text_frame)

    page.context.add_cookies([{"name": "django_language", "value": "fa", "url": live_server.url}])
    page.goto(f"/accounts/{mapped.pk}/")
    button = page.get_by_role("link", name="ارائه بررسی حساب")
    expect(button).to_be_visible()
    screenshot("fa-account-review-deck-button")
    with page.expect_download() as download:
        button.click()
    download.value.save_as(tmp_path / "fa.pptx")
    assert Presentation(str(tmp_path / "fa.pptx")).slides[1].shapes.title.text == "نمای کلی حساب"
