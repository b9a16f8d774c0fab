"""Published shapes of the dashboard-user API (``/v1/manage/users``, the operator's password reset)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kirem.api.route_docs import with_examples
from kirem.dashboard.passwords import MAX_LENGTH, MIN_LENGTH

USER_EXAMPLE: dict[str, Any] = {
    "id": "usr_5e4d3c2b1a0f9e8d7c6b5a49",
    "account_id": "acc_1f2e3d4c5b6a79880a1b2c3d",
    "email": "sari@toko-melati.example",
    "account_owner": False,
    "roles": {"prj_4d5e6f7a8b9c0d1e2f3a4b5c": "agent"},
    "created_at": "2026-11-29T08:00:00+00:00",
}


class UserView(BaseModel):
    model_config = with_examples(USER_EXAMPLE)

    id: str
    account_id: str
    email: str
    account_owner: bool = Field(description="Owner of every project of the account")
    roles: dict[str, str] = Field(description="Project id → owner, developer or agent")
    created_at: str | None


class UserCreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=254)
    password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)
    account_owner: bool = False
    roles: dict[str, str | None] | None = Field(
        default=None, description="Project id → owner, developer, agent (or null: no access)"
    )


class UserUpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_owner: bool | None = None
    roles: dict[str, str | None] | None = None


class SessionsEnded(BaseModel):
    sessions_ended: int


class PasswordResetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(default=None, description="Absent: a random one, shown only in the answer")


class PasswordReset(BaseModel):
    id: str
    email: str
    password: str | None = Field(default=None, description="Only when Kirem chose it")
