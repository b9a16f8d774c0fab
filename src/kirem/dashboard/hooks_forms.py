"""Webhook forms of the dashboard: form fields to the /v1 request bodies, and back for editing.

The pages never validate on their own: they build the same JSON body the API takes and let the
routing services check it, so a form refuses exactly what the API refuses. Values that are not
even of the right kind (``abc`` as a timeout) are passed through as text, and the service's
message says what it expects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from kirem.routing.conditions import KEYS

_LIST_SPLIT = re.compile(r"[,\n]")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)

CONDITION_LISTS = ("senders", "keywords")
"""Conditions typed as text, one item per line (or separated by commas)."""
CONDITION_CHOICES = ("event_types", "message_types", "channel_ids")
"""Conditions picked from checkboxes."""


def split_list(text: str) -> list[str]:
    """Items of a textarea: one per line or separated by commas, blanks dropped."""
    return [item.strip() for item in _LIST_SPLIT.split(text) if item.strip()]


def _number(text: str) -> float | int | str:
    if _INTEGER.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        return float(text)
    return text


def parse_headers(text: str) -> dict[str, str] | str:
    """``Name: value`` lines as a headers object; a line without a colon gives the raw text back."""
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon:
            return text
        headers[name.strip()] = value.strip()
    return headers


def target_body(form: Mapping[str, str], events: Sequence[str]) -> dict[str, Any]:
    """The body of ``POST``/``PATCH /v1/webhooks/targets`` from the target form.

    Empty optional fields reset to the default (``null``), as in the API.
    """
    headers = parse_headers(form.get("headers", ""))
    timeout = form.get("timeout_seconds", "").strip()
    attempts = form.get("max_attempts", "").strip()
    schedule = form.get("retry_schedule", "").strip()
    return {
        "url": form.get("url", "").strip(),
        "description": form.get("description", "").strip(),
        "payload_format": form.get("payload_format") or "kirem",
        "events": list(events),
        "headers": headers,
        "timeout_seconds": _number(timeout) if timeout else None,
        "max_attempts": _number(attempts) if attempts else None,
        "retry_schedule": [_number(step) for step in split_list(schedule)] or schedule or None,
    }


def target_form(view: Mapping[str, Any] | None) -> dict[str, Any]:
    """A target (as ``target_view`` shows it) in the form's fields; ``None`` gives the empty form.

    Header values are shown masked: submitted unchanged, the mask keeps each stored value.
    """
    if view is None:
        return {
            "url": "",
            "description": "",
            "payload_format": "kirem",
            "events": [],
            "headers": "",
            "timeout_seconds": "",
            "max_attempts": "",
            "retry_schedule": "",
        }
    schedule = view.get("retry_schedule")
    return {
        "url": view["url"],
        "description": view.get("description") or "",
        "payload_format": view.get("payload_format") or "kirem",
        "events": list(view.get("events") or []),
        "headers": "\n".join(f"{name}: {value}" for name, value in (view.get("headers") or {}).items()),
        "timeout_seconds": f"{view['timeout_seconds']:g}" if view.get("timeout_seconds") is not None else "",
        "max_attempts": str(view.get("max_attempts") or ""),
        "retry_schedule": ", ".join(f"{step:g}" for step in schedule) if schedule else "",
    }


def echo_target_form(form: Mapping[str, str], events: Sequence[str]) -> dict[str, Any]:
    """What the person typed, to show the form again with the service's errors."""
    values = {key: form.get(key, "") for key in target_form(None) if key != "events"}
    return {**values, "events": list(events)}


def conditions_body(
    form: Mapping[str, str], choices: Mapping[str, Sequence[str]]
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The rule's ``conditions`` object from the editor: ``(conditions, {})`` or ``(None, errors)``.

    ``mode=json`` takes the raw-JSON field as it is (the service validates it); otherwise the
    fields are assembled: checkboxes, one-per-line lists and the regex. Unreadable JSON gives the
    parser's message under ``conditions_json``.
    """
    if form.get("mode") == "json":
        raw = form.get("conditions_json", "").strip()
        if not raw:
            return {}, {}
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return None, {"conditions_json": str(exc)}
        return parsed, {}
    conditions: dict[str, Any] = {}
    for key in CONDITION_CHOICES:
        picked = [value for value in choices.get(key, ()) if value]
        if picked:
            conditions[key] = picked
    for key in CONDITION_LISTS:
        items = split_list(form.get(key, ""))
        if items:
            conditions[key] = items
    regex = form.get("regex", "")
    if regex.strip():
        conditions["regex"] = regex
    return conditions, {}


def conditions_form(conditions: Mapping[str, Any] | None) -> dict[str, Any]:
    """Stored conditions in the editor's fields (and the same object as JSON for the raw mode)."""
    conditions = dict(conditions or {})
    values: dict[str, Any] = {key: list(conditions.get(key) or []) for key in CONDITION_CHOICES}
    for key in CONDITION_LISTS:
        values[key] = "\n".join(conditions.get(key) or [])
    values["regex"] = conditions.get("regex") or ""
    values["conditions_json"] = orjson.dumps(conditions, option=orjson.OPT_INDENT_2).decode()
    return values


def form_field(path: str) -> str:
    """The form field that shows a service error keyed ``path``.

    ``conditions.senders[2]`` → ``senders``; ``headers.X-Token`` → ``headers``; ``events[0]`` →
    ``events``; ``conditions`` (raw JSON that is not an object) → ``conditions_json``.
    """
    head = path.split("[", 1)[0]
    if head == "conditions":
        return "conditions_json"
    if head.startswith("conditions."):
        key = head.removeprefix("conditions.")
        return key if key in KEYS else "conditions_json"
    return head.split(".", 1)[0]


def merge_field_errors(errors: Mapping[str, str]) -> dict[str, str]:
    """Service errors by form field; several errors of one field are joined."""
    merged: dict[str, str] = {}
    for path, message in errors.items():
        if path == "form":
            merged["form"] = message
            continue
        field = form_field(path)
        short = path.removeprefix("conditions.")
        text = message if short in (field, "conditions") else f"{short}: {message}"
        merged[field] = f"{merged[field]}; {text}" if field in merged else text
    return merged
