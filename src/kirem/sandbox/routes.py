"""The sandbox's HTTP surface: the Graph API subset Kirem uses, media downloads and the simulator.

Paths are relative to the mount point (``/sandbox``). ``{version}`` must look like ``v23.0``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from kirem.api.schemas import request_body
from kirem.db.on_demand import transaction_on_demand
from kirem.messaging.graph_schemas import (
    GraphSuccess,
    MediaOrNumber,
    ProfilePage,
    TemplatePage,
    graph_responses,
)
from kirem.messaging.schemas import (
    PROFILE_UPDATE_EXAMPLE,
    SEND_EXAMPLES,
    TEMPLATE_EXAMPLE,
    MediaId,
    MediaUpload,
    MessageSent,
    ProfileUpdate,
    SendMessage,
    TemplateCreate,
    TemplateCreated,
)
from kirem.meta.fields import requested_fields, select_fields
from kirem.sandbox.auth import authenticate, authorize_number, authorize_simulator, authorize_waba
from kirem.sandbox.coexistence import receive_contacts, receive_echo, receive_history
from kirem.sandbox.errors import (
    MetaError,
    invalid_application,
    invalid_parameter,
    json_response,
    required_parameter,
)
from kirem.sandbox.media import (
    check_download,
    check_upload,
    download_url,
    media_metadata,
    owned_media,
    store_media,
    upload_mime,
)
from kirem.sandbox.messages import accept_send, mark_read
from kirem.sandbox.onboarding import (
    SANDBOX_APP_ID,
    back_to_page,
    exchange_code,
    popup_page,
    register,
    sign_up,
    start_sync,
    subscribed_apps,
    waba_node,
)
from kirem.sandbox.profile import get_phone_number, get_profile, update_profile
from kirem.sandbox.runtime import SandboxRuntime
from kirem.sandbox.schemas import (
    BACK_TO_PAGE,
    FILE_ANSWER,
    INBOUND_EXAMPLE,
    POPUP_ANSWER,
    AccessToken,
    ContactsSynced,
    HistoryChunk,
    SimulatedContacts,
    SimulatedEcho,
    SimulatedHistory,
    SimulatedInbound,
    SubscribedApps,
    Wamid,
)
from kirem.sandbox.simulator import receive_inbound
from kirem.sandbox.templates import (
    apply_due_reviews,
    create_template,
    delete_templates,
    list_templates,
    schedule_review,
)

router = APIRouter(tags=["sandbox"], responses=graph_responses(400, 401, 404))

VERSION_RE = re.compile(r"^v\d+\.\d+$")
SUCCESS = {"success": True}


def _runtime(request: Request) -> SandboxRuntime:
    runtime: SandboxRuntime = request.app.state.sandbox
    return runtime


def _check_version(version: str) -> None:
    if not VERSION_RE.match(version):
        raise MetaError(400, 100, "Invalid version format. Use format like 'v23.0'")


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_parameter("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid_parameter("The request body must be a JSON object.")
    return body


def _simulator_access(request: Request) -> None:
    authorize_simulator(_runtime(request).settings, request)


async def _simulate(
    request: Request, receive: Callable[[AsyncSession, SandboxRuntime, Any], Awaitable[Any]]
) -> Response:
    """Let ``receive`` act on the JSON body in one transaction, then send the webhooks it queued."""
    runtime = _runtime(request)
    body = await _json_body(request)
    async with runtime.database.transaction() as session:
        answer = await receive(session, runtime, body)
    runtime.outbox.wake()
    return json_response(answer)


simulator = APIRouter(dependencies=[Depends(_simulator_access)], responses=graph_responses(403))
"""The customer and phone-app simulator: the operator token in production (see ``authorize_simulator``)."""


# --- simulator and media content (declared first: they are not Graph paths) -----------------------


@simulator.post(
    "/v1/inbound",
    summary="Simulate a customer's message",
    response_model=Wamid,
    openapi_extra=request_body(SimulatedInbound, INBOUND_EXAMPLE),
)
async def simulate_inbound(request: Request) -> Response:
    """Act as the customer: send any inbound message type to a sandbox number."""

    async def wamid(session: AsyncSession, runtime: SandboxRuntime, body: Any) -> dict[str, str]:
        return {"wamid": await receive_inbound(session, runtime, body)}

    return await _simulate(request, wamid)


@simulator.post(
    "/v1/echo",
    summary="Simulate the owner writing from the phone app",
    response_model=Wamid,
    openapi_extra=request_body(
        SimulatedEcho,
        {
            "phone_number_id": "106540352242922",
            "to": "6282360419136",
            "message": {"type": "text", "text": {"body": "Siap kak"}},
        },
    ),
)
async def simulate_echo(request: Request) -> Response:
    """Act as the owner on the phone app (coexistence): post an ``smb_message_echoes`` webhook."""
    return await _simulate(request, receive_echo)


@simulator.post(
    "/v1/history",
    summary="Simulate a chunk of the phone app's chat history",
    response_model=HistoryChunk,
    openapi_extra=request_body(
        SimulatedHistory,
        {
            "phone_number_id": "106540352242922",
            "threads": [{"id": "6282360419136", "messages": [{"type": "text", "text": {"body": "Halo"}}]}],
        },
    ),
)
async def simulate_history(request: Request) -> Response:
    """Share one chunk of the phone app's chat history (coexistence): post a ``history`` webhook."""
    return await _simulate(request, receive_history)


