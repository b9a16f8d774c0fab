"""The only code that speaks to Meta's Graph API (or to the sandbox standing in for it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from yarl import URL

from kirem.instruments import Instruments
from kirem.meta.ids import is_graph_id
from kirem.meta.transport import Exchange, client_headers


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


def media_url(value: object) -> bool:
    """Whether a media metadata ``url`` is one Kirem may download from (absolute http or https)."""
    if not isinstance(value, str):
        return False
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


class InvalidGraphId(ValueError):
    """An object id that is not Meta's (ASCII digits): refused before any request is built."""


def objects(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The objects of the list ``body[key]``; whatever else Meta (or the sandbox) put there is ignored."""
    value = body.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def first_object(body: dict[str, Any], key: str) -> dict[str, Any]:
    found = objects(body, key)
    return found[0] if found else {}


class GraphClient:
    """Graph API calls for one base URL (Meta's, or the sandbox's), with a per-call access token.

    ``direct``, the pooled transport under ``http`` if it is one (or the sandbox app it calls in
    process), takes the calls without query parameters or files (a send) straight to aiohttp (or
    the app), skipping httpx's request and response objects.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        version: str,
        metrics: Instruments | None = None,
        *,
        direct: Exchange | None = None,
    ) -> None:
        self.http = http
        self.version = version
        self.metrics = metrics or Instruments()
        self.direct = direct
        self._base_url = str(http.base_url).rstrip("/")
        self._headers = client_headers(http)

    async def aclose(self) -> None:
        await self.http.aclose()

    def _path(self, object_id: str, edge: str | None = None) -> str:
        """``/<version>/<object_id>[/<edge>]``; the id must be Meta's, and is escaped all the same."""
        if not is_graph_id(object_id):
            raise InvalidGraphId(f"not a Graph object id: {object_id!r}")
        parts = [self.version, quote(object_id, safe=""), *([edge] if edge else [])]
        return "/" + "/".join(parts)

    async def _call(self, method: str, path: str, token: str | None, **kwargs: Any) -> dict[str, Any]:
        last = path.rsplit("/", 1)[-1]
        with self.metrics.meta_call(f"{method} {'object' if last.isdigit() else last}"):
            return await self._request(method, path, token, **kwargs)

    async def _request(self, method: str, path: str, token: str | None, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        try:
            if (direct := self.direct) is not None and kwargs.keys() <= {"json"}:
                status, content = await self._exchange(direct, method, path, headers, kwargs.get("json"))
            else:
                response = await self.http.request(method, path, headers=headers, **kwargs)
                status, content = response.status_code, response.content
        except httpx.HTTPError as exc:
            raise MetaUnavailable(f"Meta API request failed: {exc.__class__.__name__}") from exc
        try:
            body = orjson.loads(content) if content else {}
        except orjson.JSONDecodeError as exc:
            raise MetaUnavailable(f"Meta API answered HTTP {status} with a non-JSON body") from exc
        if status >= 400 or (isinstance(body, dict) and "error" in body):
            error = body.get("error") if isinstance(body, dict) else None
            if not isinstance(error, dict):
                raise MetaUnavailable(f"Meta API answered HTTP {status} without an error body")
            raise MetaApiError(status if status >= 400 else 400, error)
        if not isinstance(body, dict):
            raise MetaUnavailable(f"Meta API answered HTTP {status} with a non-object body")
        return body

    async def _exchange(
        self, direct: Exchange, method: str, path: str, headers: dict[str, str], payload: Any
    ) -> tuple[int, bytes]:
        """The call through ``direct``, with the headers and JSON body httpx would have sent."""
        sent = [*self._headers, *headers.items()]
        body = None
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            sent.append(("Content-Type", "application/json"))
        url = URL(self._base_url + path, encoded=True)
        return await direct.exchange(method, url, sent, body, self.http.timeout)

    async def send_message(self, phone_number_id: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", self._path(phone_number_id, "messages"), token, json=body)

    async def upload_media(
        self, phone_number_id: str, token: str, *, filename: str, content: bytes, mime_type: str
    ) -> dict[str, Any]:
        files = {"file": (filename, content, mime_type)}
        data = {"messaging_product": "whatsapp", "type": mime_type}
        answer = await self._call("POST", self._path(phone_number_id, "media"), token, files=files, data=data)
        media_id = str(answer.get("id"))
        if not is_graph_id(media_id):
            raise MetaUnavailable("Meta API answered the upload without a media id")
        return {**answer, "id": media_id}

    async def media_info(
        self, media_id: str, token: str, phone_number_id: str | None = None
    ) -> dict[str, Any]:
        params = {"phone_number_id": phone_number_id} if phone_number_id else None
        return await self._call("GET", self._path(media_id), token, params=params)

    async def delete_media(
        self, media_id: str, token: str, phone_number_id: str | None = None
    ) -> dict[str, Any]:
        params = {"phone_number_id": phone_number_id} if phone_number_id else None
        return await self._call("DELETE", self._path(media_id), token, params=params)

    async def open_download(self, url: str, token: str) -> httpx.Response:
        """Open a streamed GET of a media URL from :meth:`media_info`; the caller closes it.

        The URL is Meta's own answer, so the channel's token goes with it — only to http(s) URLs.
        """
        if not media_url(url):
            raise MetaUnavailable("Meta API answered a media URL that is not http(s)")
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
        path = self._path(waba_id, "message_templates")
        while True:
            page = await self._call("GET", path, token, params=params)
            data = objects(page, "data")
            templates.extend(data)
            paging = member if isinstance(member := page.get("paging"), dict) else {}
            cursors = member if isinstance(member := paging.get("cursors"), dict) else {}
            after = cursors.get("after")
            if not isinstance(after, str) or not after or not paging.get("next") or not data:
                return templates
            params["after"] = after

    async def phone_number(self, phone_number_id: str, token: str, params: dict[str, str]) -> dict[str, Any]:
        """The phone number node (``display_phone_number``, ``verified_name``, … or ``fields``)."""
        return await self._call("GET", self._path(phone_number_id), token, params=params)

    async def template_page(self, waba_id: str, token: str, params: dict[str, str]) -> dict[str, Any]:
        """One page of the WABA's templates as Meta answers it (``data``, ``paging``, ``summary``)."""
        return await self._call("GET", self._path(waba_id, "message_templates"), token, params=params)

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

    async def waba(self, waba_id: str, token: str, params: dict[str, str]) -> dict[str, Any]:
        """The WhatsApp Business Account node (``id``, ``name``, … or ``fields``)."""
        return await self._call("GET", self._path(waba_id), token, params=params)

    async def subscribed_apps(self, waba_id: str, token: str) -> list[dict[str, Any]]:
        """The apps subscribed to the WABA's webhooks: each entry's ``whatsapp_business_api_data``."""
        body = await self._call("GET", self._path(waba_id, "subscribed_apps"), token)
        apps = (item.get("whatsapp_business_api_data") for item in objects(body, "data"))
        return [app for app in apps if isinstance(app, dict)]

    async def subscribe_app(self, waba_id: str, token: str) -> dict[str, Any]:
        """Subscribe the token's app to the WABA's webhooks."""
        return await self._call("POST", self._path(waba_id, "subscribed_apps"), token, json={})

    async def register_number(self, phone_number_id: str, token: str, pin: str) -> dict[str, Any]:
        """Register the number for Cloud API messaging, with its two-step verification PIN."""
        body = {"messaging_product": "whatsapp", "pin": pin}
        return await self._call("POST", self._path(phone_number_id, "register"), token, json=body)

    async def sync_smb_app_data(self, phone_number_id: str, token: str, sync_type: str) -> dict[str, Any]:
        """Start a coexistence sync of the WhatsApp Business app: ``smb_app_state_sync`` or ``history``."""
        body = {"messaging_product": "whatsapp", "sync_type": sync_type}
        return await self._call("POST", self._path(phone_number_id, "smb_app_data"), token, json=body)

    async def exchange_code(self, app_id: str, app_secret: str, code: str) -> str:
        """The business token for an Embedded Signup ``code`` (``GET /oauth/access_token``)."""
        params = {"client_id": app_id, "client_secret": app_secret, "code": code}
        answer = await self._call("GET", f"/{self.version}/oauth/access_token", None, params=params)
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise MetaUnavailable("Meta API answered the code exchange without an access token")
        return token
