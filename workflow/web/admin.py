"""/admin: the administrators' area (role `admin`), every change a row of the admin log.

Organisations (names, addresses, ESG allocation, org-id), people (roles, disabled or
not) and programmes (the senior responsible owner; a programme file loaded, as
`programme load` loads it). Each form calls the same service
as the command line (workflow.services.administration, sro), which refuses as it
does there, naming why, and writes the change and its admin-log row in one
transaction; the row carries the admin's name.
"""

from __future__ import annotations

from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from states.words import ROLE_WORDS, admin_label
from workflow import clock
from workflow.errors import CaseworkError, Malformed, NotFound, RuleViolation
from workflow.services import admin_log, administration, directory, sro
from workflow.services import programme_files as programme_store
from workflow.services.directory import PERSON_ROLES
from workflow.storage.db import reading
from workflow.web.auth import require, session_of
from workflow.web.errors import problems_of, status_of
from workflow.web.forms import Posted, not_pounds, posted, pounds_typed
from workflow.web.pages import Problem, page

DOING = "use the admin area"
ORG_FORM = {
    "name": "name",
    "email": "email",
    "escalation-email": "escalation_email",
    "esg-allocation": "esg_allocation",
    "org-id": "org_id",
}


def _engine(request: Request) -> Any:
    return request.app.state.engine


def home(request: Request) -> Response:
    require(request, "admin", doing=DOING)
    with reading(_engine(request)) as conn:
        recent = admin_log.rows(conn, newest_first=True, limit=10)
        counts = {
            "organisations": len(directory.list_orgs(conn)),
            "people": len(directory.list_users(conn)),
            "without_sro": sro.without_sro(conn),
        }
    return page(request, "admin.html", recent=_shown(recent), counts=counts)


def _shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **r,
            "label": admin_label(r["action"]),
            "before_text": admin_log.side_text(r["before"]),
            "after_text": admin_log.side_text(r["after"]),
        }
        for r in rows
    ]


# --- organisations --------------------------------------------------------------------
def organisations(request: Request) -> Response:
    require(request, "admin", doing=DOING)
    with reading(_engine(request)) as conn:
        rows = directory.list_orgs(conn)
    return page(request, "admin_organisations.html", orgs=rows)


def organisation(request: Request) -> Response:
    require(request, "admin", doing=DOING)
    code = request.path_params["code"]
    with reading(_engine(request)) as conn:
        found = directory.org_json(directory.get_org(conn, code))
    return page(request, "admin_organisation.html", org=found, form=_org_form(found))


# Each field's label on the form: a refusal names the field in these words, not its name.
ORG_LABELS = {
    "name": "Name",
    "email": "Contact email for returns",
    "escalation-email": "Escalation email",
    "esg-allocation": "Efficiency Support Grant allocation",
    "org-id": "360Giving org-id",
}


def _org_form(org: dict[str, Any]) -> dict[str, str]:
    return {field: org.get(key) or "" for field, key in ORG_FORM.items()}


def _in_words(problem: Problem) -> Problem:
    """A refusal's line with the field's name ("Esg-allocation: ...", as the services name
    it for the command line's --esg-allocation) said as the form labels it."""
    label = ORG_LABELS.get(problem.field)
    head = f"{problem.field.capitalize()}:"
    if label is None or not problem.text.startswith(head):
        return problem
    rest = problem.text[len(head) :].strip()
    said = rest if rest.startswith(label) else f"{label}: {rest}"
    return Problem(said, problem.field, problem.parts)


# Two refusals end with the command that puts them right; here the admin does it on a page.
_REMEDIES = (
    ("(casework programme sro CODE NAME).", "on the Programmes page."),
    (
        "(disable them instead: casework user disable {name}).",
        "(disable them instead, under Standing).",
    ),
)


def _put_right_here(problem: Problem, name: str) -> Problem:
    """A refusal's remedy said as this area offers it, not as the command line does."""
    for command, here in _REMEDIES:
        ending = command.format(name=name)
        if problem.text.endswith(ending):
            text = problem.text[: -len(ending)] + here
            return Problem(text, problem.field, problem.parts)
    return problem


