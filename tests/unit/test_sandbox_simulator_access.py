"""Who may act as a customer: anyone in development, only the operator in production."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from kirem.config import Settings
from kirem.sandbox.auth import authorize_simulator
from kirem.sandbox.errors import MetaError


def _request(authorization: str | None) -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization is not None else []
    return Request({"type": "http", "method": "POST", "path": "/v1/inbound", "headers": headers})


def _settings(env: str, operator_token: str | None) -> Settings:
    return Settings(env=env, operator_token=operator_token, sandbox=True)  # type: ignore[arg-type]


def test_development_stays_open() -> None:
    authorize_simulator(_settings("development", None), _request(None))
    authorize_simulator(_settings("development", "op"), _request("Bearer wrong"))


@pytest.mark.parametrize(
    ("authorization", "status", "code"),
    [(None, 401, 104), ("Bearer wrong", 401, 190), ("Basic op", 401, 190), ("Bearer", 401, 190)],
)
def test_production_needs_the_operator_token(authorization: str | None, status: int, code: int) -> None:
    with pytest.raises(MetaError) as refused:
        authorize_simulator(_settings("production", "op"), _request(authorization))
    assert (refused.value.status_code, refused.value.code) == (status, code)
    authorize_simulator(_settings("production", "op"), _request("Bearer op"))


def test_production_without_an_operator_token_is_closed() -> None:
    for authorization in (None, "Bearer ", "Bearer anything"):
        with pytest.raises(MetaError) as refused:
            authorize_simulator(_settings("production", None), _request(authorization))
        assert refused.value.status_code == 403 and "KIREM_OPERATOR_TOKEN" in refused.value.message
