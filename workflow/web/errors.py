"""Refusals and failures as pages: the service's own words, never a traceback.

A refused form is shown again by its own route with an error summary at the
top, each line linked to the field at fault (`problems_of`). What reaches the
handlers here is the rest: pages that are not found or not for this person
(403, 404), a form without a valid CSRF token (403), and anything unexpected
(500, logged with its traceback, shown in plain English).
"""

from __future__ import annotations

import logging
from typing import Mapping
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from workflow.errors import (
    CaseworkError,
    GuardFailed,
    Malformed,
    ReasonRequired,
    RuleViolation,
    http_status,
)
from workflow.logs import event
from workflow.storage.db import fault_of
from workflow.storage.dbfaults import is_database_error
from workflow.web.auth import Forbidden, SignInNeeded, viewer
from workflow.web.labels import reason_missing
from workflow.web.pages import Problem, page

log = logging.getLogger("casework.web")


class CsrfRefused(Exception):
    """A form posted without the token of this session: refused, nothing changed."""


class SeeOther(Exception):
    """This page is not the one to show: the person is sent to `url` instead (303)."""

    def __init__(self, url: str):
        super().__init__(url)
        self.url = url


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


def problems_of(
    err: CaseworkError, fields: Mapping[str, str] | None = None, *, general: str = ""
) -> list[Problem]:
    """The lines of an error summary for `err`, each linked to the field at fault.

    `fields` maps the names services use (`reason`, `spend_to_date`) to the
    ids of the form's elements. Service messages name a field as `field: what
    is wrong` (documents, returns); a missing reason links to the reason box;
    anything else links to `general`, the form or section it came from.
    """
    known = dict(fields or {})
    if isinstance(err, ReasonRequired):
        return [
            Problem(
                reason_missing(err.trigger, err.words, err.ref),
                known.get("reason", general),
            )
        ]
    # (line of the summary, the field it may be about)
    lines: list[tuple[str, str]]
    if isinstance(err, Malformed):
        lines = [
            (p if ":" in p else f"{err.what} was refused: {p}", p.partition(":")[0].strip())
            for p in err.problems
        ]
    elif isinstance(err, GuardFailed):
        # The refusal is named once; each further violation is a line of its own.
        lines = [
            (
                f"{err.ref} cannot be '{err.words}': {v}" if i == 0 else v[:1].upper() + v[1:],
                v.partition(" ")[0],
            )
            for i, v in enumerate(err.violations)
        ]
    elif isinstance(err, RuleViolation) and len(err.violations) > 1:
        lines = [(v, "") for v in err.violations]
    else:
        lines = [(str(err), "")]
    out = []
    for line, name in lines:
        if name in known and line.startswith(f"{name}:"):
            line = f"{name.replace('_', ' ').capitalize()}:{line[len(name) + 1 :]}"
        out.append(Problem(line, known.get(name, general)))
    return out


def status_of(err: CaseworkError) -> int:
    """The page's status: the one table's (workflow.errors.HTTP), as the API answers, except
    that a form refused for what was typed in it is 400 whether the page could not read it
    or a rule refused it (ValueRefused, which the API answers 422): a page shows both the
    same way, in its error summary."""
    if isinstance(err, Malformed):
        return 400
    return http_status(err)


def _who(request: Request) -> None:
    """Load the signed-in person if there is one, so an error page keeps its navigation."""
    try:
        viewer(request)
    except Exception:  # not signed in, or the database is what failed: a bare page
        pass


def _signin(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(target, safe='/')}", status_code=303)


def _see_other(_request: Request, exc: SeeOther) -> Response:
    return RedirectResponse(exc.url, status_code=303)


def _forbidden(request: Request, exc: Forbidden) -> Response:
    _who(request)
    return page(
        request, "error.html", status=403, title="You cannot see this page", message=exc.message
    )


def _csrf(request: Request, _exc: Exception) -> Response:
    _who(request)
    return page(
        request,
        "error.html",
        status=403,
        title="This form has expired",
        message="The form was sent without this session's security token, so "
        "nothing was changed. Go back, reload the page and try again.",
    )


def _too_large(request: Request, exc: BodyTooLarge) -> Response:
    _who(request)
    mb = exc.limit // 1024 // 1024
    return page(
        request,
        "error.html",
        status=413,
        title="That upload is too large",
        message=f"Nothing was saved: a form can carry at most {mb} MB. "
        f"Evidence files must be 10 MB or less.",
    )


def _refused(request: Request, exc: CaseworkError) -> Response:
    _who(request)
    status = status_of(exc)
    titles = {404: "Page not found", 403: "You cannot do that", 409: "Someone else got there first"}
    return page(
        request,
        "error.html",
        status=status,
        title=titles.get(status, "That was refused"),
        message=str(exc),
    )


def _http(request: Request, exc: HTTPException) -> Response:
    _who(request)
    if exc.status_code == 404:
        return page(
            request,
            "error.html",
            status=404,
            title="Page not found",
            message="If you typed the web address, check it is correct. If you pasted "
            "it, check you copied the entire address.",
        )
    if exc.status_code == 405:
        return page(
            request,
            "error.html",
            status=405,
            title="That cannot be done here",
            message="This page does not take that kind of request. Use the page's "
            "own buttons and forms.",
        )
    return page(
        request,
        "error.html",
        status=exc.status_code,
        title="That was refused",
        message=str(exc.detail),
    )


def _crash(request: Request, exc: Exception) -> Response:
    _who(request)
    if is_database_error(exc):
        return _database_fault(request, exc)
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return page(
        request,
        "error.html",
        status=500,
        title="Sorry, there is a problem with the service",
        message="Something went wrong on our side and nothing was changed. Try again "
        "later; if it keeps happening, tell the programme team what you were "
        "doing and when.",
    )


def _database_fault(request: Request, exc: Exception) -> Response:
    """One log line saying what happened to the database (no traceback); a page that says
    nothing was changed. The file's path and the driver's words stay in the log."""
    fault = fault_of(request.app.state.engine, exc)
    event(
        log,
        "web.database_fault",
        fault.line,
        level=logging.ERROR,
        fault=fault.kind,
        path=request.url.path,
    )
    return page(
        request,
        "error.html",
        status=503,
        title="Sorry, the service is unavailable",
        message="The service could not use its records just now, so nothing was "
        "changed. Try again in a few minutes; if it keeps happening, tell the "
        "programme team what you were doing and when.",
    )


HANDLERS = {
    SignInNeeded: _signin,
    SeeOther: _see_other,
    Forbidden: _forbidden,
    CsrfRefused: _csrf,
    BodyTooLarge: _too_large,
    CaseworkError: _refused,
    HTTPException: _http,
    Exception: _crash,
}