async def organisation_post(request: Request) -> Response:
    form = await posted(request)
    code = request.path_params["code"]

    def change(conn: Any, by: admin_log.Admin) -> dict[str, Any]:
        now = directory.org_json(directory.get_org(conn, code))
        given = {key: form.text(field).strip() for field, key in ORG_FORM.items()}
        # Money as people write it ("£1,200,000.50"), as the application's pages take it.
        typed = given["esg_allocation"]
        wrong = not_pounds(typed, ORG_LABELS["esg-allocation"])
        if wrong:
            raise Malformed(ORG_LABELS["esg-allocation"], [f"esg-allocation: {wrong}"])
        # The same amount written another way ("12000" for "12000.00") reaches the service,
        # which finds nothing changed and writes no row.
        given["esg_allocation"] = pounds_typed(typed) if typed else ""
        # Only what was changed on the form is sent: a field left as shown changes nothing.
        wanted = {k: v for k, v in given.items() if v != (now.get(k) or "")}
        if not wanted:
            return {"changed": False}
        return administration.update_org(conn, code, by, at=clock.now(), **wanted)

    def again(problems: list[Any], status: int) -> Response:
        with reading(_engine(request)) as conn:
            found = directory.org_json(directory.get_org(conn, code))
        return page(
            request,
            "admin_organisation.html",
            status=status,
            errors=[_in_words(p) for p in problems],
            org=found,
            form={k: form.text(k) for k in ORG_FORM},
        )

    return await _act(
        request,
        form,
        change,
        again,
        f"/admin/organisations/{code}",
        lambda done: (
            f"Organisation {code} "
            + ("updated." if done.get("changed") else "unchanged: nothing was different.")
        ),
        fields={
            "email": "email",
            "escalation-email": "escalation-email",
            "esg-allocation": "esg-allocation",
            "org-id": "org-id",
            "name": "name",
        },
    )


# --- people -----------------------------------------------------------------------------
def people_list(request: Request) -> Response:
    require(request, "admin", doing=DOING)
    with reading(_engine(request)) as conn:
        rows = directory.list_users(conn)
        owners = sro.all_sros(conn)
    owned: dict[str, list[str]] = {}
    for code, name in owners.items():
        if name:
            owned.setdefault(name, []).append(code)
    return page(request, "admin_people.html", people=rows, owned=owned, role_words=ROLE_WORDS)


def _person(request: Request, name: str) -> dict[str, Any]:
    with reading(_engine(request)) as conn:
        found = next((p for p in directory.list_users(conn) if p["name"] == name), None)
        if found is None:
            raise NotFound(f"There is no person called '{name}'.")
        found["sro_of"] = [c for c, n in sro.all_sros(conn).items() if n == name]
        found["open_cases"] = directory.open_cases_of(conn, name)
        found["log"] = _shown(admin_log.rows(conn, target=name, newest_first=True, limit=20))
    return found


def person(request: Request) -> Response:
    require(request, "admin", doing=DOING)
    found = _person(request, request.path_params["name"])
    return page(
        request,
        "admin_person.html",
        person=found,
        roles=PERSON_ROLES,
        role_words=ROLE_WORDS,
        form={"roles": found["roles"]},
    )


async def person_roles(request: Request) -> Response:
    form = await posted(request)
    name = request.path_params["name"]
    chosen = {r for r in form.data.getlist("roles") if isinstance(r, str)}

    def change(conn: Any, by: admin_log.Admin) -> dict[str, Any]:
        now = set(directory.actor_row(conn, name).roles)
        if chosen == now:  # saved as it stood: nothing to add or remove, and no row to write
            return {"roles": sorted(now), "changed": False}
        return administration.change_roles(
            conn, name, by, at=clock.now(), add=sorted(chosen - now), remove=sorted(now - chosen)
        )

    def again(problems: list[Any], status: int) -> Response:
        return page(
            request,
            "admin_person.html",
            status=status,
            errors=problems,
            person=_person(request, name),
            roles=PERSON_ROLES,
            role_words=ROLE_WORDS,
            form={"roles": sorted(chosen)},
        )

    return await _act(
        request,
        form,
        change,
        again,
        f"/admin/people/{name}",
        lambda done: (
            f"{name}'s roles: {', '.join(done['roles'])}"
            + ("." if done.get("changed") else " (nothing changed).")
        ),
        fields={"role": "roles-" + (PERSON_ROLES[0] if PERSON_ROLES else "")},
    )


async def person_standing(request: Request) -> Response:
    form = await posted(request)
    name = request.path_params["name"]
    disable = form.text("standing") == "disabled"

    def change(conn: Any, by: admin_log.Admin) -> dict[str, Any]:
        return administration.set_disabled(conn, name, disable, by, at=clock.now())

    def again(problems: list[Any], status: int) -> Response:
        found = _person(request, name)
        return page(
            request,
            "admin_person.html",
            status=status,
            errors=problems,
            person=found,
            roles=PERSON_ROLES,
            role_words=ROLE_WORDS,
            form={"roles": found["roles"]},
        )

    word = "disabled" if disable else "enabled"
    return await _act(
        request,
        form,
        change,
        again,
        f"/admin/people/{name}",
        lambda done: f"{name} {word}." if done.get("changed") else f"{name} was already {word}.",
    )


# --- programmes -------------------------------------------------------------------------
def _programmes(request: Request) -> tuple[list[dict[str, Any]], list[str]]:
    with reading(_engine(request)) as conn:
        rows = programme_store.summaries(conn)
        approvers = [
            p["name"]
            for p in directory.list_users(conn)
            if "approver" in p["roles"] and not p["disabled"]
        ]
    return rows, approvers


