"""A one-line readable form of any WhatsApp message, for timelines and agents."""

from __future__ import annotations

from typing import Any

MEDIA = ("image", "video", "audio", "document", "sticker")


def _obj(message: dict[str, Any], key: str) -> dict[str, Any]:
    value = message.get(key)
    return value if isinstance(value, dict) else {}


def preview(message: dict[str, Any]) -> str:
    """``text.body`` for text; a caption, a button title or a bracketed label for the rest."""
    kind = str(message.get("type") or "text")
    body = _obj(message, kind)
    if kind == "text":
        return str(body.get("body") or "")
    if kind in MEDIA:
        return str(body.get("caption") or f"[{kind}]")
    if kind == "interactive":
        for reply in ("button_reply", "list_reply", "nfm_reply"):
            chosen = body.get(reply)
            if isinstance(chosen, dict):
                return str(chosen.get("title") or chosen.get("id") or f"[{reply}]")
        text = _obj(body, "body").get("text")
        return str(text) if text else "[interactive]"
    if kind == "button":
        return str(body.get("text") or body.get("payload") or "[button]")
    if kind == "template":
        return f"[template {body.get('name', '')}]".replace(" ]", "]")
    if kind == "reaction":
        return str(body.get("emoji") or "[reaction removed]")
    if kind == "location":
        return str(
            body.get("name")
            or body.get("address")
            or f"[location {body.get('latitude')},{body.get('longitude')}]"
        )
    if kind == "contacts":
        contacts = message.get("contacts") or []
        names = [str(c.get("name", {}).get("formatted_name", "")) for c in contacts if isinstance(c, dict)]
        return f"[contacts {', '.join(n for n in names if n)}]".replace(" ]", "]")
    return f"[{kind}]"
