"""Phone numbers: one reading of a customer's number wherever one comes in.

People type digits in their own script (Arabic-Indic ``٦٢٨``, Persian, Devanagari, full-width
forms), and Python's ``str.isdigit()``, ``int()`` and the regex ``\\d`` accept them all, so the
same customer could become two conversations. Every number Kirem takes — a send's ``to``, a rule's
``senders``, the ``recipient`` and ``customer`` filters, conversations, the sandbox's customers —
is read through :func:`ascii_digits` first: each decimal digit of any script becomes its ASCII digit,
so Meta, the database and the matcher only ever see ``0-9``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

ASCII_DIGITS = frozenset("0123456789")


def ascii_digits(text: str) -> str:
    """``text`` with every Unicode decimal digit (category Nd) as its ASCII digit; the rest as is."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def digits(number: str) -> str:
    """A number as a WhatsApp id: its digits only, in ASCII (``+62 812-٣٤٥`` → ``62812345``)."""
    return "".join(ch for ch in ascii_digits(number) if ch in ASCII_DIGITS)


def is_ascii_number(value: str) -> bool:
    """Whether ``value`` is a non-empty run of ASCII digits (Meta's ids, Unix times)."""
    return bool(value) and all(ch in ASCII_DIGITS for ch in value)


def with_ascii_recipient(body: Any) -> Any:
    """A send body whose ``to`` has ASCII digits (Meta expects them); anything else unchanged."""
    if isinstance(body, dict) and isinstance(body.get("to"), str) and not body["to"].isascii():
        return {**body, "to": ascii_digits(body["to"])}
    return body
