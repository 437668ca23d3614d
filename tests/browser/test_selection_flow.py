import pytest
from playwright.sync_api import expect

from keyplan.scoring.models import Score
from tests.scoring.conftest import criteria, worked_example  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_score_an_account_inline_and_see_totals_move(page, log_in, lead, worked_example, screenshot):
    log_in("lead")
    page.click("nav.mainnav >> text=Selection")
    expect(page.locator("#matrix-harmony tbody tr").first).to_contain_text("Charlie")
    bravo = worked_example["Bravo"]
    cell = page.locator(f"#matrix-harmony td[id^='cell-{bravo.pk}-']").first
    cell.locator("a.score-link").click()
    editor = page.locator(".score-editor")
    editor.locator("select[name=value]").select_option("10")
    editor.locator("input[name=note]").fill("New CEO shares our culture")
    screenshot("selection-inline-editor")
    editor.locator("button:has-text('Save')").click()
    # The rows refresh: Bravo's harmony goes from 4.70 to (10×50 + 5×30 + 6×20) / 100 = 7.70, total to 8.10, rank 1.
    expect(page.locator("#matrix-harmony tbody tr").first).to_contain_text("Bravo")
    expect(page.locator("#matrix-harmony tbody tr").first).to_contain_text("8.10")
    score = Score.objects.get(account=bravo, criterion__name="Cultural fit")
    assert (score.value, score.note, score.scored_by) == (10, "New CEO shares our culture", lead)
    screenshot("selection-matrix-after-scoring")
