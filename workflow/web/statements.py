"""/accessibility, /privacy and /cookies: the statements every GOV.UK service links from its footer.

They need no sign-in (people read them before they have an account); a
signed-in person sees them with their navigation.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from workflow.web.auth import SignInNeeded, viewer
from workflow.web.pages import page

# The automated checker the browser tests run on every page (tests/web/test_every_page.py
# holds this to the version installed, so the statement never names one it did not pass).
AXE_VERSION = "4.12.1"
CHECKED_WIDTHS = (1280, 390)


def _signed_in(request: Request) -> None:
    try:
        viewer(request)
    except SignInNeeded:
        pass


def accessibility(request: Request) -> Response:
    _signed_in(request)
    return page(request, "accessibility.html", axe_version=AXE_VERSION, widths=CHECKED_WIDTHS)


def privacy(request: Request) -> Response:
    _signed_in(request)
    return page(request, "privacy.html")


def cookies(request: Request) -> Response:
    _signed_in(request)
    return page(request, "cookies.html")


ROUTES = [
    Route("/accessibility", accessibility, methods=["GET"]),
    Route("/privacy", privacy, methods=["GET"]),
    Route("/cookies", cookies, methods=["GET"]),
]
