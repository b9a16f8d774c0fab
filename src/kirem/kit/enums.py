"""Statuses and event types as StrEnums: each member is its wire and database string.

A member compares equal to its string (``DeliveryStatus.PENDING == "pending"``), serialises as it
and is stored as it, so columns stay ``String`` and nothing on the wire changes.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """Kirem's event types: what targets subscribe to and rules match."""

    MESSAGES_RECEIVED = "messages.received"
    MESSAGES_STATUS = "messages.status"
    MESSAGES_ECHO = "messages.echo"
    HISTORY_SYNC = "history.sync"
    CONTACTS_SYNC = "contacts.sync"
    TEMPLATES_STATUS = "templates.status"
    ACCOUNT_UPDATE = "account.update"
    TARGETS_DISABLED = "targets.disabled"
    SLA_BREACHED = "sla.breached"
    SLA_RECOVERED = "sla.recovered"
    CHANNELS_CONNECTED = "channels.connected"


class RawEventStatus(StrEnum):
    """A stored Meta webhook: ``pending`` until processed, ``unrouted`` without a channel, ``invalid``."""

    PENDING = "pending"
    PROCESSED = "processed"
    UNROUTED = "unrouted"
    INVALID = "invalid"


class DeliveryStatus(StrEnum):
    """A delivery: waiting (``pending``), ``succeeded``, ``failed`` (exhausted or 410), ``skipped``."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class MessageStatus(StrEnum):
    """A logged message, in the order an outbound one advances; ``received`` for inbound ones."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    RECEIVED = "received"


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    ON_HOLD = "on_hold"


class ChannelStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
