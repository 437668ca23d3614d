"""Start-up of the `keyplan` command: `keyplan --help` and `keyplan analyze pareto --json` on the CDNOW ledger.

    .venv/bin/python benchmarks/cli_startup.py            # builds a SQLite file under /tmp, then 11 runs of each

Builds a fresh SQLite database holding the CDNOW sample of tests/revenue/data (6,919 lines,
2,357 customers, 1997-1998), imported by a KAM lead with `keyplan import ledger` (no admin
exists, as for an operator who only reads), then runs each command as a user does, as a
whole process: the console script in .venv/bin, its Python start-up, imports and Django
set-up included. Prints the median, minimum and maximum wall seconds and the median CPU
seconds (user + system, from the operating system's accounting of the finished child).
Options: --runs N (default 11), --keep (keep the database file).
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYPLAN = Path(sys.executable).with_name("keyplan")
SAMPLE = ROOT / "tests" / "revenue" / "data" / "cdnow_sample.txt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="keyplan-cli-"))
    env = {**os.environ, "KEYPLAN_DATABASE_URL": f"sqlite:///{folder / 'cdnow.sqlite3'}"}
    # An installed Keyplan runs from its compiled bytecode; where the environment forbids writing it (this
    # machine's does), every run compiled Keyplan's modules anew: 0.16 s that no user pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def keyplan(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(KEYPLAN), *arguments], env=env, cwd=folder, capture_output=True, text=True, check=True)

    ledger = folder / "cdnow.csv"
    rows = ["line_id,account_id,date,amount"]
    for number, line in enumerate(SAMPLE.read_text().splitlines(), start=1):
        _, customer, day, _, amount = line.split()
        rows.append(f"L{number:05d},{int(customer):04d},{day[:4]}-{day[4:6]}-{day[6:]},{amount}")
    ledger.write_text("\n".join(rows) + "\n")
    keyplan("migrate")
    keyplan("createuser", "lead", "--role", "kam_lead", "--password", "Bench-Password-2026")
    keyplan("import", "ledger", str(ledger), "--create-accounts", "--as", "lead")

    print(f"{'command':<56}{'median s':>10}{'min s':>8}{'max s':>8}{'CPU s':>8}   (load average {os.getloadavg()[0]:.1f})")
    # The same analysis is cached after its first run (keyed by the data's version); a period that starts one day
    # later each run is computed anew.
    uncached = [["analyze", "pareto", "--json", "--from", f"1997-01-{day:02d}", "--to", "1998-06-30"]
                for day in range(1, args.runs + 2)]
    for label, commands in (("--help", [["--help"]] * (args.runs + 1)),
                            ("analyze pareto --json", [["analyze", "pareto", "--json"]] * (args.runs + 1)),
                            ("analyze pareto --json --from DAY (uncached)", uncached)):
        keyplan(*commands[0])  # one run to warm the file cache and write the bytecode, not counted
        walls, cpus = [], []
        for command in commands[1:]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            keyplan(*command)
            walls.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        print(f"{'keyplan ' + label:<56}{statistics.median(walls):>10.3f}{min(walls):>8.3f}{max(walls):>8.3f}"
              f"{statistics.median(cpus):>8.3f}")
    if args.keep:
        print(f"kept {folder}")
    else:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
