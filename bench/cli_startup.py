"""CLI benchmark: how long ``kirem`` commands take from a shell, help and read-only commands first.

Creates a throw-away SQLite database in a temporary directory (``kirem bootstrap``), then runs each
command ``--runs`` times as a new process (as a user or a script does) and prints the best and the
median wall time and the best CPU time (user + system) of each. The CPU time varies far less than
the wall time on a busy machine. Last, it prints the import time of ``kirem.cli`` from
``python -X importtime`` and which server modules ``kirem --help`` loaded (there should be none).

Run: ``.venv/bin/python bench/cli_startup.py [--runs 9]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIREM = str(Path(sys.executable).with_name("kirem"))
COMMANDS = [
    "--help",
    "targets create --help",
    "accounts list",
    "keys list acme shop",
    "targets list acme shop",
    "deliveries list acme shop",
    "rules test acme shop --text halo",
    "accounts set-plan acme growth",
]
SERVER_MODULES = ("fastapi", "starlette", "sqlalchemy", "alembic", "mcp", "uvicorn", "httpx", "kirem.app")
LOADED = f"""
import json, sys
from kirem.cli import app
try:
    app(["--help"], prog_name="kirem")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {SERVER_MODULES!r} if m in sys.modules)))
"""


def measure(command: list[str], runs: int, env: dict[str, str]) -> tuple[float, float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        before, start = os.times(), time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - start)
        after = os.times()
        cpus.append(
            after.children_user - before.children_user + after.children_system - before.children_system
        )
    return min(walls), sorted(walls)[len(walls) // 2], min(cpus)


def import_time_ms() -> float:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import kirem.cli"], capture_output=True, text=True
    ).stderr
    last = [line for line in out.splitlines() if line.rstrip().endswith("| kirem.cli")][-1]
    return int(last.split("|")[1]) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "KIREM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/kirem.db",
            "KIREM_DATA_DIR": f"{tmp}/data",
        }
        subprocess.run([KIREM, "bootstrap", "--account", "acme", "--project", "shop", "--json"], env=env,
                       stdout=subprocess.DEVNULL, check=True)  # fmt: skip
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {args.runs} runs each\n")
        print("| command | wall best | wall median | CPU best |")
        print("|---|---|---|---|")
        for words in COMMANDS:
            best, median, cpu = measure([KIREM, *words.split()], args.runs, env)
            print(f"| `kirem {words}` | {best:.2f} s | {median:.2f} s | {cpu:.2f} s |")
    print(f"\nimport kirem.cli: {import_time_ms():.0f} ms (python -X importtime)")
    loaded = subprocess.run([sys.executable, "-c", LOADED], capture_output=True, text=True).stdout
    print(f"server modules loaded by kirem --help: {json.loads(loaded.strip().splitlines()[-1])}")


if __name__ == "__main__":
    main()