def programmes(request: Request) -> Response:
    require(request, "admin", doing=DOING)
    rows, approvers = _programmes(request)
    return page(request, "admin_programmes.html", programmes=rows, approvers=approvers)


async def programme_sro(request: Request) -> Response:
    form = await posted(request)
    code = request.path_params["code"]
    name = form.text("sro").strip()

    def change(conn: Any, by: admin_log.Admin) -> dict[str, Any]:
        if not name:
            raise Malformed(f"The senior responsible owner of {code}", ["sro: choose an approver"])
        return sro.appoint(conn, code, name, by, at=clock.now())

    def again(problems: list[Any], status: int) -> Response:
        rows, approvers = _programmes(request)
        return page(
            request,
            "admin_programmes.html",
            status=status,
            errors=problems,
            programmes=rows,
            approvers=approvers,
        )

    return await _act(
        request,
        form,
        change,
        again,
        "/admin/programmes",
        lambda done: (
            f"{name} is the senior responsible owner of {code}."
            if done.get("changed")
            else f"{name} was already the senior responsible owner of {code}."
        ),
        fields={"sro": f"sro-{code}"},
        general=f"sro-{code}",
    )


async def programme_load(request: Request) -> Response:
    """A programme file uploaded (TOML), loaded as `casework programme load` loads it: a new
    programme, or a changed one (each a row of the admin log with the values it changed);
    a file whose rules a case already past submission would break is refused, naming
    the cases, and nothing is written."""
    form = await posted(request)
    upload = form.file("programme-file")
    sent = (upload.filename or "", await upload.read()) if upload is not None else None

    def change(conn: Any, by: admin_log.Admin) -> dict[str, Any]:
        if sent is None or not sent[1]:
            raise RuleViolation("Select a programme file to load.")
        name, data = sent
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed(
                f"Programme file {name}".strip(), ["it is not text (UTF-8): a TOML file is"]
            ) from None
        try:
            return programme_store.apply_file(conn, text, name, by=by, at=clock.now())
        except (Malformed, RuleViolation) as err:
            # One line saying what was refused and every reason (each problem of a file
            # names its own key, which is no field of this form).
            raise RuleViolation(str(err)) from None

    def again(problems: list[Any], status: int) -> Response:
        rows, approvers = _programmes(request)
        return page(
            request,
            "admin_programmes.html",
            status=status,
            errors=problems,
            programmes=rows,
            approvers=approvers,
        )

    def said(done: dict[str, Any]) -> str:
        spec = done["spec"]
        if done["new"]:
            return f"Programme {spec.code} loaded: {spec.name}."
        if done["changed"]:
            return f"Programme {spec.code} updated from the file; the admin log has the change."
        return f"Programme {spec.code} unchanged: the file is the one already loaded."

    return await _act(
        request,
        form,
        change,
        again,
        "/admin/programmes",
        said,
        fields={"programme-file": "programme-file"},
        general="programme-file",
    )


# --- one change, in one transaction ------------------------------------------------------
async def _act(
    request: Request,
    form: Posted,
    change: Callable[[Any, Any], dict[str, Any]],
    again: Callable[[list[Any], int], Response],
    back: str,
    said: Callable[[dict[str, Any]], str],
    *,
    fields: dict[str, str] | None = None,
    general: str = "",
) -> Response:
    """Run `change` as this admin in one transaction; back to `back` saying what was done,
    or the form again with the refusal (nothing written)."""
    who = await run_in_threadpool(require, request, "admin", doing=DOING)

    def run() -> dict[str, Any]:
        by = administration.require_admin(who.actor, DOING)
        with _engine(request).begin() as conn:
            return change(conn, by)

    try:
        done = await run_in_threadpool(run)
    except NotFound:
        raise
    except CaseworkError as err:
        name = request.path_params.get("name", "")
        problems = [_put_right_here(p, name) for p in problems_of(err, fields, general=general)]
        return await run_in_threadpool(again, problems, status_of(err))
    session_of(request).flash(said(done))
    return RedirectResponse(back, status_code=303)


ROUTES = [
    Route("/admin", home, methods=["GET"]),
    Route("/admin/organisations", organisations, methods=["GET"]),
    Route("/admin/organisations/{code}", organisation, methods=["GET"]),
    Route("/admin/organisations/{code}", organisation_post, methods=["POST"]),
    Route("/admin/people", people_list, methods=["GET"]),
    Route("/admin/people/{name}", person, methods=["GET"]),
    Route("/admin/people/{name}/roles", person_roles, methods=["POST"]),
    Route("/admin/people/{name}/standing", person_standing, methods=["POST"]),
    Route("/admin/programmes", programmes, methods=["GET"]),
    Route("/admin/programmes/load", programme_load, methods=["POST"]),
    Route("/admin/programmes/{code}/sro", programme_sro, methods=["POST"]),
]
