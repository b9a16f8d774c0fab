"""Checking a live channel against Graph before it is saved: token, number, WABA, app subscription."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kirem.kit.errors import DependencyFailed, DomainError, Invalid
from kirem.meta.client import GraphClient, MetaApiError, MetaUnavailable


@dataclass(frozen=True)
class LiveCheck:
    """What Graph said about a live channel's credentials."""

    display_phone_number: str
    verified_name: str
    waba_name: str
    app_subscribed: bool
    subscribed_now: bool = False

    def view(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "verified": True,
            "verified_name": self.verified_name,
            "waba_name": self.waba_name,
            "app_subscribed": self.app_subscribed,
            "subscribed_now": self.subscribed_now,
        }
        if not self.app_subscribed:
            view["hint"] = (
                "Meta sends this WABA's webhooks to no app of yours: connect it with "
                '"subscribe_app": true (kirem channels add --subscribe-app) to subscribe the app'
            )
        return view


def _refused(exc: MetaApiError, fields: tuple[str, ...]) -> DomainError:
    """Meta's refusal as a 400 naming the fields it concerns, Meta's own error beside them."""
    meta = {key: exc.error.get(key) for key in ("message", "type", "code", "error_subcode", "fbtrace_id")}
    errors: dict[str, Any] = {field: f"Meta refused it: {exc.message}" for field in fields}
    return Invalid({**errors, "meta": meta}, f"Meta refused the channel's credentials: {exc.message}")


def _unreachable(exc: MetaUnavailable) -> DomainError:
    return DependencyFailed(
        'Could not reach Meta to verify the channel; try again, or connect it unchecked with "verify": false',
        {"meta": str(exc)},
    )


def subscribed(apps: list[dict[str, Any]], app_id: str | None) -> bool:
    """Whether ``app_id`` (or, when Kirem's app id is not configured, any app) gets the WABA's webhooks."""
    if app_id is None:
        return bool(apps)
    return any(str(app.get("id")) == app_id for app in apps)


async def check_live_channel(
    graph: GraphClient,
    *,
    phone_number_id: str,
    waba_id: str,
    token: str,
    app_id: str | None,
    subscribe: bool,
) -> LiveCheck:
    """Ask Graph for the number and the WABA with the token; subscribe the app when asked and missing.

    Raises a 400 with Meta's error when Meta refuses them, a 424 when Meta cannot be reached.
    """
    try:
        try:
            number = await graph.phone_number(
                phone_number_id, token, {"fields": "id,display_phone_number,verified_name"}
            )
        except MetaApiError as exc:
            raise _refused(exc, ("phone_number_id", "access_token")) from None
        try:
            waba = await graph.waba(waba_id, token, {"fields": "id,name"})
            was_subscribed = subscribed(await graph.subscribed_apps(waba_id, token), app_id)
        except MetaApiError as exc:
            raise _refused(exc, ("waba_id", "access_token")) from None
        subscribe_now = subscribe and not was_subscribed
        if subscribe_now:
            try:
                await graph.subscribe_app(waba_id, token)
            except MetaApiError as exc:
                raise _refused(exc, ("subscribe_app",)) from None
    except MetaUnavailable as exc:
        raise _unreachable(exc) from None
    return LiveCheck(
        display_phone_number=str(number.get("display_phone_number") or ""),
        verified_name=str(number.get("verified_name") or ""),
        waba_name=str(waba.get("name") or ""),
        app_subscribed=was_subscribed or subscribe_now,
        subscribed_now=subscribe_now,
    )
