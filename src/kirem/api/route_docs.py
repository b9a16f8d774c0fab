"""What a route and its shapes publish in the OpenAPI document, said once for every route.

:func:`documented` gives a route decorator its summary, its answer in the success wrapper, the
refusals it may answer (a JSON body adds those of :data:`kirem.api.schemas.BODY`) and its body;
:func:`answers` gives the answer and refusals of a route whose example is wrapped with its message.
The rest serves the published models: :data:`Timestamp` fields and the examples of a model.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from kirem.api.schemas import BODY, Envelope, answer, responses, wrapped

TIME = "ISO 8601, UTC"
Timestamp = Annotated[str | None, Field(description=TIME)]
"""A moment published as ISO 8601 text in UTC; give the field the default ``None``."""


def documented(
    summary: str,
    data: Any,
    *errors: int,
    body: dict[str, Any] | None = None,
    status: int | None = None,
    example: Any = None,
    **descriptions: str,
) -> dict[str, Any]:
    """Keyword arguments of a route decorator whose answer wraps ``data`` (a type) in the success
    wrapper: ``errors`` are the codes it may refuse with (``descriptions`` as in
    :func:`kirem.api.schemas.responses`), ``body`` its :func:`kirem.api.schemas.request_body`,
    ``status`` its success status when not 200 and ``example`` that answer's example."""
    refusals = responses(*(BODY if body is not None else ()), *errors, **descriptions)
    spec = _answered(
        data, refusals if example is None else {**answer(status or 200, example), **refusals}, status
    )
    spec["summary"] = summary
    if body is not None:
        spec["openapi_extra"] = body
    return spec


def answers(
    model: Any, message: str, example: Any, errors: dict[int | str, dict[str, Any]], status: int = 200
) -> dict[str, Any]:
    """``model`` answered in the wrapper with ``status``, ``example`` wrapped with ``message``, and the
    route's ``errors`` (:func:`kirem.api.schemas.responses`)."""
    documented_answer = answer(status, wrapped(message, example, status))
    return _answered(model, {**documented_answer, **errors}, None if status == 200 else status)


def _answered(data: Any, refusals: dict[int | str, dict[str, Any]], status: int | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"response_model": Envelope[data], "responses": refusals}
    if status is not None:
        spec["status_code"] = status
    return spec


def with_examples(*values: dict[str, Any]) -> ConfigDict:
    """The ``model_config`` of a published model with these examples."""
    return ConfigDict(json_schema_extra={"examples": list(values)})


WITHOUT_PARENT_EXAMPLES = ConfigDict(json_schema_extra={})
"""The ``model_config`` of a model that extends one with examples: they lack its own fields."""
