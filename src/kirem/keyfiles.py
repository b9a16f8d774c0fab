"""Secrets generated on first run for the embedded defaults, kept in files only the owner can read."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def load_or_create_secret(path: Path, generate: Callable[[], str]) -> str:
    """Return the secret in ``path``, creating it (mode 0600) with ``generate()`` if absent.

    An existing file readable by others (copied in, or left by an older version) is made 0600.
    """
    if path.exists():
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
    return value
