"""Meta's object ids (phone numbers, WABAs, media, templates): ASCII digits, nothing else.

They are the only caller-influenced text Kirem puts into a Graph path, so anything else is refused
before a request is built — a ``..``, ``/``, ``?`` or control character would reach another Graph
path (or split the request) with the channel's token.
"""

from __future__ import annotations

import re

_GRAPH_ID = re.compile(r"[0-9]{1,64}")


def is_graph_id(value: object) -> bool:
    return isinstance(value, str) and _GRAPH_ID.fullmatch(value) is not None
