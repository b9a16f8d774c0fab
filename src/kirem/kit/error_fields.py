"""A refusal's field errors as ``(dotted name, message)`` pairs, for one-line or per-field display."""

from __future__ import annotations

from typing import Any


def flatten_errors(errors: Any, root: str, prefix: str = "") -> list[tuple[str, str]]:
    """Every message in nested ``errors`` with its dotted path (``cidrs.0``); a bare one is ``root``'s."""
    if isinstance(errors, dict):
        items = [(str(key), value) for key, value in errors.items()]
    elif isinstance(errors, list):
        items = [(str(i), value) for i, value in enumerate(errors)]
    elif errors is None or errors == "":
        return []
    else:
        return [(prefix.rstrip(".") or root, str(errors))]
    return [pair for key, value in items for pair in flatten_errors(value, root, f"{prefix}{key}.")]
