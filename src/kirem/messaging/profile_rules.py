"""Local checks for business profile updates (``POST /v1/profile``, Meta's ``whatsapp_business_profile``).

Limits follow Meta's schema (docs/api.md lists them): about 1 to 139 characters, address and
description up to 256, email up to 128, at most 2 websites of up to 256 characters, vertical from
Meta's list. An empty address, description or email, or an empty websites list, clears that field
and is accepted. As Meta does, an explicit ``null`` is an absent field and fields Kirem does not know
are forwarded unchecked.
"""

from __future__ import annotations

import re
from typing import Any

from kirem.kit.nulls import object_body
from kirem.messaging.message_rules import is_http_url

Errors = dict[str, str]

# The verticals docs/api.md lists first, then those only Meta's enum names (the restricted ones).
VERTICALS = (
    "AUTO", "BEAUTY", "APPAREL", "EDU", "ENTERTAIN", "EVENT_PLAN", "FINANCE", "GROCERY", "GOVT",
    "HOTEL", "HEALTH", "NONPROFIT", "PROF_SERVICES", "RETAIL", "TRAVEL", "RESTAURANT", "OTHER",
    "ALCOHOL", "ONLINE_GAMBLING", "PHYSICAL_GAMBLING", "OTC_DRUGS",
)  # fmt: skip

MAX_ABOUT = 139
MAX_ADDRESS = 256
MAX_DESCRIPTION = 256
MAX_EMAIL = 128
MAX_WEBSITES = 2
MAX_WEBSITE = 256

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@object_body
def validate_profile_update(body: dict[str, Any]) -> Errors:
    """Check the profile fields Kirem knows; the others are Meta's to judge."""
    errors: Errors = {}
    if "messaging_product" in body and body["messaging_product"] != "whatsapp":
        errors["messaging_product"] = 'messaging_product must be "whatsapp"'
    errors.update(_check_fields(body))
    return errors


def _check_fields(body: dict[str, Any]) -> Errors:
    errors: Errors = {}
    if "about" in body:
        errors.update(_check_string("about", body["about"], 1, MAX_ABOUT))
    if "address" in body:
        errors.update(_check_string("address", body["address"], 0, MAX_ADDRESS))
    if "description" in body:
        errors.update(_check_string("description", body["description"], 0, MAX_DESCRIPTION))
    if "email" in body:
        errors.update(_check_email(body["email"]))
    if "vertical" in body and body["vertical"] not in VERTICALS:
        errors["vertical"] = f"vertical must be one of {', '.join(VERTICALS)}"
    if "websites" in body:
        errors.update(_check_websites(body["websites"]))
    handle = body.get("profile_picture_handle")
    if "profile_picture_handle" in body and not (isinstance(handle, str) and handle.strip()):
        errors["profile_picture_handle"] = "profile_picture_handle must be a handle from a resumable upload"
    return errors


def _check_string(field: str, value: object, minimum: int, maximum: int) -> Errors:
    if not isinstance(value, str):
        return {field: f"{field} must be a string"}
    if len(value) < minimum or (minimum and not value.strip()):
        return {field: f"{field} must not be empty"}
    if len(value) > maximum:
        return {field: f"{field} must be at most {maximum} characters, got {len(value)}"}
    return {}


def _check_email(value: object) -> Errors:
    errors = _check_string("email", value, 0, MAX_EMAIL)
    if not errors and value and not _EMAIL.fullmatch(str(value)):
        errors["email"] = "email must be an email address such as support@example.com"
    return errors


def _check_websites(websites: object) -> Errors:
    if not isinstance(websites, list):
        return {"websites": "websites must be a list of URLs"}
    if len(websites) > MAX_WEBSITES:
        return {"websites": f"at most {MAX_WEBSITES} websites are allowed, got {len(websites)}"}
    errors: Errors = {}
    for index, url in enumerate(websites):
        path = f"websites[{index}]"
        if not isinstance(url, str) or not is_http_url(url):
            errors[path] = f"{path} must be an http or https URL"
        elif len(url) > MAX_WEBSITE:
            errors[path] = f"{path} must be at most {MAX_WEBSITE} characters, got {len(url)}"
    return errors
