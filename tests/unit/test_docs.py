"""The docs cannot rot silently: every code block runs or says why not, every path they name exists.

The runnable blocks themselves are run against a live server by ``tests/e2e/test_docs.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
from starlette.routing import Match, Mount, Router

from kirem.app import create_app
from kirem.cli import app as cli_app
from kirem.config import Settings
from tests.doc_blocks import PLACEHOLDERS, ROOT, RUNNABLE, blocks, doc_files, fill, not_run_markers

DOCS = doc_files()
METHOD = r"(?:GET|POST|PUT|PATCH|DELETE)"
PATH_MENTION = re.compile(rf"(?<!\w)`((?:{METHOD}(?:, |/))*{METHOD})? ?(/[^`\s]*)`")
"""`` `POST /v1/messages` ``, `` `GET, POST /v1/manage/projects` ``, `` `/sandbox/v1/inbound` ``."""


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", DOCS, ids=_name)
def test_every_block_runs_or_says_why_not(path: Path) -> None:
    found = blocks(path)
    unmarked = [
        f"{block.where}: a ```{block.language or '(no language)'} block"
        for block in found
        if block.not_run is None and block.language not in RUNNABLE
    ]
    assert not unmarked, (
        f"blocks the doc tests cannot run ({', '.join(RUNNABLE)} run): make them runnable or put "
        f"'<!-- not-run: reason -->' on the line before each: {unmarked}"
    )
    reasons = [block.not_run for block in found if block.not_run is not None]
    assert all(reasons), "a not-run marker needs a reason"
    assert not_run_markers(path) == len(reasons), "a '<!-- not-run: … -->' marker stands before no code block"


@pytest.mark.parametrize("path", DOCS, ids=_name)
def test_runnable_blocks_use_only_placeholders_a_test_can_fill(path: Path) -> None:
    values = {name: f"value-of-{name}" for name in PLACEHOLDERS}
    for block in blocks(path):
        if block.runs:
            try:
                fill(block.code, values, "http://127.0.0.1:1")
            except ValueError as error:
                pytest.fail(f"{block.where}: {error}")


def test_the_block_reader_sees_markers_languages_and_indented_blocks(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        'Text\n\n```bash\necho 1\n```\n\n<!-- not-run: a shape -->\n\n```json\n{"a": 1}\n```\n'
        "- item\n\n  ```python\n  print(1)\n  ```\n````\nnested ``` fence\n````\n",
        encoding="utf-8",
    )
    found = blocks(doc)
    assert [(b.line, b.language, b.not_run, b.runs) for b in found] == [
        (3, "bash", None, True),
        (9, "json", "a shape", False),
        (14, "python", None, True),
        (17, "", None, False),
    ]
    assert found[2].code == "print(1)\n"
    assert found[3].code == "nested ``` fence\n"
    assert not_run_markers(doc) == 1


def _routes(data_dir: Path) -> Router:
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", sandbox=True, data_dir=data_dir)
    return create_app(settings).router


def _matches(routes: list, scope: dict) -> bool:
    for route in routes:
        if isinstance(route, Mount) and scope["path"] == route.path:
            return True  # the mount point itself
        match, child = route.matches(scope)
        if match is Match.FULL:
            if isinstance(route, Mount):
                return _matches(route.routes, {**scope, **child})
            return True
    return False


def _concrete(path: str) -> str:
    """A request path for a documented template: ``{version}`` is Meta's, other parameters digits."""
    path = path.split("?", 1)[0].replace("{version}", "v23.0")
    return re.sub(r"\{[a-z_]+\}", "1234567890", path)


def test_every_path_the_docs_name_exists(tmp_path: Path) -> None:
    router = _routes(tmp_path)
    missing = []
    for doc in DOCS:
        for methods, path in PATH_MENTION.findall(doc.read_text(encoding="utf-8")):
            if "*" in path or "…" in path or re.match(r"/\{(?!version\})", path):
                continue  # a family of paths, or Meta's own unversioned notation
            if re.match(r"/(usr|etc|opt|var)/", path):
                continue  # a file on the machine, not a URL path
            wanted = re.split(r", |/", methods) if methods else ["GET", "POST"]
            found = [
                method
                for method in wanted
                if _matches(
                    router.routes,
                    {"type": "http", "method": method, "path": _concrete(path), "root_path": ""},
                )
            ]
            if (methods and found != wanted) or not found:
                missing.append(f"{_name(doc)}: {methods or 'GET or POST'} {path}")
    assert not missing, f"the docs name paths the app does not serve: {missing}"


