"""The refusals services raise; the HTTP edge (``kirem.api.errors``) renders them in the wrapper.

A refusal's ``status`` is the HTTP status number of its kind (404 for :class:`NotFound`, 409 for
:class:`Conflict`, …): the edge answers with it, the CLI and MCP tools report it, and tests read it.
Services import this module, never ``kirem.api``.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

T = TypeVar("T")


class DomainError(Exception):
    """A refusal with its status, message and field errors (``{"field": "reason"}`` or details)."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: Any = None,
        headers: dict[str, str] | None = None,
        meta_code: int | None = None,
        meta_subcode: int | None = None,
        meta_title: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.meta_code = meta_code
        """Meta's error code for this refusal on Graph-compatible paths (else one per HTTP status)."""
        self.meta_subcode = meta_subcode
        self.meta_title = meta_title
        """Meta's ``error_subcode`` and ``error_user_title`` for this refusal, where Meta gives them."""


class Invalid(DomainError):
    """The request names a bad value: ``errors`` says which field and why."""

    def __init__(
        self,
        errors: Any,
        message: str = "Validation failed",
        meta_code: int | None = None,
        meta_subcode: int | None = None,
        meta_title: str | None = None,
    ) -> None:
        super().__init__(
            400, message, errors, meta_code=meta_code, meta_subcode=meta_subcode, meta_title=meta_title
        )


class _Refusal(DomainError):
    """A refusal whose kind fixes its status."""

    kind_status: ClassVar[int]

    def __init__(self, message: str, errors: Any = None) -> None:
        super().__init__(self.kind_status, message, errors)


class Forbidden(_Refusal):
    """The caller is known but may not do this (a test key on a live channel, a disabled project)."""

    kind_status = 403


class NotFound(_Refusal):
    """The object does not exist for this caller (a foreign id is simply not found)."""

    kind_status = 404


class Conflict(_Refusal):
    """The request is valid but the current state refuses it (a name taken, a channel disconnected)."""

    kind_status = 409


class DependencyFailed(_Refusal):
    """A service this one depends on (Meta) could not be reached to check the request."""

    kind_status = 424


def not_found(what: str) -> NotFound:
    return NotFound(f"{what} not found")


def found(value: T | None, what: str) -> T:
    """``value`` when a lookup found it; else the refusal ``{what} not found``."""
    if value is None:
        raise not_found(what)
    return value


def invalid(
    errors: dict[str, str],
    message: str = "Validation failed",
    meta_code: int | None = None,
    meta_subcode: int | None = None,
    meta_title: str | None = None,
) -> Invalid:
    return Invalid(errors, message, meta_code=meta_code, meta_subcode=meta_subcode, meta_title=meta_title)
