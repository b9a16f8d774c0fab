"""Setup links for the agency (project key) and the client's hosted page and signup callback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.responses import RedirectResponse

from kirem.api.answers import deleted
from kirem.api.body import read_json_object
from kirem.api.deps import ContextDep, SessionDep, TenantDep
from kirem.api.idempotency import idempotent
from kirem.api.responses import ok
from kirem.api.route_docs import documented
from kirem.api.schemas import AUTHENTICATED, request_body, responses
from kirem.db.base import utcnow
from kirem.onboarding import service
from kirem.onboarding.models import SetupLink
from kirem.onboarding.page import message_page, setup_page
from kirem.onboarding.schemas import NewSetupLinkView, SetupLinkBody, SetupLinkView

router = APIRouter(prefix="/v1/setup-links", tags=["setup links"], responses=responses(*AUTHENTICATED))
pages = APIRouter(prefix="/setup", include_in_schema=False)


@router.post(
    "",
    **documented(
        "Create a Customer Setup Link (scale plan and up): its URL is shown only here",
        NewSetupLinkView,
        409,
        422,
        body=request_body(
            SetupLinkBody,
            {
                "client_name": "Toko Bunga Melati",
                "redirect_url": "https://agency.example/onboarded?client=42",
            },
        ),
        status=201,
        r422="The Idempotency-Key was already used with a different request",
    ),
)
async def create_link(request: Request, ctx: ContextDep, session: SessionDep, tenant: TenantDep) -> Response:
    async def execute() -> Response:
        body = await read_json_object(request)
        link, url = await service.create_link(ctx, session, tenant, body)
        await session.commit()
        return ok(service.link_view(ctx.sealer, link, utcnow(), url), "Setup link created successfully", 201)

    return await idempotent(request, ctx, tenant, execute)


@router.get("", **documented("List setup links, newest first", list[SetupLinkView]))
async def list_links(ctx: ContextDep, session: SessionDep, tenant: TenantDep) -> Response:
    now = utcnow()
    links = await service.list_links(session, tenant.project_id)
    return ok(
        [service.link_view(ctx.sealer, link, now) for link in links], "Setup links retrieved successfully"
    )


async def _link(link_id: str, session: SessionDep, tenant: TenantDep) -> SetupLink:
    """The path's setup link of the calling key's project (404 otherwise)."""
    return await service.get_link(session, tenant.project_id, link_id)


LinkDep = Annotated[SetupLink, Depends(_link)]


@router.get("/{link_id}", **documented("Get a setup link and its status", SetupLinkView, 404))
async def get_link(link: LinkDep, ctx: ContextDep) -> Response:
    return ok(service.link_view(ctx.sealer, link, utcnow()), "Setup link retrieved successfully")


@router.delete(
    "/{link_id}", **documented("Delete a setup link: its URL stops working at once", SetupLinkView, 404)
)
async def delete_link(link: LinkDep, ctx: ContextDep, session: SessionDep) -> Response:
    view = service.link_view(ctx.sealer, link, utcnow())
    return await deleted(session, link, view, "Setup link deleted successfully")


@pages.get("/callback")
async def signup_callback(request: Request, ctx: ContextDep) -> Response:
    """Where the page (or the sandbox popup) sends the browser with Meta's code and the new ids."""
    try:
        target = await service.complete_signup(ctx, dict(request.query_params))
    except service.PageError as exc:
        return message_page(exc.status, exc.title, exc.text)
    return RedirectResponse(target, status_code=303, headers={"Referrer-Policy": "no-referrer"})


@pages.get("/{secret}")
async def open_link(secret: str, ctx: ContextDep) -> Response:
    """The page a client opens: it runs Embedded Signup (or the sandbox's) for the link."""
    try:
        async with ctx.db.session() as session:
            link = await service.link_for_secret(session, secret)
    except service.PageError as exc:
        return message_page(exc.status, exc.title, exc.text)
    return setup_page(ctx.settings, link, secret)
