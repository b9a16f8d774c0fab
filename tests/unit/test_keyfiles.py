"""Generated secrets live in files only their owner can read, even files an older version left open."""

from __future__ import annotations

import stat
from pathlib import Path

from kirem.keyfiles import load_or_create_secret


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_secret_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "encryption.key"
    assert load_or_create_secret(path, lambda: "fresh") == "fresh"
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700


def test_an_existing_readable_secret_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "sandbox_app_secret"
    path.write_text("kept\n")
    path.chmod(0o644)
    assert load_or_create_secret(path, lambda: "unused") == "kept"
    assert _mode(path) == 0o600
