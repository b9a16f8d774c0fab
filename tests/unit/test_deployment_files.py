"""The deployment files, checked as far as this machine can (no container images here): they
parse, and every command and ``KIREM_`` variable they use exists in the code."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from kirem.cli import app as cli_app
from kirem.config import Settings
from tests.doc_blocks import ROOT

DEPLOY_FILES = [ROOT / "Dockerfile", ROOT / "compose.yaml", *sorted((ROOT / "deploy").iterdir())]
SETTINGS = {f"KIREM_{name.upper()}" for name in Settings.model_fields}


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` in order: comments dropped, ``\\`` continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        if not re.fullmatch(r"[A-Z]+", keyword):
            raise ValueError(f"not a Dockerfile instruction: {whole!r}")
        instructions.append((keyword, arguments.strip()))
    if pending:
        raise ValueError("the Dockerfile ends inside a continued line")
    return instructions


def exec_form(arguments: str) -> list[str]:
    """A JSON-array (exec form) command; a shell-form one is refused (signals would miss PID 1)."""
    words = json.loads(arguments)
    assert isinstance(words, list) and all(isinstance(w, str) for w in words), arguments
    return words


def kirem_command_exists(words: list[str]) -> bool:
    """``kirem <command> [<sub-command>] [--option …]``: every command and option is known."""
    assert words[0] == "kirem", words
    command: Any = typer.main.get_command(cli_app)
    context = command.context_class(command)
    for word in words[1:]:
        if word.startswith("--"):
            known = {opt for param in command.params for opt in param.opts}
            if word.split("=")[0] not in known:
                return False
        elif hasattr(command, "get_command"):
            command = command.get_command(context, word)
            if command is None:
                return False
    return not hasattr(command, "list_commands")  # a command, not a bare group


def test_the_dockerfile_parser_reads_continuations_and_refuses_garbage() -> None:
    parsed = dockerfile_instructions('# c\nFROM a AS b\nRUN one \\\n    two\n\nCMD ["x"]\n')
    assert parsed == [("FROM", "a AS b"), ("RUN", "one      two"), ("CMD", '["x"]')]
    with pytest.raises(ValueError):
        dockerfile_instructions("FROM a\nnot an instruction\n")
    with pytest.raises(ValueError):
        dockerfile_instructions("RUN a \\\n")
    assert kirem_command_exists(["kirem", "serve"]) and kirem_command_exists(
        ["kirem", "status", "--this-host"]
    )
    assert not kirem_command_exists(["kirem", "serve", "--nope"])
    assert not kirem_command_exists(["kirem", "keys"])  # a group, not a command


def test_the_dockerfile_builds_the_wheel_runs_as_a_user_and_checks_readyz() -> None:
    instructions = dockerfile_instructions((ROOT / "Dockerfile").read_text())
    stages = [args for keyword, args in instructions if keyword == "FROM"]
    assert stages and all(stage.split()[0] == "python:3.11-slim" for stage in stages)
    final = instructions[max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM") :]
    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    assert "pip wheel" in runs and "--no-deps" in runs and "pip install --no-cache-dir /wheels/" in runs
    for keyword, args in instructions:
        if keyword == "COPY" and not args.startswith("--from"):
            sources = args.split()[:-1]
            assert all((ROOT / source).exists() for source in sources), args
    users = [args for keyword, args in final if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    user_at = max(i for i, (keyword, _) in enumerate(final) if keyword == "USER")
    assert all(keyword != "RUN" for keyword, _ in final[user_at:]), "nothing runs as root after USER"
    [check] = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    probe = exec_form(check.split(" CMD ", 1)[1])
    assert "/readyz" in probe[-1]
    compile(probe[-1], "<healthcheck>", "exec")  # the python -c probe is valid Python
    [cmd] = [args for keyword, args in final if keyword == "CMD"]
    assert kirem_command_exists(exec_form(cmd))
    env = " ".join(args for keyword, args in final if keyword == "ENV")
    assert "KIREM_ENV=production" in env and "KIREM_HOST=0.0.0.0" in env


def test_compose_runs_postgres_a_migration_api_processes_and_workers() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "api", "worker", "proxy"}
    assert services["postgres"]["image"].startswith("postgres:")
    commands = {name: services[name]["command"] for name in ("migrate", "api", "worker")}
    assert commands == {
        "migrate": ["kirem", "migrate"],
        "api": ["kirem", "serve"],
        "worker": ["kirem", "worker"],
    }
    assert all(kirem_command_exists(words) for words in commands.values())
    assert services["api"]["environment"]["KIREM_WORKER"] == "false"
    assert "replicas" in services["api"]["deploy"] and "replicas" in services["worker"]["deploy"]
    worker_check = services["worker"]["healthcheck"]["test"]
    assert worker_check[0] == "CMD" and kirem_command_exists(worker_check[1:])
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    environment = services["api"]["environment"]
    assert (
        environment["KIREM_DATABASE_URL"].startswith("postgresql://")
        and "@postgres:5432/" in environment["KIREM_DATABASE_URL"]
    )
    subnet = compose["networks"]["kirem"]["ipam"]["config"][0]["subnet"]
    assert environment["KIREM_TRUSTED_PROXIES"] == subnet
    assert Settings(trusted_proxies=subnet).trusted_proxy_networks


def systemd_exec_lines(text: str) -> list[list[str]]:
    sections = re.findall(r"^\[(\w+)\]$", text, re.MULTILINE)
    assert sections == ["Unit", "Service", "Install"], sections
    return [shlex.split(value) for value in re.findall(r"^Exec\w+=(.+)$", text, re.MULTILINE)]


@pytest.mark.parametrize("unit", ["kirem.service", "kirem-worker@.service"])
def test_systemd_units_run_existing_commands_as_a_user(unit: str) -> None:
    text = (ROOT / "deploy" / unit).read_text()
    lines = systemd_exec_lines(text)
    assert lines
    for words in lines:
        assert words[0].endswith("/kirem") and kirem_command_exists(["kirem", *words[1:]]), words
    assert re.search(r"^User=kirem$", text, re.MULTILINE)
    assert re.search(r"^EnvironmentFile=/etc/kirem/kirem.env$", text, re.MULTILINE)


@pytest.mark.parametrize("path", DEPLOY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_setting_the_deployment_files_use_exists(path: Path) -> None:
    used = set(re.findall(r"KIREM_[A-Z0-9_]*[A-Z0-9]", path.read_text()))
    assert used <= SETTINGS, sorted(used - SETTINGS)


def test_the_example_environment_file_is_valid_settings() -> None:
    pairs = [
        line.split("=", 1)
        for line in (ROOT / "deploy/kirem.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    values = {name.removeprefix("KIREM_").lower(): value for name, value in pairs if value}
    values.pop("encryption_key")  # a placeholder to replace
    settings = Settings(**values)
    assert settings.env == "production" and not settings.is_sqlite
