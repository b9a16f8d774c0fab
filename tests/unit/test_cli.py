"""The ``kirem`` command: help everywhere, a light start, one-line errors, a guarded bulk replay."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from kirem.cli import app
from tests.e2e.conftest import KIREM, free_port

HEAVY_MODULES = ("fastapi", "starlette", "sqlalchemy", "alembic", "mcp", "uvicorn", "httpx", "kirem.app")


def command_paths(command: Any = None, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command of the tree (groups included) with the words that reach it."""
    command = command or typer.main.get_command(app)
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += command_paths(sub, (*path, name))
    return found


def test_every_command_and_parameter_has_help() -> None:
    missing = []
    for path, command in command_paths():
        if not (command.help or "").strip():
            missing.append(" ".join(path) or "kirem")
        missing += [
            f"{' '.join(path)} {param.name}" for param in command.params if not (param.help or "").strip()
        ]
    assert len(command_paths()) > 40
    assert missing == []


HELP_EVERYWHERE = """
import json, sys
import typer
from kirem.cli import app

def paths(command, path=()):
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from paths(sub, (*path, name))

for path in paths(typer.main.get_command(app)):
    try:
        app([*path, "--help"], prog_name="kirem")
    except SystemExit as exc:
        assert exc.code == 0, (path, exc.code)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in HEAVY or m in HEAVY)))
"""


def test_help_of_every_command_loads_no_server_module() -> None:
    code = f"HEAVY = {set(HEAVY_MODULES)!r}\n{HELP_EVERYWHERE}"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []
    assert "Usage: kirem replay bulk" in result.stdout


