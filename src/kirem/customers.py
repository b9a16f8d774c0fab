"""A WhatsApp customer's identifiers: a phone number and/or a business-scoped user id (BSUID).

Meta names a customer by phone number (``wa_id``), by BSUID (``user_id``), or both; a customer
with a username may come with no phone number at all. Whatever a webhook or a send shows is read
into one :class:`CustomerIds`, and Kirem's conversations, contacts and logs key a customer by
whichever of the two is known, merging them when both are seen together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kirem.bsuid import is_bsuid, is_parent_bsuid
from kirem.phones import digits

BSUID_LENGTH = 140
"""Room for the longest BSUID or parent BSUID (``US.ENT.`` and 128 letters or digits)."""
USERNAME_LENGTH = 100
"""Usernames are short (Meta: like business usernames); longer values are kept cut."""


@dataclass(frozen=True)
class CustomerIds:
    phone: str | None = None
    """The customer's number as a WhatsApp id (ASCII digits), when Meta shares it."""
    user_id: str | None = None
    """The customer's BSUID (``US.1349…``)."""
    parent_user_id: str | None = None
    """The customer's parent BSUID (``US.ENT.1181…``), when the business has them."""
    username: str | None = None
    """The customer's WhatsApp username, when they have one."""

    @property
    def known(self) -> bool:
        """Whether the customer can be found or addressed: a phone number or a BSUID."""
        return bool(self.phone or self.user_id)

    @property
    def address(self) -> str:
        """How logs name the customer: the phone number when known, else the BSUID."""
        return self.phone or self.user_id or ""


def customer_ids(
    phone: Any = None, user_id: Any = None, parent_user_id: Any = None, username: Any = None
) -> CustomerIds:
    """Identifiers as Meta sent them, each kept only when it has its shape (a phone's digits, a BSUID)."""
    number = ""
    if isinstance(phone, int) and not isinstance(phone, bool):
        number = str(phone)
    elif isinstance(phone, str) and not is_bsuid(phone):
        number = digits(phone)
    name = username.strip()[:USERNAME_LENGTH] if isinstance(username, str) else ""
    return CustomerIds(
        phone=number[:32] or None,
        user_id=user_id if is_bsuid(user_id) else None,
        parent_user_id=parent_user_id if is_parent_bsuid(parent_user_id) else None,
        username=name or None,
    )


def identifier(value: str) -> CustomerIds:
    """A customer named by one string, as filters and sends take it: a BSUID, else a phone number.

    Letters make a value neither (``us.123`` is a mistyped BSUID, not the number 123): nothing known.
    """
    value = value.strip()
    if is_bsuid(value):
        return CustomerIds(user_id=value)
    if any(ch.isalpha() for ch in value):
        return CustomerIds()
    return customer_ids(phone=value)