@simulator.post(
    "/v1/contacts",
    summary="Simulate contact changes in the phone app",
    response_model=ContactsSynced,
    openapi_extra=request_body(
        SimulatedContacts,
        {
            "phone_number_id": "106540352242922",
            "contacts": [
                {"action": "add", "contact": {"full_name": "Budi", "phone_number": "6282360419136"}}
            ],
        },
    ),
)
async def simulate_contacts(request: Request) -> Response:
    """Change the phone app's contacts (coexistence): post an ``smb_app_state_sync`` webhook."""
    return await _simulate(request, receive_contacts)


router.include_router(simulator)


@router.get("/media/{media_id}/content", response_class=Response, responses=FILE_ANSWER)
async def media_content(request: Request, media_id: str) -> Response:
    """The download URL handed out by ``GET /{version}/{media_id}``; needs the owner's token."""
    runtime = _runtime(request)
    async with runtime.database.session() as session:
        number = await authenticate(session, request)
        media = await owned_media(session, media_id=media_id, number=number, method="GET")
    params = request.query_params
    if not check_download(runtime.app_secret, media_id, params.get("ext"), params.get("hash"), runtime.now()):
        raise MetaError(404, 100, "(#100) The media URL is not valid or has expired. Retrieve a new URL.")
    headers = {}
    if media.filename:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(media.filename)}"
    return Response(media.data, media_type=media.mime_type, headers=headers)


def _signup_return(runtime: SandboxRuntime, redirect_uri: str) -> str:
    """Only Kirem's own setup-link callback may receive a code: no open redirect from the sandbox."""
    if not redirect_uri.startswith(runtime.settings.base_url + "/setup/"):
        raise invalid_parameter("redirect_uri must be this server's setup-link callback.")
    return redirect_uri


@router.get("/embedded-signup", response_class=HTMLResponse, responses=POPUP_ANSWER)
async def embedded_signup(request: Request) -> Response:
    """The Embedded Signup popup, emulated: the setup-link page opens it in sandbox mode."""
    runtime = _runtime(request)
    params = request.query_params
    for name in ("app_id", "state", "redirect_uri"):
        if not params.get(name):
            raise required_parameter(name)
    if params["app_id"] != SANDBOX_APP_ID:
        raise invalid_application()
    page = popup_page(
        app_id=params["app_id"],
        state=params["state"],
        redirect_uri=_signup_return(runtime, params["redirect_uri"]),
        coexistence=params.get("coexistence") == "true",
    )
    return HTMLResponse(page)


@router.post("/embedded-signup", status_code=303, response_class=RedirectResponse, responses=BACK_TO_PAGE)
async def finish_embedded_signup(request: Request) -> Response:
    """The popup's "Finish": a new number and WABA, and the browser sent back with a code."""
    runtime = _runtime(request)
    async with request.form(max_files=0, max_fields=10) as form:
        values = {k: v for k, v in form.items() if isinstance(v, str)}
    for name in ("state", "redirect_uri"):
        if not values.get(name):
            raise required_parameter(name)
    redirect_uri = _signup_return(runtime, values["redirect_uri"])
    name = (values.get("business_name") or "Sandbox Client").strip()[:100] or "Sandbox Client"
    async with runtime.database.transaction() as session:
        number, code = await sign_up(session, runtime.app_secret, name, runtime.now())
    return RedirectResponse(back_to_page(redirect_uri, values["state"], number, code), status_code=303)


# --- Graph API ----------------------------------------------------------------------------------


