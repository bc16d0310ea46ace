"""The pages the API function serves to a browser, without a key: the web UI (``/ui``) and the
API reference (``/docs``, Swagger UI from files shipped in the ``fastapi-offline`` package, so
it renders offline and under a strict content security policy). Everything these pages call
needs a key as before.

Every file has its own route, also listed in template.yaml: API Gateway answers any other path
itself. Pages refer to their files and to the API by relative URLs, so they work under a stage
prefix (``https://host/v1/ui``) as well as at the root.

Unlike the JSON API's per-caller answers (``no-store``), these files are the same for everyone
and change only with a deploy: scripts and stylesheets may be cached for an hour (Swagger UI's
bundle alone is over 1 MB); the pages themselves are revalidated on every visit (``no-cache``),
so a deploy's new page is seen at once.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import Response

from .headers import DOCS_CSP, UI_CSP

UI_DIR = Path(__file__).parent / "ui"
SWAGGER_DIR = Path(fastapi_offline.__file__).parent / "static"

HTML, JS, CSS = "text/html; charset=utf-8", "text/javascript; charset=utf-8", "text/css; charset=utf-8"
ASSET_CACHE = "public, max-age=3600"
PAGE_CACHE = "no-cache"

# path -> (file, media type, content security policy of a page, or None for the default)
FILES: dict[str, tuple[Path, str, str | None]] = {
    "/ui": (UI_DIR / "index.html", HTML, UI_CSP),
    "/ui/app.js": (UI_DIR / "app.js", JS, None),
    "/ui/app.css": (UI_DIR / "app.css", CSS, None),
    "/docs": (UI_DIR / "docs.html", HTML, DOCS_CSP),
    "/docs/init.js": (UI_DIR / "docs.js", JS, None),
    "/docs/docs.css": (UI_DIR / "docs.css", CSS, None),
    "/docs/swagger-ui.css": (SWAGGER_DIR / "swagger-ui.css", CSS, None),
    "/docs/swagger-ui-bundle.js": (SWAGGER_DIR / "swagger-ui-bundle.js", JS, None),
}

router = APIRouter(include_in_schema=False)


@cache
def _content(path: Path) -> bytes:
    return path.read_bytes()


def _serve(path: Path, media_type: str, csp: str | None):  # type: ignore[no-untyped-def]
    headers = {"Cache-Control": PAGE_CACHE if media_type == HTML else ASSET_CACHE}
    if csp:
        headers["Content-Security-Policy"] = csp

    async def serve() -> Response:
        return Response(_content(path), media_type=media_type, headers=headers)

    return serve


for _route, (_file, _media_type, _csp) in FILES.items():
    router.add_api_route(_route, _serve(_file, _media_type, _csp), methods=["GET"], name=f"file:{_route}")
