"""The navigation of a project: every area's entry page, and which roles see it.

Each area module serves its pages under ``/dashboard/p/{project_id}/<path>``; the entry listed here
is the page the menu links to.
"""

from __future__ import annotations

from dataclasses import dataclass

STAFF = ("owner", "developer")
EVERYONE = ("owner", "developer", "agent")


@dataclass(frozen=True)
class NavEntry:
    area: str
    path: str
    label_key: str
    roles: tuple[str, ...]


NAV = (
    NavEntry("overview", "overview", "nav.overview", STAFF),
    NavEntry("inbox", "inbox", "nav.inbox", EVERYONE),
    NavEntry("keys", "keys", "nav.keys", STAFF),
    NavEntry("channels", "channels", "nav.channels", STAFF),
    NavEntry("webhooks", "webhooks", "nav.webhooks", STAFF),
    NavEntry("deliveries", "deliveries", "nav.deliveries", STAFF),
    NavEntry("logs", "logs", "nav.logs", STAFF),
    NavEntry("analytics", "analytics", "nav.analytics", STAFF),
    NavEntry("templates", "templates", "nav.templates", STAFF),
    NavEntry("profile", "profile", "nav.profile", STAFF),
    NavEntry("sandbox", "sandbox", "nav.sandbox", STAFF),
    NavEntry("settings", "settings", "nav.settings", STAFF),
)


def project_url(project_id: str, path: str = "") -> str:
    return f"/dashboard/p/{project_id}/{path}".rstrip("/")


def landing(project_id: str, role: str) -> str:
    """Where opening a project leads: the overview, or the inbox for an agent."""
    return project_url(project_id, "inbox" if role == "agent" else "overview")


def nav_for(project_id: str, role: str, current_path: str) -> list[dict[str, object]]:
    items = []
    for entry in NAV:
        if role not in entry.roles:
            continue
        href = project_url(project_id, entry.path)
        active = current_path == href or current_path.startswith(href + "/")
        items.append({"area": entry.area, "href": href, "label_key": entry.label_key, "active": active})
    return items