@router.get("/{version}/oauth/access_token", response_model=AccessToken)
async def oauth_access_token(request: Request, version: str) -> Response:
    """Exchange an Embedded Signup code for the business token (client id and secret of the app)."""
    _check_version(version)
    runtime = _runtime(request)
    async with runtime.database.transaction() as session:
        answer = await exchange_code(session, runtime.app_secret, dict(request.query_params), runtime.now())
    return json_response(answer)


@router.get("/{version}/{waba_id}/subscribed_apps", response_model=SubscribedApps)
async def read_subscribed_apps(request: Request, version: str, waba_id: str) -> Response:
    _check_version(version)
    async with _runtime(request).database.session() as session:
        number = await authorize_waba(session, request, waba_id)
    return json_response(subscribed_apps(number))


@router.post("/{version}/{waba_id}/subscribed_apps", response_model=GraphSuccess)
async def subscribe_app(request: Request, version: str, waba_id: str) -> Response:
    _check_version(version)
    async with _runtime(request).database.transaction() as session:
        number = await authorize_waba(session, request, waba_id)
        number.app_subscribed = True
    return json_response(SUCCESS)


@router.post("/{version}/{phone_number_id}/register", response_model=GraphSuccess)
async def register_number(request: Request, version: str, phone_number_id: str) -> Response:
    _check_version(version)
    async with _runtime(request).database.transaction() as session:
        number = await authorize_number(session, request, phone_number_id)
        answer = register(number, await _json_body(request))
    return json_response(answer)


@router.post("/{version}/{phone_number_id}/smb_app_data", response_model=GraphSuccess)
async def sync_smb_app_data(request: Request, version: str, phone_number_id: str) -> Response:
    _check_version(version)
    async with _runtime(request).database.session() as session:
        number = await authorize_number(session, request, phone_number_id)
    return json_response(start_sync(number, await _json_body(request)))


@router.post(
    "/{version}/{phone_number_id}/messages",
    response_model=MessageSent,
    openapi_extra=request_body(SendMessage, SEND_EXAMPLES["text"]),
)
async def send_message(request: Request, version: str, phone_number_id: str) -> Response:
    return await _answer_send(request, version, phone_number_id)


async def _answer_send(request: Request, version: str, phone_number_id: str) -> Response:
    _check_version(version)
    runtime = _runtime(request)
    async with transaction_on_demand(runtime.database.sessions) as session:  # none if all was cached
        number = await authorize_number(session, request, phone_number_id, runtime.lookups.numbers)
        body = await _json_body(request)
        if body.get("status") == "read":
            return json_response(await mark_read(session, number, body))
        accepted = await accept_send(session, runtime, number, body)
    await runtime.send_log.record(accepted.issued)
    runtime.outbox.wake()
    return json_response(accepted.answer)


@router.post(
    "/{version}/{phone_number_id}/media",
    response_model=MediaId,
    openapi_extra=request_body(MediaUpload, media_type="multipart/form-data"),
)
async def upload_media(request: Request, version: str, phone_number_id: str) -> Response:
    _check_version(version)
    runtime = _runtime(request)
    async with runtime.database.transaction() as session:
        number = await authorize_number(session, request, phone_number_id)
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            raise required_parameter("file")
        async with request.form(max_files=1, max_fields=20) as form:
            product = form.get("messaging_product")
            if product is None:
                raise required_parameter("messaging_product")
            if product != "whatsapp":
                raise MetaError(
                    400, 100, f'(#100) Param messaging_product must be one of {{WHATSAPP}} - got "{product}".'
                )
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise required_parameter("file")
            form_type = form.get("type")
            mime = upload_mime(
                form_type if isinstance(form_type, str) else None, upload.content_type, upload.filename
            )
            check_upload(mime, upload.size or 0)
            data = await upload.read()
            check_upload(mime, len(data))
            assert mime is not None
            media = await store_media(
                session,
                phone_number_id=number.phone_number_id,
                data=data,
                mime_type=mime,
                filename=upload.filename,
                now=runtime.now(),
            )
    return json_response({"id": media.id})


@router.get("/{version}/{phone_number_id}/whatsapp_business_profile", response_model=ProfilePage)
async def read_profile(request: Request, version: str, phone_number_id: str) -> Response:
    _check_version(version)
    async with _runtime(request).database.session() as session:
        number = await authorize_number(session, request, phone_number_id)
    return json_response(get_profile(number, request.query_params.get("fields")))


@router.post(
    "/{version}/{phone_number_id}/whatsapp_business_profile",
    response_model=GraphSuccess,
    openapi_extra=request_body(ProfileUpdate, {"messaging_product": "whatsapp", **PROFILE_UPDATE_EXAMPLE}),
)
async def write_profile(request: Request, version: str, phone_number_id: str) -> Response:
    _check_version(version)
    async with _runtime(request).database.transaction() as session:
        number = await authorize_number(session, request, phone_number_id)
        update_profile(number, await _json_body(request))
    return json_response(SUCCESS)


