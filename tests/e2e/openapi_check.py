"""Live answers checked against the published OpenAPI document.

:class:`Contract` finds the operation of a request (method and path matched against the
document's path templates) and checks its answer: the status is one the operation declares, the
media type is one that status declares, and a JSON body validates against that status's schema
(``$ref``s resolved in the document's ``components``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from jsonschema import Draft202012Validator

VERSION = r"v?\d+\.\d+"
"""Graph versions: ``/v{version}`` takes ``23.0``, the sandbox's ``/{version}`` takes ``v23.0``."""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join(
        (VERSION if part == "{version}" else "[^/]+") if part.startswith("{") else re.escape(part)
        for part in parts
    )
    return re.compile(f"^{regex}$")


class Contract:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.components = document.get("components", {})
        by_literal = sorted(document["paths"], key=lambda t: -len(re.sub(r"\{[^}]+\}", "", t)))
        self.templates = [(template, _pattern(template)) for template in by_literal]

    def operations(self) -> list[Operation]:
        return [
            Operation(method, path, spec)
            for path, item in self.document["paths"].items()
            for method, spec in item.items()
        ]

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation serving ``method path``: the most literal template that matches it."""
        for template, pattern in self.templates:
            if pattern.match(path):
                spec = self.document["paths"][template].get(method.lower())
                if spec is not None:
                    return Operation(method.lower(), template, spec)
        return None

    def problems(self, response: httpx.Response) -> list[str]:
        """What in ``response`` the document does not say (nothing for an answer it describes)."""
        request = response.request
        operation = self.operation(request.method, request.url.path)
        if operation is None:
            return []  # a page or route the document leaves out by design (/setup/…, /metrics)
        declared = operation.spec.get("responses", {})
        status = str(response.status_code)
        entry = declared.get(status) or declared.get(f"{status[0]}XX") or declared.get("default")
        if entry is None:
            return [f"{operation.name}: status {status} is not declared ({', '.join(declared)})"]
        content = entry.get("content")
        if not content:
            return []
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        is_file = "application/octet-stream" in content and "json" not in media_type
        if media_type not in content and not is_file:
            return [f"{operation.name} {status}: {media_type!r} is not declared ({', '.join(content)})"]
        schema = content.get(media_type, {}).get("schema")
        if schema is None or "json" not in media_type:
            return []
        validator = Draft202012Validator({**schema, "components": self.components})
        errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.absolute_path))
        where = [("/".join(map(str, error.absolute_path)) or "body", error.message[:300]) for error in errors]
        return [f"{operation.name} {status}: {at}: {message}" for at, message in where[:5]]
