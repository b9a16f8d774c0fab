"""The business profile and the phone number node, in the shapes of the OpenAPI examples.

``GET …/whatsapp_business_profile`` answers ``{"data": [{"business_profile": {…}}]}``, as the
OpenAPI document's response schema and example show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from kirem.kit.nulls import without_nulls
from kirem.sandbox.errors import invalid_parameter, nonexisting_field, not_one_of, required_parameter
from kirem.sandbox.models import SandboxNumber

PROFILE_FIELDS = ("about", "address", "description", "email", "profile_picture_url", "websites", "vertical")
VERTICALS = (
    "OTHER",
    "AUTO",
    "BEAUTY",
    "APPAREL",
    "EDU",
    "ENTERTAIN",
    "EVENT_PLAN",
    "FINANCE",
    "GROCERY",
    "GOVT",
    "HOTEL",
    "HEALTH",
    "NONPROFIT",
    "PROF_SERVICES",
    "RETAIL",
    "TRAVEL",
    "RESTAURANT",
    "ALCOHOL",
    "ONLINE_GAMBLING",
    "PHYSICAL_GAMBLING",
    "OTC_DRUGS",
)
_TEXT_LIMITS = {"about": (1, 139), "address": (0, 256), "description": (0, 256), "email": (0, 128)}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _fields(value: str | None, available: tuple[str, ...], node_type: str) -> list[str]:
    if not value:
        return list(available)
    requested = [f.strip() for f in value.split(",") if f.strip()]
    for field in requested:
        if field not in available:
            raise nonexisting_field(field, node_type)
    return requested


def get_profile(number: SandboxNumber, fields: str | None) -> dict[str, Any]:
    wanted = _fields(fields, ("messaging_product", *PROFILE_FIELDS), "WhatsAppBusinessProfile")
    stored = number.business_profile or {}
    profile: dict[str, Any] = {"messaging_product": "whatsapp"}
    for field in wanted:
        if field in stored and stored[field] not in (None, ""):
            profile[field] = stored[field]
    return {"data": [{"business_profile": profile}]}


def update_profile(number: SandboxNumber, body: Mapping[str, Any]) -> None:
    body = without_nulls(dict(body))
    product = body.get("messaging_product")
    if product is None:
        raise required_parameter("messaging_product")
    if product != "whatsapp":
        raise not_one_of("messaging_product", ["WHATSAPP"], product)
    profile = dict(number.business_profile or {})
    for field, (low, high) in _TEXT_LIMITS.items():
        if field not in body:
            continue
        value = body[field]
        if not isinstance(value, str) or not low <= len(value) <= high:
            raise invalid_parameter(f"Param {field} must be a string of {low} to {high} characters.")
        if field == "email" and value and not _EMAIL.match(value):
            raise invalid_parameter("Param email must be a valid email address.")
        profile[field] = value
    if "websites" in body:
        websites = body["websites"]
        if not isinstance(websites, list) or len(websites) > 2:
            raise invalid_parameter("Param websites must be a list of at most 2 URLs.")
        for site in websites:
            parts = urlsplit(site) if isinstance(site, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or len(site) > 256:
                raise invalid_parameter(f"Param websites has an invalid URL: {site!r}.")
        profile["websites"] = websites
    if "vertical" in body:
        vertical = body["vertical"]
        if vertical not in VERTICALS and vertical != "":
            raise not_one_of("vertical", VERTICALS, vertical)
        profile["vertical"] = vertical
    # profile_picture_handle comes from the Resumable Upload API, which the sandbox does not emulate:
    # it is accepted and ignored.
    number.business_profile = profile


PHONE_NUMBER_FIELDS: dict[str, Any] = {
    "id": None,
    "display_phone_number": None,
    "verified_name": None,
    "quality_rating": "GREEN",
    "name_status": "APPROVED",
    "code_verification_status": "VERIFIED",
    "platform_type": "CLOUD_API",
    "throughput": {"level": "STANDARD"},
    "messaging_limit_tier": "TIER_250",
    "status": "CONNECTED",
}
DEFAULT_PHONE_NUMBER_FIELDS = ("id", "display_phone_number", "verified_name", "quality_rating")
UNEMULATED_PHONE_NUMBER_FIELDS = (
    "account_mode",
    "certificate",
    "conversational_automation",
    "country_code",
    "country_dial_code",
    "eligibility_for_api_business_global_search",
    "health_status",
    "is_official_business_account",
    "is_on_biz_app",
    "is_pin_enabled",
    "is_preverified_number",
    "last_onboarded_time",
    "new_certificate",
    "new_name_status",
    "quality_score",
    "search_visibility",
    "webhook_configuration",
    "whatsapp_business_manager_messaging_limit",
)
"""Fields Meta's phone number node has and the sandbox has no value for: asked for (clients such as
pywa ask for every field they know), they are left out as Graph leaves out an unset field."""


def formatted_display_number(digits: str) -> str:
    """``15550783881`` → ``+1 555-078-3881`` (the node shows it formatted; webhooks use digits)."""
    if len(digits) == 11 and digits.startswith("1"):
        return f"+1 {digits[1:4]}-{digits[4:7]}-{digits[7:]}"
    return f"+{digits}"


def get_phone_number(number: SandboxNumber, fields: str | None) -> dict[str, Any]:
    known = (*PHONE_NUMBER_FIELDS, *UNEMULATED_PHONE_NUMBER_FIELDS)
    wanted = (
        [f for f in _fields(fields, known, "WhatsAppBusinessPhoneNumber") if f in PHONE_NUMBER_FIELDS]
        if fields
        else list(DEFAULT_PHONE_NUMBER_FIELDS)
    )
    live = {
        "id": number.phone_number_id,
        "display_phone_number": formatted_display_number(number.display_phone_number),
        "verified_name": number.verified_name,
    }
    result = {field: live.get(field, PHONE_NUMBER_FIELDS[field]) for field in wanted}
    result.setdefault("id", number.phone_number_id)
    return result
