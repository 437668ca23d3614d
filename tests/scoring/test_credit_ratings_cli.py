"""`keyplan import credit-ratings FILE`: solvency scores from a rating column, all rows or none."""

from keyplan.cli import main
from keyplan.scoring.models import Criterion, CriterionSource, Score
from keyplan.scoring.services import create_criterion


def test_ratings_become_solvency_scores_and_bad_rows_write_nothing(tmp_path, lead, make_account, capsys):
    first, second = make_account("Alpha", external_id="R-1"), make_account("Beta", external_id="R-2")
    create_criterion(by=lead, name="Solvency", group="growth", weight=20, source=CriterionSource.CREDIT_RATING)
    bad = tmp_path / "bad.csv"
    bad.write_text("Kundennummer;Rating\nR-1;AA\nR-9;BBB\nR-2;ZZZ\n")
    assert main(["import", "credit-ratings", str(bad), "--as", "lead"]) == 1
    err = capsys.readouterr().err
    assert "R-9" in err and "ZZZ" in err and "nothing was written" in err
    assert not Score.objects.exists()
    good = tmp_path / "good.csv"
    good.write_text("Kundennummer;Rating\nR-1;AA\nR-2;CCC\n")
    assert main(["import", "credit-ratings", str(good), "--as", "lead"]) == 0
    criterion = Criterion.objects.get(name="Solvency")
    assert Score.objects.get(account=first, criterion=criterion).value > Score.objects.get(account=second, criterion=criterion).value
