"""Forms: the services' field errors shown beside the fields, and form values read as text."""

from __future__ import annotations

from starlette.datastructures import FormData

from kirem.api.responses import ApiError
from kirem.kit.error_fields import flatten_errors

FORM_AGAIN = 400
"""The status of every form shown again with errors to correct: 400, as the API answers the same
input (Chromium notes a 4xx document in the console; the page is shown all the same)."""


def form_status(*errors: dict[str, str] | None) -> int:
    """The status of a form page: ``FORM_AGAIN`` when it shows errors, else 200."""
    return FORM_AGAIN if any(errors) else 200


def field_errors(exc: ApiError) -> dict[str, str]:
    """Field name → message from an API error; a refusal naming no field lands under ``form``.

    Nested names are dotted (``cidrs.0``); ``cidrs[0]`` style names are kept as the service wrote them.
    """
    errors = dict(flatten_errors(exc.errors, "form"))
    named = {field: text for field, text in errors.items() if field != "form"}
    if not named:
        return {"form": exc.message if not errors.get("form") else f"{exc.message}: {errors['form']}"}
    named.setdefault("form", exc.message)
    return named


def text(form: FormData, name: str, default: str = "") -> str:
    """A form field as stripped text (a file upload or a missing field gives ``default``)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else default
