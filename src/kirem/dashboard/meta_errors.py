"""A refusal — the API's own, or Meta's — as one sentence a page can show beside its form."""

from __future__ import annotations

from kirem.api.responses import ApiError
from kirem.meta.client import MetaApiError, MetaUnavailable


def refusal_of(exc: ApiError | MetaApiError | MetaUnavailable) -> str:
    if isinstance(exc, ApiError):
        return exc.message
    if isinstance(exc, MetaApiError):
        code = f" (#{exc.code})" if exc.code is not None else ""
        return f"Meta refused it{code}: {exc.message}"
    return f"Meta could not be reached: {exc}"
