"""Business-scoped user ids (BSUIDs): how Meta names a WhatsApp customer to one business portfolio.

Since 2026 every customer in a webhook carries one (``US.13491208655302741918``): a two-letter
country code, a dot, and up to 128 ASCII letters and digits. A customer's *parent* BSUID, shared
across the portfolios of one enterprise, adds ``ENT.`` (``US.ENT.11815799212886844830``). A customer
who has a username may come with a BSUID and no phone number at all, so the BSUID is as much an
identity as the number.
"""

from __future__ import annotations

import re

_BSUID = re.compile(r"[A-Z]{2}\.[A-Za-z0-9]{1,128}", re.ASCII)
_PARENT_BSUID = re.compile(r"[A-Z]{2}\.ENT\.[A-Za-z0-9]{1,128}", re.ASCII)
PROBLEM = "must be a business-scoped user id: a two-letter country code, a dot, up to 128 letters or digits"


def is_bsuid(value: object) -> bool:
    """Whether ``value`` is a customer's BSUID (``US.1349…``), parent BSUIDs excluded."""
    return isinstance(value, str) and _BSUID.fullmatch(value) is not None


def is_parent_bsuid(value: object) -> bool:
    """Whether ``value`` is a parent BSUID (``US.ENT.1181…``)."""
    return isinstance(value, str) and _PARENT_BSUID.fullmatch(value) is not None
