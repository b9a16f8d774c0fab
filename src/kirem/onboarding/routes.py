"""Setup links for the agency (project key) and the client's hosted page and signup callback."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse

from kirem.api.body import read_json_object
from kirem.api.deps import get_context, get_session, get_tenant
from kirem.api.idempotency import idempotent
from kirem.api.responses import ok
from kirem.api.schemas import AUTHENTICATED, Envelope, request_body, responses
from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.onboarding import service
from kirem.onboarding.page import message_page, setup_page
from kirem.onboarding.schemas import NewSetupLinkView, SetupLinkBody, SetupLinkView
from kirem.tenancy.service import Tenant

router = APIRouter(prefix="/v1/setup-links", tags=["setup links"], responses=responses(*AUTHENTICATED))
pages = APIRouter(prefix="/setup", include_in_schema=False)


@router.post(
    "",
    summary="Create a Customer Setup Link (scale plan and up): its URL is shown only here",
    status_code=201,
    response_model=Envelope[NewSetupLinkView],
    responses=responses(
        400, 409, 413, 415, 422, r422="The Idempotency-Key was already used with a different request"
    ),
    openapi_extra=request_body(
        SetupLinkBody,
        {"client_name": "Toko Bunga Melati", "redirect_url": "https://agency.example/onboarded?client=42"},
    ),
)
async def create_link(
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    async def execute() -> Response:
        body = await read_json_object(request)
        link, url = await service.create_link(ctx, session, tenant, body)
        await session.commit()
        return ok(service.link_view(ctx.sealer, link, utcnow(), url), "Setup link created successfully", 201)

    return await idempotent(request, ctx, tenant, execute)


@router.get("", summary="List setup links, newest first", response_model=Envelope[list[SetupLinkView]])
async def list_links(
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    now = utcnow()
    links = await service.list_links(session, tenant.project_id)
    return ok(
        [service.link_view(ctx.sealer, link, now) for link in links], "Setup links retrieved successfully"
    )


@router.get(
    "/{link_id}",
    summary="Get a setup link and its status",
    response_model=Envelope[SetupLinkView],
    responses=responses(404),
)
async def get_link(
    link_id: str,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    link = await service.get_link(session, tenant.project_id, link_id)
    return ok(service.link_view(ctx.sealer, link, utcnow()), "Setup link retrieved successfully")


@router.delete(
    "/{link_id}",
    summary="Delete a setup link: its URL stops working at once",
    response_model=Envelope[SetupLinkView],
    responses=responses(404),
)
async def delete_link(
    link_id: str,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    link = await service.get_link(session, tenant.project_id, link_id)
    view = service.link_view(ctx.sealer, link, utcnow())
    await session.delete(link)
    await session.commit()
    return ok(view, "Setup link deleted successfully")


@pages.get("/callback")
async def signup_callback(request: Request, ctx: AppContext = Depends(get_context)) -> Response:
    """Where the page (or the sandbox popup) sends the browser with Meta's code and the new ids."""
    try:
        target = await service.complete_signup(ctx, dict(request.query_params))
    except service.PageError as exc:
        return message_page(exc.status, exc.title, exc.text)
    return RedirectResponse(target, status_code=303, headers={"Referrer-Policy": "no-referrer"})


@pages.get("/{secret}")
async def open_link(secret: str, ctx: AppContext = Depends(get_context)) -> Response:
    """The page a client opens: it runs Embedded Signup (or the sandbox's) for the link."""
    try:
        async with ctx.db.session() as session:
            link = await service.link_for_secret(session, secret)
    except service.PageError as exc:
        return message_page(exc.status, exc.title, exc.text)
    return setup_page(ctx.settings, link, secret)
