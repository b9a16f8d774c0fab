"""Graph's field selection (``?fields=a,b{c},d.limit(5)``): only the named fields are answered.

As on Graph, ``id`` comes with every object that has one, nested selections and modifiers are
accepted (the top-level field is kept whole), and a field the object does not have is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def requested_fields(value: str | None) -> list[str] | None:
    """The top-level field names of a ``fields`` parameter; ``None`` when it names none."""
    if not value:
        return None
    names: list[str] = []
    depth, current = 0, list[str]()
    for char in value + ",":
        if char in "{(":
            depth += 1
        elif char in "})":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            name = "".join(current).split(".", 1)[0].strip()
            if name and name not in names:
                names.append(name)
            current = []
            continue
        if depth == 0 and char not in "})":
            current.append(char)
    return names or None


def select_fields(obj: Mapping[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """``obj`` with only the requested fields (and its ``id``), in the order requested."""
    if fields is None:
        return dict(obj)
    selected = {name: obj[name] for name in fields if name in obj}
    if "id" in obj:
        selected.setdefault("id", obj["id"])
    return selected