def _cli_mentions(doc: Path) -> list[list[str]]:
    """The words of every ``kirem …`` command line in the doc's inline code and shell blocks."""
    text = doc.read_text(encoding="utf-8")
    lines = re.findall(r"`([^`\n]+)`", text)
    for block in blocks(doc):
        if block.language == "bash":
            lines += block.code.replace("\\\n", " ").splitlines()
    mentions = []
    for line in lines:
        found = re.match(r"\s*(?:\.venv/bin/)?kirem ([^#]*)", line)
        if found:
            mentions.append(found.group(1).split())
    return mentions


def _unknown_cli_words(root: Any, words: list[str]) -> list[str]:
    """The commands and options of one ``kirem …`` line that do not exist.

    ``a|b`` and a lone ``|`` separate alternatives, as in the docs' synopses.
    """
    words = [word for word in words if word != "--help"]  # every command has it
    if not words:
        return []
    context = root.context_class(root)
    first = [root.get_command(context, name) for name in words[0].split("|")]
    if None in first:
        return [words[0]]
    group = first[0]
    if len(first) > 1 or not hasattr(group, "list_commands"):  # commands, not a group
        segments, group = [words], root
    else:
        segments = [[]]
        for word in words[1:]:
            if word == "|":
                segments.append([])
            else:
                segments[-1].append(word)
    unknown = []
    for segment in segments:
        if not segment:
            continue
        commands = [group.get_command(context, name) for name in segment[0].split("|")]
        if None in commands:
            unknown.append(segment[0])
            continue
        known = {opt for command in commands for param in command.params for opt in param.opts}
        options = {word.strip("[]").split("=")[0] for word in segment if word.strip("[").startswith("--")}
        unknown += sorted(options - known - {"--help"})
    return unknown


def test_every_cli_command_and_option_the_docs_name_exists() -> None:
    root = typer.main.get_command(cli_app)
    wrong = [
        f"{_name(doc)}: kirem {' '.join(words)}: {unknown}"
        for doc in DOCS
        for words in _cli_mentions(doc)
        if (unknown := _unknown_cli_words(root, words))
    ]
    assert not wrong, f"the docs name CLI commands or options that do not exist: {wrong}"


def test_the_cli_check_finds_unknown_commands_and_options() -> None:
    root = typer.main.get_command(cli_app)
    assert _unknown_cli_words(root, ["nope"]) == ["nope"]
    assert _unknown_cli_words(root, ["serve|nope"]) == ["serve|nope"]
    assert _unknown_cli_words(root, ["sandbox", "inbound", "--phone", "1", "--text", "x"]) == ["--phone"]
    assert _unknown_cli_words(root, ["rules", "list|tset", "A", "P"]) == ["list|tset"]
    synopsis = ["keys", "list", "A", "P", "|", "create", "A", "P", "[--mode", "live|test]"]
    synopsis += ["|", "revoke", "A", "P", "K"]
    assert _unknown_cli_words(root, synopsis) == []
    assert _unknown_cli_words(root, [*synopsis, "|", "create", "[--mood]"]) == ["--mood"]


SUITE_SETTINGS = (
    "KIREM_TEST_POSTGRES_URL",
    "KIREM_FUZZ_EXAMPLES",
    "KIREM_TEST_CONTRACT",
    "KIREM_TEST_CHROMIUM",
)
"""The test suite's own variables, not the server's."""


def test_every_setting_the_docs_name_exists_and_every_setting_is_documented() -> None:
    settings = {f"KIREM_{name.upper()}" for name in Settings.model_fields}
    named = {
        variable: _name(doc)
        for doc in DOCS
        for variable in re.findall(r"KIREM_[A-Z0-9_]*[A-Z0-9]", doc.read_text(encoding="utf-8"))
    }
    unknown = {variable: doc for variable, doc in named.items() if variable not in settings}
    for suite_own in SUITE_SETTINGS:
        unknown.pop(suite_own, None)
    assert not unknown, f"the docs name settings that do not exist: {unknown}"
    configuration = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")
    undocumented = sorted(name for name in settings if name not in configuration)
    assert not undocumented, f"settings docs/configuration.md does not describe: {undocumented}"
