"""/sign-in and /sign-out.

A wrong password and a locked name get the same page and the same words, so
the page never tells anyone which names exist or which are locked. Failed
attempts past the second are answered more and more slowly.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from workflow import clock
from workflow.services import directory, passwords
from workflow.storage.db import reading
from workflow.storage.tables import people
from workflow.web import lockout
from workflow.web.auth import SignInNeeded, load_viewer, session_of, viewer
from workflow.web.forms import posted
from workflow.web.pages import Problem, page

REFUSED = (
    "The name or password is not right, or this name has had too many failed "
    "attempts. After 5 failed attempts in 15 minutes a name is locked for 15 minutes."
)


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host (`//evil`, `https://…`, `/\\evil`)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(c) < 32 for c in target):
        return None
    return target


def home(request: Request) -> Response:
    try:
        who = viewer(request)
    except SignInNeeded:
        return RedirectResponse("/sign-in", status_code=303)
    return RedirectResponse(who.landing(), status_code=303)


def sign_in_form(request: Request) -> Response:
    target = safe_next(request.query_params.get("next"))
    try:
        who = viewer(request)
    except SignInNeeded:
        return page(request, "sign_in.html", next=target or "", form={})
    return RedirectResponse(target or who.landing(), status_code=303)


async def sign_in(request: Request) -> Response:
    form = await posted(request)
    name, password = form.text("name").strip(), form.text("password")
    target = safe_next(form.text("next")) or ""
    missing = []
    if not name:
        missing.append(Problem("Enter your name", "name"))
    if not password:
        missing.append(Problem("Enter your password", "password"))
    if missing:
        return page(
            request, "sign_in.html", status=400, errors=missing, next=target, form={"name": name}
        )
    ok, delay = await run_in_threadpool(_attempt, request, name, password)
    if ok:
        return RedirectResponse(target or request.state.viewer.landing(), status_code=303)
    if delay:
        await asyncio.sleep(delay)  # holds this answer only, not a worker thread
    return page(
        request,
        "sign_in.html",
        status=401,
        errors=[Problem(REFUSED, "name")],
        next=target,
        form={"name": name},
    )


def _attempt(request: Request, name: str, password: str) -> tuple[bool, float]:
    """Claim the attempt (lock checked and attempt recorded at once), check the password, settle.

    Returns whether it succeeded and, when it failed, how long to hold the answer.
    """
    engine, policy = request.app.state.engine, request.app.state.settings.lockout
    remote = request.client.host if request.client else None
    claimed = lockout.claim(engine, name, clock.now(), policy, remote)
    if claimed.attempt is None:
        return False, policy.delay(policy.failures)  # as slow as the failure that locked it
    # `system` (in any capitalisation) is the sweep's name, never a person's.
    # A disabled person's right password still fails, with the same words as a wrong one.
    ok = (
        not directory.is_reserved(name)
        and passwords.check_password(engine, name, password)
        and not _disabled(request, name)
    )
    lockout.settle(engine, claimed.attempt, ok)
    if ok:
        session = session_of(request)
        password_hash = _password_hash(request, name)
        session.sign_in(name, password_hash)
        request.state.viewer = load_viewer(engine, session)
        return request.state.viewer is not None, 0.0
    return False, policy.delay(claimed.standing.failures + 1)


def _disabled(request: Request, name: str) -> bool:
    with reading(request.app.state.engine) as conn:
        return directory.is_disabled(conn, name)


def _password_hash(request: Request, name: str) -> str | None:
    with reading(request.app.state.engine) as conn:
        return conn.execute(select(people.c.password_hash).where(people.c.name == name)).scalar()


def sign_out_form(request: Request) -> Response:
    try:
        viewer(request)
    except SignInNeeded:
        return RedirectResponse("/sign-in", status_code=303)
    return page(request, "sign_out.html")


async def sign_out(request: Request) -> Response:
    await posted(request)
    session = session_of(request)
    if session.name:
        remote = request.client.host if request.client else None
        await run_in_threadpool(
            lockout.record, request.app.state.engine, session.name, "signout", clock.now(), remote
        )
    session.sign_out("You have signed out.")
    return RedirectResponse("/sign-in", status_code=303)


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/sign-in", sign_in_form, methods=["GET"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-out", sign_out_form, methods=["GET"]),
    Route("/sign-out", sign_out, methods=["POST"]),
]
