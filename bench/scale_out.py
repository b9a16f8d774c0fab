"""Scale-out benchmark on PostgreSQL: 1 vs 2 API processes, and 1 vs 2 ``kirem worker`` processes.

Runs ``bench/send_path.py``'s measurements four times, each beside the bare endpoint:

- API processes: ``--mode live`` with ``kirem serve`` and ``kirem serve --workers 2`` (sends per
  second, each process doing its own auth, logging and Graph calls);
- workers: ``--mode sandbox`` with ``KIREM_WORKER=false`` and one, then two ``kirem worker``
  processes, which process the sandbox's status webhooks (three per send); the figure is sends per
  second with every status processed (load and drain together).

It prints each run's table, then the ratios 2:1. On a machine where the load generator, the
database and the bare endpoint share the same cores, a second process can only help as far as
cores are idle: the ratio is reported as measured, beside the CPU each run used.

Run: ``.venv/bin/python bench/scale_out.py --database-url postgresql://postgres@127.0.0.1:5432/postgres``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.send_path import arguments, run


def main() -> None:
    parser = arguments()
    base = parser.parse_args()
    if not (base.database_url or "").startswith("postgres"):
        raise SystemExit("scale-out needs PostgreSQL: pass --database-url postgresql://…")
    figures = {}
    for name, mode, workers, worker_processes in (
        ("1 API process", "live", 1, 0),
        ("2 API processes", "live", 2, 0),
        ("1 worker", "sandbox", 1, 1),
        ("2 workers", "sandbox", 1, 2),
    ):
        args = parser.parse_args()
        args.mode, args.workers, args.worker_processes = mode, workers, worker_processes
        bare, send, drained = run(args)
        rate = send.requests / (send.seconds + drained)
        figures[name] = (rate, rate / bare.rate)
    print("\nscale-out (sends/s, share of the bare endpoint in the same run)")
    for name, (rate, share) in figures.items():
        print(f"  {name:<16} {rate:8.1f}/s  {share:6.1%}")
    for one, two in (("1 API process", "2 API processes"), ("1 worker", "2 workers")):
        print(f"  {two} / {one}: {figures[two][0] / figures[one][0]:.2f}x")


if __name__ == "__main__":
    main()
