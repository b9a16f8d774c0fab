"""The only code that speaks to Meta's Graph API (or to the sandbox standing in for it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from kirem.metrics import Metrics


@dataclass
class MetaApiError(Exception):
    """Meta answered with its error body; ``error`` is the body's ``error`` object."""

    http_status: int
    error: dict[str, Any]

    @property
    def code(self) -> int | None:
        code = self.error.get("code")
        return code if isinstance(code, int) else None

    @property
    def message(self) -> str:
        return str(self.error.get("message") or "Meta API error")


class MetaUnavailable(Exception):
    """Meta could not be reached, timed out, or answered something that is not its API."""


class GraphClient:
    """Graph API calls for one base URL (Meta's, or the sandbox's), with a per-call access token."""

    def __init__(self, http: httpx.AsyncClient, version: str, metrics: Metrics | None = None) -> None:
        self.http = http
        self.version = version
        self.metrics = metrics or Metrics()

    async def aclose(self) -> None:
        await self.http.aclose()

    def _path(self, *parts: str) -> str:
        return "/" + "/".join([self.version, *parts])

    async def _call(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        last = path.rsplit("/", 1)[-1]
        with self.metrics.meta_call(f"{method} {'object' if last.isdigit() else last}"):
            return await self._request(method, path, token, **kwargs)

    async def _request(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise MetaUnavailable(f"Meta API request failed: {exc.__class__.__name__}") from exc
        try:
            body = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError as exc:
            raise MetaUnavailable(
                f"Meta API answered HTTP {response.status_code} with a non-JSON body"
            ) from exc
        if response.status_code >= 400 or (isinstance(body, dict) and "error" in body):
            error = body.get("error") if isinstance(body, dict) else None
            if not isinstance(error, dict):
                raise MetaUnavailable(f"Meta API answered HTTP {response.status_code} without an error body")
            raise MetaApiError(response.status_code if response.status_code >= 400 else 400, error)
        return body

    async def send_message(self, phone_number_id: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", self._path(phone_number_id, "messages"), token, json=body)

    async def upload_media(
        self, phone_number_id: str, token: str, *, filename: str, content: bytes, mime_type: str
    ) -> dict[str, Any]:
        files = {"file": (filename, content, mime_type)}
        data = {"messaging_product": "whatsapp", "type": mime_type}
        return await self._call("POST", self._path(phone_number_id, "media"), token, files=files, data=data)

    async def media_info(
        self, media_id: str, token: str, phone_number_id: str | None = None
    ) -> dict[str, Any]:
        params = {"phone_number_id": phone_number_id} if phone_number_id else None
        return await self._call("GET", self._path(media_id), token, params=params)

    async def open_download(self, url: str, token: str) -> httpx.Response:
        """Open a streamed GET of a media URL from :meth:`media_info`; the caller closes it."""
        request = self.http.build_request("GET", url, headers={"Authorization": f"Bearer {token}"})
        try:
            response = await self.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise MetaUnavailable(f"media download failed: {exc.__class__.__name__}") from exc
        if response.status_code >= 400:
            await response.aclose()
            raise MetaUnavailable(f"media download answered HTTP {response.status_code}")
        return response

    async def list_templates(self, waba_id: str, token: str, **filters: Any) -> list[dict[str, Any]]:
        """Every template of the WABA (following Meta's cursor paging), optionally filtered."""
        params = {k: v for k, v in filters.items() if v is not None}
        params.setdefault("limit", 100)
        templates: list[dict[str, Any]] = []
        while True:
            page = await self._call("GET", self._path(waba_id, "message_templates"), token, params=params)
            templates.extend(page.get("data") or [])
            after = ((page.get("paging") or {}).get("cursors") or {}).get("after")
            if not after or not (page.get("paging") or {}).get("next") or not page.get("data"):
                return templates
            params["after"] = after

    async def create_template(self, waba_id: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", self._path(waba_id, "message_templates"), token, json=body)

    async def delete_template(self, waba_id: str, token: str, name: str) -> dict[str, Any]:
        return await self._call(
            "DELETE", self._path(waba_id, "message_templates"), token, params={"name": name}
        )

    async def get_profile(self, phone_number_id: str, token: str, fields: str) -> dict[str, Any]:
        return await self._call(
            "GET", self._path(phone_number_id, "whatsapp_business_profile"), token, params={"fields": fields}
        )

    async def update_profile(self, phone_number_id: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = {"messaging_product": "whatsapp", **body}
        return await self._call(
            "POST", self._path(phone_number_id, "whatsapp_business_profile"), token, json=payload
        )
