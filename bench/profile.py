"""py-spy over a benchmark run: collapsed stacks in a file, and a summary of where the time went.

``pip install py-spy`` in the venv; sampling another process needs ptrace rights (root, or
``kernel.yama.ptrace_scope`` 0).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def profiled(pid: int, output: str | None, seconds: float) -> Iterator[None]:
    """Sample ``pid`` (all threads, idle excluded) for ``seconds`` while the body runs."""
    if output is None:
        yield
        return
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [py_spy, "record", "--format", "raw", "--output", output, "--pid", str(pid)]
    command += ["--duration", str(int(seconds)), "--rate", "200", "--nonblocking"]
    sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        sampler.wait(timeout=seconds + 60)
    summarise(Path(output))


def summarise(path: Path, top: int = 15) -> None:
    """Print the heaviest leaf functions and the heaviest Kirem functions (inclusive) of a profile."""
    leaves: Counter[str] = Counter()
    kirem: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        leaves[_short(frames[-1])] += samples
        for frame in {_short(f) for f in frames if "kirem/" in f and "bench" not in f}:
            kirem[frame] += samples
    if not total:
        print("profile: no samples")
        return
    print(f"\nprofile ({total} samples, {path}): leaf functions")
    for name, samples in leaves.most_common(top):
        print(f"  {samples / total:6.1%}  {name}")
    print("Kirem functions, inclusive")
    for name, samples in kirem.most_common(top):
        print(f"  {samples / total:6.1%}  {name}")


def _short(frame: str) -> str:
    """``function (path/to/module.py:line)`` without the line and the site-packages prefix."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"
