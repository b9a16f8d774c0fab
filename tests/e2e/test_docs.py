"""Every runnable code block of README.md and docs/*.md, pasted into a shell against the real server.

A document's blocks run in order, as a reader would paste them, with the placeholders filled from
one ``kirem bootstrap`` (growth plan, a sandbox channel) and the base URL pointed at the server.
``bash`` blocks run under ``set -euo pipefail`` with ``curl`` failing on any HTTP status of 400 or
more; ``python`` blocks run in the suite's interpreter. Both must exit 0. Blocks that cannot run
are marked in the markdown (checked by ``tests/unit/test_docs.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.doc_blocks import ROOT, Block, blocks, doc_files, fill
from tests.e2e.conftest import Server

BIN = Path(sys.executable).parent
SHELL_PRELUDE = """set -euo pipefail
curl() { command curl --silent --show-error --fail-with-body "$@"; }
"""
RUNNABLE_DOCS = [path for path in doc_files() if any(block.runs for block in blocks(path))]


def run_block(block: Block, server: Server, values: dict[str, str]) -> None:
    code = fill(block.code, values, server.url).replace(".venv/bin/", f"{BIN}/")
    env = {**server.env, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if block.language == "bash":
        command = ["bash", "-c", SHELL_PRELUDE + code]
    else:
        command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        f"{block.where} failed (exit {result.returncode}):\n{code}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )


@pytest.mark.parametrize("path", RUNNABLE_DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_docs_code_blocks_run(path: Path, server: Server) -> None:
    values = {key: str(value) for key, value in server.bootstrap(plan="growth").items()}
    for block in blocks(path):
        if block.runs:
            run_block(block, server, values)
