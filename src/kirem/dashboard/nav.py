"""The navigation of a project: every area's entry page, and which roles see it.

Each area module serves its pages under ``/dashboard/p/{project_id}/<path>``; the entry listed here
is the page the menu links to.
"""

from __future__ import annotations

STAFF = ("owner", "developer")
EVERYONE = ("owner", "developer", "agent")
AREAS = (
    "overview", "inbox", "keys", "channels", "webhooks", "deliveries", "logs", "analytics", "templates",
    "profile", "sandbox", "settings",
)  # fmt: skip
"""The menu in order; an area's entry page is ``<area>`` and its label ``nav.<area>``."""
AGENT_AREAS = ("inbox",)
"""The areas agents see too (the others are for owners and developers)."""


def _roles(area: str) -> tuple[str, ...]:
    return EVERYONE if area in AGENT_AREAS else STAFF


def project_url(project_id: str, path: str = "") -> str:
    return f"/dashboard/p/{project_id}/{path}".rstrip("/")


def landing(project_id: str, role: str) -> str:
    """Where opening a project leads: the overview, or the inbox for an agent."""
    return project_url(project_id, "inbox" if role == "agent" else "overview")


def nav_for(project_id: str, role: str, current_path: str) -> list[dict[str, object]]:
    items = []
    for area in AREAS:
        if role not in _roles(area):
            continue
        href = project_url(project_id, area)
        active = current_path == href or current_path.startswith(href + "/")
        items.append({"area": area, "href": href, "label_key": f"nav.{area}", "active": active})
    return items
