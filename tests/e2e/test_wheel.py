"""The wheel the Dockerfile installs builds, and a fresh virtualenv runs ``kirem serve`` from it.

The wheel is installed without its dependencies (the test reads no package index); the fresh
virtualenv sees the running interpreter's installed packages through a ``.pth`` line, which adds
them to ``sys.path`` without running their own ``.pth`` hooks, so the editable install of this
checkout stays out and ``kirem`` is imported from the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx

from kirem.crypto import generate_key_spec
from tests.doc_blocks import ROOT
from tests.e2e.conftest import free_port


def run(*args: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, cwd=cwd)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_wheel_builds_and_serves_from_a_fresh_virtualenv(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "-q", "-w", wheels)
    [wheel] = wheels.glob("kirem-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    site = Path(
        run(venv / "bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(sys.executable, "-m", "pip", "--python", venv / "bin/python", "install", "--no-deps", "-q", wheel)
    located = run(venv / "bin/python", "-c", "import kirem; print(kirem.__file__)")
    assert Path(located.strip()).is_relative_to(site), located

    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "KIREM_ENV": "production",
        "KIREM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'kirem.db'}",
        "KIREM_DATA_DIR": str(tmp_path / "data"),
        "KIREM_ENCRYPTION_KEY": generate_key_spec("k1"),
        "KIREM_HOST": "127.0.0.1",
        "KIREM_PORT": str(port),
        "KIREM_HEARTBEAT_SECONDS": "1",
    }
    log = tmp_path / "serve.log"
    server = subprocess.Popen(
        [venv / "bin/kirem", "serve"], env=env, cwd=tmp_path, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        ready = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, log.read_text()
        assert ready.json()["data"]["worker"] == "ok"
        status = subprocess.run(
            [venv / "bin/kirem", "status", "--this-host", "--json"], env=env, capture_output=True, text=True
        )
        assert status.returncode == 0, status.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