def test_the_installed_command_answers_help() -> None:
    result = subprocess.run([KIREM, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "deliveries" in result.stdout and "replay" in result.stdout


# Against a database --------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str, encryption_key: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KIREM_DATABASE_URL", database_url)
    monkeypatch.setenv("KIREM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KIREM_ENCRYPTION_KEY", encryption_key)
    return database_url


def invoke(*args: str, code: int = 0, input: str | None = None) -> Any:
    result = CliRunner().invoke(app, list(args), input=input)
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result


def test_errors_are_one_line_on_stderr(cli_env: str) -> None:
    invoke("bootstrap", "--account", "solo", "--project", "main", "--plan", "developer", "--json")
    limited = invoke("projects", "create", "solo", "second", code=1)
    assert limited.stdout == ""
    assert limited.stderr.startswith("error: The developer plan allows 1 project(s).")
    assert limited.stderr.rstrip().endswith("(403)") and len(limited.stderr.splitlines()) == 1

    unknown = invoke("accounts", "set-plan", "solo", "gold", code=1).stderr
    assert (
        unknown == "error: Unknown plan — plan: must be one of developer, growth, scale, enterprise (400)\n"
    )
    missing = invoke("projects", "list", "nobody", code=1).stderr
    assert missing == "error: Account 'nobody' not found (404)\n"
    bad_filter = invoke("deliveries", "list", "solo", "main", "--status", "lost", code=1).stderr
    assert (
        bad_filter.startswith("error: Invalid filters — status: must be one of")
        and "\n" not in bad_filter[:-1]
    )


def test_json_mode_prints_the_error_wrapper_on_stderr(cli_env: str) -> None:
    invoke("bootstrap", "--account", "solo", "--project", "main", "--plan", "developer", "--json")
    result = invoke("projects", "create", "solo", "second", "--json", code=1)
    assert result.stdout == ""
    body = json.loads(result.stderr)
    assert body["status"] == 403 and body["errors"] == {"plan": "growth"} and "1 project" in body["message"]


def test_read_only_commands_do_not_migrate(tmp_path: Path, cli_env: str) -> None:
    if cli_env.startswith("sqlite"):
        absent = invoke("accounts", "list", code=1).stderr
        assert absent.startswith("error: no database at ") and "kirem migrate" in absent
        assert not (tmp_path / "kirem.db").exists()
    else:
        empty = invoke("accounts", "list", code=1).stderr
        assert empty.startswith("error: database error: ") and "run `kirem migrate`" in empty
    invoke("migrate")
    assert invoke("accounts", "list", "--json").stdout.strip() == "[]"


READ_ONLY = """
import sys
from kirem.cli import app

for words in (
    "accounts list", "projects list solo", "keys list solo main", "channels list solo main",
    "targets list solo main", "rules list solo main", "rules test solo main --text halo",
    "deliveries list solo main --status failed",
):
    try:
        app([*words.split(), "--json"], prog_name="kirem")
    except SystemExit as exc:
        assert exc.code == 0, (words, exc.code)
heavy = ("alembic", "fastapi", "kirem.app", "kirem.db.migrate", "mcp", "uvicorn")
print(sorted(m for m in heavy if m in sys.modules))
"""


def test_read_only_commands_load_neither_alembic_nor_the_web_framework(cli_env: str) -> None:
    invoke("bootstrap", "--account", "solo", "--project", "main", "--json")
    result = subprocess.run([sys.executable, "-c", READ_ONLY], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '"name": "solo"' in result.stdout and result.stdout.splitlines()[-1] == "[]"


# Bulk replay ---------------------------------------------------------------------------------


def seed_deliveries(project_id: str, target_id: str) -> None:
    """Two events, one delivered successfully and one not (as the worker would have left them)."""
    from kirem.cli_support import context_for, settings_from
    from kirem.delivery.models import Delivery
    from kirem.inbound.models import Event

    async def main() -> None:
        ctx = context_for(settings_from())
        try:
            async with ctx.db.transaction() as session:
                for status in ("succeeded", "failed"):
                    event = Event(project_id=project_id, type="messages.received", dedup_key=status, data={})
                    event.kirem_body = event.meta_body = b"{}"
                    session.add(event)
                    await session.flush()
                    delivery = Delivery(project_id=project_id, event_id=event.id, target_id=target_id)
                    delivery.event_type, delivery.status, delivery.attempts = "messages.received", status, 1
                    session.add(delivery)
        finally:
            await ctx.aclose()

    asyncio.run(main())


@pytest.fixture
def two_deliveries(cli_env: str) -> None:
    boot = json.loads(invoke("bootstrap", "--account", "acme", "--project", "main", "--json").stdout)
    target = json.loads(
        invoke("targets", "create", "acme", "main", "https://hooks.example.com/a", "--json").stdout
    )
    seed_deliveries(boot["project_id"], target["id"])


def test_bulk_replay_without_a_filter_refuses_when_nobody_can_answer(two_deliveries: None) -> None:
    refused = invoke("replay", "bulk", "acme", "main", code=2)
    assert "successful ones included" in refused.stderr and "--all" in refused.stderr
    assert invoke("replay", "bulk", "acme", "main", "--failed").stdout == "1 queued\n"


def test_bulk_replay_of_everything_with_all(two_deliveries: None) -> None:
    assert json.loads(invoke("replay", "bulk", "acme", "main", "--all", "--json").stdout) == {"queued": 2}


def test_bulk_replay_without_a_filter_asks_at_a_terminal(
    two_deliveries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kirem.delivery.cli

    monkeypatch.setattr(kirem.delivery.cli, "interactive", lambda: True)
    declined = invoke("replay", "bulk", "acme", "main", input="n\n", code=1)
    assert "successful ones included?" in declined.stderr and "nothing replayed" in declined.stderr
    assert invoke("replay", "bulk", "acme", "main", input="y\n").stdout.endswith("2 queued\n")


def test_an_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIREM_DATABASE_URL", f"postgresql+asyncpg://kirem@127.0.0.1:{free_port()}/kirem")
    for words in (["migrate"], ["accounts", "create", "acme"], ["accounts", "list"]):
        result = invoke(*words, code=1)
        assert result.stdout == "" and result.stderr.startswith("error: cannot reach the database: ")
        assert len(result.stderr.splitlines()) == 1


def test_the_served_app_keeps_its_startup_heap_out_of_the_collector(settings: Any) -> None:
    import gc

    from kirem.app import served_app

    gc.unfreeze()
    try:
        served_app(settings)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
