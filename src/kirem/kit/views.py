"""Views: the dicts API answers, the CLI and MCP tools show an object as, built from its attributes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kirem.kit.params import iso


def view_of(source: object, names: str, /, **computed: Any) -> dict[str, Any]:
    """``{name: source.name}`` for each of the space-separated ``names``, in their order.

    Answers keep that key order. A datetime attribute is shown in the API's timestamp style
    (:func:`iso`). ``computed`` gives, as is, the value of a name that ``source`` has no attribute
    for or that is shown otherwise.
    """
    return {
        name: computed[name] if name in computed else _shown(getattr(source, name)) for name in names.split()
    }


def _shown(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else value
