"""Explicit ``null`` read as an absent field, the way Meta reads request bodies.

Clients such as Chatwoot send ``"context": null`` or ``"caption": null`` for every optional field
they leave out; Meta treats those as not given. Local checks (Kirem's and the sandbox's) look at
:func:`without_nulls` of a body, while the body itself is forwarded untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, overload


@overload
def without_nulls(value: dict[Any, Any]) -> dict[Any, Any]: ...


@overload
def without_nulls(value: Any) -> Any: ...


def without_nulls(value: Any) -> Any:
    """``value`` with every object member whose value is ``null`` left out, at any depth.

    List items are kept as they are (a ``null`` inside a list is a value, not an absent field).
    """
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def object_body(check: Callable[[dict[str, Any]], dict[str, str]]) -> Callable[[object], dict[str, str]]:
    """``check`` of a request body, made to take any JSON: an object is checked :func:`without_nulls`.

    Any other body gets the one error ``{"body": "the request body must be a JSON object"}``.
    """

    @functools.wraps(check)
    def checked(body: object) -> dict[str, str]:
        if not isinstance(body, dict):
            return {"body": "the request body must be a JSON object"}
        return check(without_nulls(body))

    return checked
