"""End-to-end fixtures: the real ``kirem serve`` process on a free loopback port, one per engine."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from kirem.crypto import generate_key_spec
from kirem.tenancy.cache import invalidate_all
from tests.conftest import ENGINES, create_postgres_database, drop_postgres_database
from tests.e2e.openapi_check import Contract

KIREM = str(Path(sys.executable).with_name("kirem"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    log_path: Path

    def cli(self, *args: str, check: bool = True, process: bool = False) -> subprocess.CompletedProcess[str]:
        """``kirem *args`` with this server's environment: in this process, or a real one if ``process``.

        A new interpreter pays seconds of imports per command; the in-process run sees the same
        environment, arguments and exit code. Keep ``process=True`` where the process itself matters
        (at least one command of each family).
        """
        if process:
            result = subprocess.run([KIREM, *args], env=self.env, capture_output=True, text=True, timeout=120)
        else:
            result = invoke_kirem(args, self.env)
        if check and result.returncode != 0:
            raise AssertionError(f"kirem {' '.join(args)} failed: {result.stdout}\n{result.stderr}")
        return result

    def bootstrap(
        self, plan: str = "growth", account: str | None = None, project: str = "main"
    ) -> dict[str, Any]:
        account = account or f"acct-{secrets.token_hex(4)}"
        out = self.cli("bootstrap", "--account", account, "--project", project, "--plan", plan, "--json")
        return json.loads(out.stdout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def invoke_kirem(args: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """The ``kirem`` command run in this process as a fresh process with ``env`` would run it.

    Only ``KIREM_*`` variables differ between ``env`` and this process's environment. A worker thread
    runs it, since the command's ``asyncio.run`` needs a thread without a running loop (async tests
    call this too); the tenancy caches are emptied after, as a process exit would.
    """
    from kirem.cli import app

    patch: dict[str, str | None] = {name: None for name in os.environ if name.startswith("KIREM_")}
    patch.update({name: value for name, value in env.items() if name.startswith("KIREM_")})
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(CliRunner().invoke, app, list(args), env=patch).result()
    invalidate_all()
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["kirem", *args], result.exit_code, result.stdout, stderr)


def start_server(
    tmp: Path, database_url: str, *args: str, **extra_env: str
) -> tuple[subprocess.Popen[bytes], Server]:
    """``kirem serve`` (with ``args``, such as ``--workers 2``) on a free port, once it is ready."""
    port = free_port()
    env = {
        **os.environ,
        "KIREM_DATABASE_URL": database_url,
        "KIREM_DATA_DIR": str(tmp / "data"),
        "KIREM_ENCRYPTION_KEY": generate_key_spec("e2e"),
        "KIREM_PORT": str(port),
        "KIREM_HOST": "127.0.0.1",
        "KIREM_OPERATOR_TOKEN": "operator-e2e",
        "KIREM_SANDBOX_REVIEW_SECONDS": "0.3",
        "KIREM_SANDBOX_STATUS_DELAY_SECONDS": "0.05",
        "KIREM_LOG_LEVEL": "warning",
        "KIREM_META_APP_SECRET": "meta-app-secret-e2e",
        "KIREM_META_VERIFY_TOKEN": "verify-e2e",
        **extra_env,
    }
    log_path = tmp / f"server-{port}.log"
    process = subprocess.Popen(
        [KIREM, "serve", *args], env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, cwd=tmp
    )
    server = Server(url=f"http://127.0.0.1:{port}", env=env, log_path=log_path)
    deadline = time.monotonic() + 120  # generous: parallel workers start servers at once
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kirem serve exited early:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return process, server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"kirem serve did not become ready:\n{server.log()}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@asynccontextmanager
async def serving(engine: str, tmp: Path, **extra_env: str) -> AsyncIterator[Server]:
    """``kirem serve`` on a fresh database of ``engine``, stopped (and its database dropped) after."""
    if engine == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'kirem.db'}"
    else:
        url = await create_postgres_database()
    process, srv = start_server(tmp, url, **extra_env)
    try:
        yield srv
    finally:
        stop_server(process)
        if engine != "sqlite":
            await drop_postgres_database(url)


@pytest.fixture(scope="session", params=ENGINES)
async def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    async with serving(request.param, tmp_path_factory.mktemp(f"e2e-{request.param}")) as srv:
        yield srv


CHECK_CONTRACT = os.environ.get("KIREM_TEST_CONTRACT") == "1"
"""Check every answer of the ``client`` fixture against the server's /openapi.json."""


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        if not CHECK_CONTRACT:
            yield http
            return
        contract = Contract(http.get("/openapi.json").json())
        problems: list[str] = []

        def check(response: httpx.Response) -> None:
            response.read()
            problems.extend(contract.problems(response))

        http.event_hooks["response"].append(check)
        yield http
    assert not problems, "answers the OpenAPI document does not describe:\n" + "\n".join(problems)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_for(check: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something truthy (end-to-end effects are asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
