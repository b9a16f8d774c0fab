"""The fenced code blocks of README.md and docs/*.md, for the tests that check and run them.

A block runs when its language is one of ``RUNNABLE``. Any other block (a shape, an output sample,
a synopsis, a command that cannot run inside the suite) says why on the line before it, as
``<!-- not-run: reason -->``; ``tests/unit/test_docs.py`` fails on a block that does neither.
Runnable blocks write the values of a real setup as the placeholders in ``PLACEHOLDERS`` and the
default base URL; ``tests/e2e/test_docs.py`` fills them in from a live server and runs the block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNNABLE = ("bash", "python")
BASE_URL = "http://127.0.0.1:8080"
PLACEHOLDERS = (
    "api_key",
    "account_token",
    "project_id",
    "channel_id",
    "phone_number_id",
    "waba_id",
    "webhook_secret",
)
"""``<name>`` in a runnable block stands for that field of ``kirem bootstrap --json``."""

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^`\s]*)")
_NOT_RUN = re.compile(r"^\s*<!--\s*not-run:(.*?)-->\s*$")
_LEFTOVER = re.compile(r"<[a-z_]+>|…")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    """1-based line of the opening fence."""
    language: str
    code: str
    not_run: str | None
    """The reason given in ``<!-- not-run: … -->`` just before the block, if any."""

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.not_run is None and self.language in RUNNABLE


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _marker_before(lines: list[str], index: int) -> str | None:
    """The ``not-run`` reason on the last non-blank line before ``lines[index]``."""
    for line in reversed(lines[:index]):
        if line.strip():
            marker = _NOT_RUN.match(line)
            return marker.group(1).strip() if marker else None
    return None


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence, language = opening.groups()
        closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = index + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        if end == len(lines):
            raise ValueError(f"{path.relative_to(ROOT)}:{index + 1}: code block never closed")
        code = "\n".join(line.removeprefix(indent) for line in lines[index + 1 : end]) + "\n"
        found.append(Block(path, index + 1, language.lower(), code, _marker_before(lines, index)))
        index = end + 1
    return found


def not_run_markers(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if _NOT_RUN.match(line))


def fill(code: str, values: dict[str, str], base_url: str) -> str:
    """The block with its placeholders replaced; ``ValueError`` naming any it does not know."""
    filled = code.replace(BASE_URL, base_url)
    for name in PLACEHOLDERS:
        filled = filled.replace(f"<{name}>", values[name])
    leftover = sorted(set(_LEFTOVER.findall(filled)))
    if leftover:
        raise ValueError(f"placeholders no test can fill: {leftover} (known: {', '.join(PLACEHOLDERS)})")
    return filled