@router.get("/{version}/{waba_id}/message_templates", response_model=TemplatePage)
async def read_templates(request: Request, version: str, waba_id: str) -> Response:
    _check_version(version)
    runtime = _runtime(request)
    async with runtime.database.transaction() as session:
        await authorize_waba(session, request, waba_id)
        await apply_due_reviews(session, runtime.now(), waba_id=waba_id)
        page = await list_templates(session, waba_id=waba_id, params=request.query_params, url=request.url)
    runtime.outbox.wake()
    return json_response(page)


@router.post(
    "/{version}/{waba_id}/message_templates",
    response_model=TemplateCreated,
    openapi_extra=request_body(TemplateCreate, TEMPLATE_EXAMPLE),
)
async def add_template(request: Request, version: str, waba_id: str) -> Response:
    _check_version(version)
    runtime = _runtime(request)
    async with runtime.database.transaction() as session:
        await authorize_waba(session, request, waba_id)
        template = await create_template(
            session,
            waba_id=waba_id,
            body=await _json_body(request),
            now=runtime.now(),
            review_seconds=runtime.settings.sandbox_review_seconds,
        )
    assert template.review_at is not None
    schedule_review(runtime, template.id, template.review_at)
    return json_response({"id": template.id, "status": template.status, "category": template.category})


@router.delete("/{version}/{waba_id}/message_templates", response_model=GraphSuccess)
async def remove_templates(request: Request, version: str, waba_id: str) -> Response:
    _check_version(version)
    async with _runtime(request).database.transaction() as session:
        await authorize_waba(session, request, waba_id)
        await delete_templates(
            session,
            waba_id=waba_id,
            name=request.query_params.get("name"),
            hsm_id=request.query_params.get("hsm_id"),
        )
    return json_response(SUCCESS)


@router.get("/{version}/{object_id}", response_model=MediaOrNumber)
async def read_object(request: Request, version: str, object_id: str) -> Response:
    """A media object (its metadata and download URL), or the token's own phone number or WABA node."""
    _check_version(version)
    runtime = _runtime(request)
    async with runtime.database.session() as session:
        number = await authenticate(session, request)
        if object_id == number.phone_number_id:
            return json_response(get_phone_number(number, request.query_params.get("fields")))
        if object_id == number.waba_id:
            fields = requested_fields(request.query_params.get("fields"))
            return json_response(select_fields(waba_node(number), fields))
        media = await owned_media(
            session,
            media_id=object_id,
            number=number,
            method="GET",
            phone_number_id=request.query_params.get("phone_number_id"),
        )
    url = download_url(runtime.settings, runtime.app_secret, media.id, runtime.now())
    fields = requested_fields(request.query_params.get("fields"))
    return json_response(select_fields(media_metadata(media, url), fields))


@router.delete("/{version}/{object_id}", response_model=GraphSuccess)
async def delete_object(request: Request, version: str, object_id: str) -> Response:
    _check_version(version)
    async with _runtime(request).database.transaction() as session:
        number = await authenticate(session, request)
        media = await owned_media(
            session,
            media_id=object_id,
            number=number,
            method="DELETE",
            phone_number_id=request.query_params.get("phone_number_id"),
        )
        await session.delete(media)
    return json_response(SUCCESS)


class SendsAtEdge:
    """Serves ``POST /{version}/{phone_number_id}/messages`` (the Graph call of every sandbox send)
    as :func:`send_message` does, ahead of FastAPI's routing and dependency solving; any other
    request goes on to ``app``. Sits inside the error guard, which answers unexpected failures."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = _send_params(scope) if scope["type"] == "http" and scope["method"] == "POST" else None
        if params is None:
            await self.app(scope, receive, send)
            return
        version, phone_number_id = params
        try:
            response = await _answer_send(Request(scope, receive, send), version, phone_number_id)
        except MetaError as error:
            response = error.response()
        await response(scope, receive, send)


def _send_params(scope: Scope) -> tuple[str, str] | None:
    """The version and number of a send's path inside the mounted app, matched as Starlette matches
    ``/{version}/{phone_number_id}/messages`` (each parameter one non-empty segment)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root + "/"):
        path = path[len(root) :]
    parts = path.split("/")
    if len(parts) != 4 or parts[0] or not parts[1] or not parts[2] or parts[3] != "messages":
        return None
    return parts[1], parts[2]
