"""Meta's message types as the Cloud API names them: what Kirem checks, routes and simulates."""

from __future__ import annotations

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
"""The types whose object names a file (``id`` or ``link``), with a caption except audio and sticker."""
INBOUND_TYPES = (
    "text",
    *MEDIA_TYPES,
    "location",
    "contacts",
    "interactive",
    "button",
    "reaction",
    "order",
    "system",
    "unsupported",
)
"""The types of the messages a customer sends, as a ``messages`` webhook carries them."""
