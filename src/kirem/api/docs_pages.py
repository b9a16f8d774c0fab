"""/docs (Swagger UI) and /redoc (ReDoc) served from files of a PyPI package, so an offline
install shows them too: the pages load no script, style sheet, font or image from another host."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

ASSETS = Path(fastapi_offline.__file__).parent / "static"
"""Swagger UI's bundle and style sheet, ReDoc's standalone bundle and a favicon."""
ASSETS_PATH = "/docs-assets"
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
"""The one address ReDoc's bundle loads by itself (its menu's logo): answered by the local favicon."""
SWAGGER_PARAMETERS = {
    "validatorUrl": None,  # Swagger UI would otherwise ask an online validator about the document
    "persistAuthorization": True,
}


@cache
def redoc_bundle() -> bytes:
    """ReDoc's bundle with its logo read from beside the page (``/docs-assets/favicon.png``)."""
    bundle = (ASSETS / "redoc.standalone.js").read_bytes()
    return bundle.replace(REDOC_LOGO, ASSETS_PATH.lstrip("/").encode() + b"/favicon.png")


def _asset(request: Request, name: str) -> str:
    """A file of :data:`ASSETS`, addressed below the app's root path (a proxy's prefix)."""
    return f"{request.scope.get('root_path', '')}{ASSETS_PATH}/{name}"


def install_docs_pages(app: FastAPI) -> None:
    """Serve the two pages and their assets; ``app`` is built with ``docs_url=None, redoc_url=None``."""

    @app.get(f"{ASSETS_PATH}/redoc.standalone.js", include_in_schema=False)
    async def redoc_script() -> Response:
        return Response(redoc_bundle(), media_type="text/javascript")

    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} API"

    def document(request: Request) -> str:
        return f"{request.scope.get('root_path', '')}{openapi_url}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=document(request),
            title=title,
            swagger_js_url=_asset(request, "swagger-ui-bundle.js"),
            swagger_css_url=_asset(request, "swagger-ui.css"),
            swagger_favicon_url=_asset(request, "favicon.png"),
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=document(request),
            title=title,
            redoc_js_url=_asset(request, "redoc.standalone.js"),
            redoc_favicon_url=_asset(request, "favicon.png"),
            with_google_fonts=False,
        )
