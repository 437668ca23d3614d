"""`keyplan --help` and every subcommand's --help: each command and each argument says what it is for; and the exit
codes hold across commands: 0 success, 1 a validation failure with its report, 2 a usage error (the command line
itself is wrong, or names a user, account, file or folder that is not there), never a traceback."""

import argparse
import io
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from keyplan.cli import build_parser, main

KEYPLAN = Path(sys.executable).with_name("keyplan")


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(path, parser, one-line help) of every command and subcommand, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*path, name), sub, helps.get(name)
                yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(build_parser()))


def test_the_walk_finds_every_command():
    names = {" ".join(path) for path, _parser, _help in COMMANDS}
    for expected in ("demo", "serve", "worker", "import", "analyze", "export workbook", "export deck", "token create",
                     "relationships who-to-win", "health snapshot", "review run", "plans", "notify", "charter"):
        assert expected in names, expected
    assert len(names) >= 30


@pytest.mark.parametrize("path, parser, one_line", COMMANDS, ids=[" ".join(p) for p, _parser, _h in COMMANDS])
def test_every_command_and_argument_says_what_it_is_for(path, parser, one_line, capsys):
    assert one_line and len(one_line) > 10, f"keyplan {' '.join(path)} has no one-line help in its parent's list"
    undocumented = [action.option_strings[0] if action.option_strings else action.dest for action in parser._actions
                    if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) and not action.help]
    assert not undocumented, f"keyplan {' '.join(path)}: arguments without help: {undocumented}"
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as stop:
        main([*path, "--help"])
    assert stop.value.code == 0
    text = out.getvalue()
    assert text.startswith(f"usage: keyplan {' '.join(path)}")
    for action in parser._actions:
        if action.help and action.help is not argparse.SUPPRESS and not isinstance(action, argparse._HelpAction):
            if action.option_strings:
                shown = action.option_strings[0]
            elif action.metavar:
                shown = action.metavar
            elif action.choices and not isinstance(action, argparse._SubParsersAction):
                shown = "{" + ",".join(map(str, action.choices)) + "}"  # a positional with choices lists them
            else:
                shown = action.dest
            assert shown in text, (shown, text)


def test_keyplan_help_lists_every_command_with_a_line_at_once():
    """The installed command, as a person types it: answers before Django is loaded, every command on a line."""
    done = subprocess.run([str(KEYPLAN), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    top = [(path[0], one_line) for path, _parser, one_line in COMMANDS if len(path) == 1]
    for name, one_line in top:
        assert f"    {name}" in done.stdout and one_line.split()[0] in done.stdout, name
    assert "Configuration comes from KEYPLAN_* environment variables" in done.stdout


@pytest.mark.parametrize("argv", [
    ["no-such-command"],
    ["analyze"],  # its analysis is missing
    ["analyze", "pareto", "--from", "yesterday"],
    ["analyze", "pareto", "--years", "0"],
    ["export", "workbook"],
    ["import", "ledger"],
    ["token", "revoke", "abc"],
    ["health", "snapshot", "--date", "2026-02-30"],
], ids=lambda argv: " ".join(argv))
def test_a_command_line_argparse_refuses_ends_with_2(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: keyplan") and "error:" in err


def test_usage_errors_found_once_django_runs_end_with_2(db, tmp_path, capsys):
    """Arguments that parse but name nothing usable: 2, one line naming the argument, nothing written."""
    assert main(["export", "workbook", str(tmp_path / "book.csv")]) == 2
    assert main(["export", "workbook", str(tmp_path / "missing" / "book.xlsx")]) == 2
    assert main(["export", "deck", "NOPE", str(tmp_path / "deck.pptx")]) == 2
    assert main(["analyze", "pareto", "--as", "nobody"]) == 2
    assert main(["rollback", "999999"]) == 2
    assert main(["import", "ledger", str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("keyplan: error: ") == 6 and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_a_file_with_bad_rows_ends_with_1_and_its_report(db, lead, make_account, tmp_path, capsys):
    make_account("Acme", external_id="A-1")
    bad = tmp_path / "ledger.csv"
    bad.write_text("line_id,account_id,date,amount\nL1,A-1,2026-01-15,100\nL2,A-1,not a date,50\n")
    assert main(["import", "ledger", str(bad), "--as", "lead"]) == 1
    err = capsys.readouterr().err
    assert "line 3" in err.lower() or "row 3" in err.lower() or "L2" in err
    good = tmp_path / "good.csv"
    good.write_text("line_id,account_id,date,amount\nL1,A-1,2026-01-15,100\n")
    assert main(["import", "ledger", str(good), "--as", "lead"]) == 0


def test_counts_are_written_in_the_right_number(db, lead, tmp_path, capsys):
    one = tmp_path / "one.csv"
    one.write_text("line_id,account_id,date,amount\nL1,N-1,2026-01-15,100\n")
    assert main(["import", "ledger", str(one), "--as", "lead", "--create-accounts"]) == 0
    assert "1 row written, 0 already imported, 0 rejected, 1 account created." in capsys.readouterr().out
    two = tmp_path / "two.csv"
    two.write_text("line_id,account_id,date,amount\nL2,N-2,2026-01-15,100\nL3,N-3,2026-01-16,abc\nL4,N-3,2026-01-16,5\n")
    assert main(["import", "ledger", str(two), "--as", "lead", "--create-accounts"]) == 1
    assert "1 problem in 1 of 3 rows:" in capsys.readouterr().err
    assert main(["import", "ledger", str(two), "--as", "lead", "--create-accounts", "--skip-invalid"]) == 0
    assert "2 rows written, 0 already imported, 1 rejected, 2 accounts created." in capsys.readouterr().out


def test_a_dry_run_says_how_many_lines_are_in_the_ledger_already(db, lead, tmp_path, capsys):
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("line_id,account_id,date,amount\nL1,N-1,2026-01-15,100\nL2,N-1,2026-02-15,50\n")
    assert main(["import", "ledger", str(ledger), "--as", "lead", "--create-accounts"]) == 0
    capsys.readouterr()
    # The same file again, with one new line and one bad one.
    ledger.write_text(ledger.read_text() + "L3,N-2,2026-03-15,70\nL4,N-2,2026-03-16,abc\n")
    assert main(["import", "ledger", str(ledger), "--as", "lead", "--create-accounts", "--dry-run"]) == 1
    assert capsys.readouterr().out == ("Dry run: 4 rows read: 1 new, 2 already imported, 1 would be rejected; "
                                       "0 accounts would be created; nothing was written.\n")
    # With --skip-invalid the import would write the new line: the dry run answers 0, as that import would.
    assert main(["import", "ledger", str(ledger), "--as", "lead", "--create-accounts", "--skip-invalid", "--dry-run"]) == 0
    assert capsys.readouterr().out == ("Dry run: 4 rows read: 1 new, 2 already imported, 1 would be rejected; "
                                       "1 account would be created; nothing was written.\n")
    assert main(["import", "ledger", str(ledger), "--as", "lead", "--create-accounts", "--skip-invalid"]) == 0
