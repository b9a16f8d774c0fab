"""Who a sandbox customer is to a business: a phone number and/or a business-scoped user id (BSUID).

Meta gives every customer one BSUID per business portfolio; the sandbox's portfolio is the WABA.
A customer's BSUID is derived from the WABA and their phone number (or, for a customer known only by
a username, from the username), so the same customer keeps it across messages and restarts without
a table, and another WABA sees a different one. The simulator may also name a BSUID outright.
"""

from __future__ import annotations

import hashlib

COUNTRY_BY_CALLING_CODE = {
    "1": "US", "7": "RU", "20": "EG", "27": "ZA", "31": "NL", "33": "FR", "34": "ES", "39": "IT",
    "44": "GB", "49": "DE", "52": "MX", "55": "BR", "60": "MY", "61": "AU", "62": "ID", "63": "PH",
    "65": "SG", "66": "TH", "81": "JP", "82": "KR", "84": "VN", "86": "CN", "90": "TR", "91": "IN",
    "92": "PK", "234": "NG", "254": "KE", "966": "SA", "971": "AE",
}  # fmt: skip
"""A few calling codes and the country Meta would put in front of the BSUID; others read as ``US``."""
DEFAULT_COUNTRY = "US"


def country_of(wa_id: str) -> str:
    for length in (3, 2, 1):
        if country := COUNTRY_BY_CALLING_CODE.get(wa_id[:length]):
            return country
    return DEFAULT_COUNTRY


def derived_user_id(waba_id: str, *, wa_id: str | None = None, username: str | None = None) -> str:
    """The customer's BSUID for this WABA: ``<country>.<20 digits>`` like Meta's."""
    who = f"phone:{wa_id}" if wa_id else f"username:{(username or '').lower()}"
    digest = hashlib.sha256(f"kirem-sandbox-bsuid:{waba_id}:{who}".encode()).digest()
    number = int.from_bytes(digest[:8], "big") % 10**20
    return f"{country_of(wa_id) if wa_id else DEFAULT_COUNTRY}.{number:020d}"
