"""The routers of the management API (account token) and the operator API (operator token): their
paths, tag, credential and the refusals every one of their routes may answer."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from kirem.api.deps import require_operator
from kirem.api.schemas import responses


def management_router(prefix: str = "", *refusals: int) -> APIRouter:
    """Routes under ``/v1/manage`` + ``prefix``; ``refusals`` besides the account token's 401."""
    return APIRouter(prefix="/v1/manage" + prefix, tags=["management"], responses=responses(401, *refusals))


def operator_router() -> APIRouter:
    """Routes under ``/v1/operator``, each behind the operator token."""
    return APIRouter(
        prefix="/v1/operator",
        tags=["operator"],
        dependencies=[Depends(require_operator)],
        responses=responses(401, 403),
    )
