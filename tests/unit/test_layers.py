"""The dependency order of docs/development.md ("Layers"), as import-linter's contracts in .importlinter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"


def _lint_imports() -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(command), str(CONFIG), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_import_points_down_the_layers() -> None:
    result = _lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout, result.stdout


def test_the_layers_name_every_package_of_kirem() -> None:
    """A new package or top-level module must take its place in the order, not slip past it."""
    source = ROOT / "src" / "kirem"
    names = {path.stem for path in source.glob("*.py") if path.stem != "__init__"}
    names |= {path.name for path in source.iterdir() if (path / "__init__.py").exists()}
    text = CONFIG.read_text()
    layers = text.split("layers =", 1)[1].split("ignore_imports =", 1)[0]
    missing = sorted(name for name in names if f"kirem.{name}" not in layers.replace(":", " ").split())
    assert not missing, f"not in a layer of .importlinter: {missing}"
