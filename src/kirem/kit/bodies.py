"""Field checks shared by the JSON bodies of management endpoints (targets, rules)."""

from __future__ import annotations

from typing import Any


def unknown_fields(body: dict[str, Any], known: tuple[str, ...]) -> dict[str, str]:
    """An error for each field of ``body`` that is not one of ``known``."""
    expected = f"unknown field; expected one of {', '.join(known)}"
    return {key: expected for key in body if key not in known}


def check_flag(body: dict[str, Any], name: str, values: dict[str, Any], errors: dict[str, str]) -> None:
    """Take ``body[name]``, when given, into ``values`` if it is a boolean; else an error."""
    if name not in body:
        return
    if isinstance(body[name], bool):
        values[name] = body[name]
    else:
        errors[name] = "must be true or false"
