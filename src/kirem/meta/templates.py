"""How Meta reads a template's texts: its ``{{1}}`` or ``{{name}}`` variables and parameter format.

Kirem's template checks (``kirem.messaging.template_rules``) and the sandbox both read them this way.
"""

from __future__ import annotations

import re

VARIABLE = re.compile(r"\{\{([^{}]*)\}\}")
POSITIONAL = re.compile(r"[0-9]+")
NAMED_VARIABLE = re.compile(r"[a-z_][a-z0-9_]*")


def upper(value: object) -> str:
    return value.upper() if isinstance(value, str) else ""


def variables(text: str) -> tuple[list[int], list[str]]:
    raw = [match.strip() for match in VARIABLE.findall(text)]
    positional = [int(name) for name in raw if POSITIONAL.fullmatch(name)]
    return positional, [name for name in raw if NAMED_VARIABLE.fullmatch(name)]


def parameter_format_of(components: object) -> str:
    """``NAMED`` when a header or body text uses named variables (``{{first_name}}``), else
    ``POSITIONAL``: the ``parameter_format`` Meta reports for a template that did not state one."""
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, dict) or upper(component.get("type")) not in ("HEADER", "BODY"):
            continue
        if isinstance(component.get("text"), str) and variables(component["text"])[1]:
            return "NAMED"
    return "POSITIONAL"


def variable_count(text: str) -> int:
    """Parameters one header or body text expects: the highest ``{{n}}``, or its distinct named ones."""
    positional, named = variables(text)
    return max(positional, default=0) or len(set(named))
