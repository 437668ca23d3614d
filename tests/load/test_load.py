"""The short load run (10 users, 15 s) of benchmarks/load/run.py: the real server (`keyplan serve`, waitress) on a
demo portfolio of its own, Locust's users over loopback; no failed request, no traceback in the server's log, and
every confirmed write in the database exactly once. The long run is `make load`."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ten_users_for_fifteen_seconds_lose_nothing():
    url = os.environ.get("KEYPLAN_DATABASE_URL", "")
    database = ["--database", "postgresql", "--postgres-url", url.rstrip("/") + "_load"] if url.startswith("postgres") \
        else ["--database", "sqlite"]
    run = subprocess.run([sys.executable, ROOT / "benchmarks" / "load" / "run.py", "--users", "10", "--seconds", "15",
                          "--accounts", "50", *database], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "lost 0, duplicated 0, stored without confirmation 0" in run.stdout
    confirmed = int(run.stdout.split("writes: ")[1].split(" confirmed")[0])
    assert confirmed > 0, run.stdout  # the check above means something only if writes were made
