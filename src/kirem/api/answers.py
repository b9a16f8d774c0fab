"""The documentation keywords of a ``/v1`` route's decorator, from what the route answers."""

from __future__ import annotations

from typing import Any

from kirem.api.schemas import Envelope, answer, wrapped


def answers(
    model: Any, message: str, example: Any, errors: dict[int | str, dict[str, Any]], status: int = 200
) -> dict[str, Any]:
    """``model`` answered in the wrapper with ``status``, ``example`` wrapped with ``message``, and the
    route's ``errors`` (:func:`kirem.api.schemas.responses`)."""
    keywords: dict[str, Any] = {
        "response_model": Envelope[model],
        "responses": {**answer(status, wrapped(message, example, status)), **errors},
    }
    if status != 200:
        keywords["status_code"] = status
    return keywords
