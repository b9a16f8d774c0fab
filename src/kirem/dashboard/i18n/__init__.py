"""English and Indonesian: one message module per area (``i18n/<area>.py`` with ``MESSAGES``).

Every module of this package is gathered at import; a key must exist in both languages
(tests/unit/test_dashboard_i18n.py checks it). ``t("key", **params)`` formats with ``str.format``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

LANGUAGES = ("en", "id")
DEFAULT = "en"
LANGUAGE_NAMES = {"en": "English", "id": "Bahasa Indonesia"}

Translate = Callable[..., str]


def _gather() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for lang in LANGUAGES:
            merged[lang].update(module.MESSAGES.get(lang, {}))
    return merged


CATALOG = _gather()


def translator(lang: str) -> Translate:
    messages = CATALOG.get(lang, CATALOG[DEFAULT])
    fallback = CATALOG[DEFAULT]

    def t(key: str, **params: object) -> str:
        text = messages.get(key) or fallback.get(key) or key
        return text.format(**params) if params else text

    return t


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The ``kirem_lang`` cookie, else the first supported language of Accept-Language, else English."""
    if cookie in LANGUAGES:
        return cookie
    ranked: list[tuple[float, str]] = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((quality, tag.strip().lower().split("-")[0]))
    for _, lang in sorted(ranked, key=lambda item: -item[0]):
        if lang in LANGUAGES:
            return lang
    return DEFAULT
