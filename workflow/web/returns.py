"""/returns (a council's returns, or every return for staff) and /returns/CASE/Qn (one return).

Reminder emails link to /returns/CASE/Qn. A council officer submits the
return there (figures and one evidence file); a caseworker accepts, queries
or waives it. Both go through `workflow.services.monitoring`, the same services as
the command line.
"""

from __future__ import annotations


from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from states import CHECKPOINT, DEFINITIONS
from workflow.services import attachments
from workflow.web.downloads import evidence_download
from workflow.services import lifecycle as case_service
from workflow.services import monitoring, programme_files, reads
from workflow.storage.db import reading
from workflow.errors import CaseworkError, CheckpointNotFound, Malformed, NotFound
from workflow.storage.tables import programmes
from workflow.web import queries
from workflow.web.auth import Viewer, session_of, viewer
from workflow.web.errors import problems_of, status_of
from workflow.web.forms import not_pounds, posted
from workflow.web.pages import Problem, page, words

STATES = CHECKPOINT.group("as_listed")
# A case the lead council still writes or answers about: its link goes to /apply.
AMENDABLE = frozenset(s for d in DEFINITIONS.values() for s in d.groups.get("amendable", ()))
ACCEPTED_FILES = ",".join(attachments.ALLOWED)
DECISION_LABELS = {
    "accept": "Accept the return",
    "query": "Query the return",
    "waive": "Waive the return",
}


def return_list(request: Request) -> Response:
    who = viewer(request)
    p = request.query_params
    # A council sees all its returns; staff see those in play unless they ask for more.
    default = "all" if who.council_only else ""
    f = queries.ReturnFilter(
        state=p["state"] if p.get("state") in (*STATES, "all") else default,
        overdue=p.get("overdue") == "1",
        programme=p.get("programme", "").strip().lower()[:40],
        case=p.get("case", "").strip()[:40],
        only_org=who.org if who.council_only else None,
    )
    size = request.app.state.settings.page_size
    with reading(request.app.state.engine) as conn:
        rows, pager = queries.search_returns(conn, f, queries.page_number(p.get("page")), size)
        if not rows and f.programme:
            # A mistyped code must not look like a programme with no returns (as /cases).
            reads.refuse_unknown(conn, programme=f.programme)
        waiting = queries.waiting_on(conn, who.org) if who.has("council") and who.org else []
        names = queries.org_names(conn, [r.lead for r in rows])
        codes = list(
            conn.execute(
                programmes.select().with_only_columns(programmes.c.code).order_by(programmes.c.code)
            ).scalars()
        )
    return page(
        request,
        "returns.html",
        rows=rows,
        pager=pager,
        names=names,
        filters=f,
        states=STATES,
        programmes=codes,
        waiting=waiting,
        to_act=queries.COUNCIL_TO_ACT,
        amendable=AMENDABLE,
    )


def _ref(request: Request) -> str:
    return f"{request.path_params['case'].upper()}/{request.path_params['label'].upper()}"


def _visible(request: Request, ref: str) -> tuple[Viewer, dict]:
    """The person and the return, "not found" when its case is not theirs to see."""
    who = viewer(request)
    engine = request.app.state.engine
    case_ref = ref.split("/")[0]
    with reading(engine) as conn:
        try:
            case = case_service.load_case(conn, case_ref)
        except NotFound:
            raise CheckpointNotFound(ref) from None
    if not who.may_see(case.lead, case.partners, case.state):
        raise CheckpointNotFound(ref)
    returned = monitoring.get_checkpoint(engine, ref, who.name)
    if returned["case"] != case.ref:
        raise CheckpointNotFound(ref)
    return who, returned


def return_page(request: Request) -> Response:
    return render_return(request, _ref(request))


def render_return(
    request: Request,
    ref: str,
    *,
    errors: list[Problem] | None = None,
    status: int = 200,
    form: dict | None = None,
) -> Response:
    who, cp = _visible(request, ref)
    queries_made = [h for h in cp["history"] if h["trigger"] == "query"]
    with reading(request.app.state.engine) as conn:
        names = queries.org_names(conn, [cp["lead"]])
    values = (
        dict(form)
        if form is not None
        else {k: v for k, v in (cp["figures"] or {}).items() if v is not None}
    )
    decisions = [t for t in cp["allowed_triggers"] if t in monitoring.DECISIONS]
    return page(
        request,
        "return.html",
        status=status,
        errors=errors or [],
        cp=cp,
        label=cp["ref"].split("/")[-1],
        names=names,
        form=values,
        may_submit="submit" in cp["allowed_triggers"],
        decisions=decisions,
        decision_labels=DECISION_LABELS,
        last_query=queries_made[-1] if queries_made else None,
        accepted_files=ACCEPTED_FILES,
        max_mb=attachments.MAX_BYTES // 1024 // 1024,
        staff=not who.council_only,
    )


async def submit(request: Request) -> Response:
    ref = _ref(request)
    form = await posted(request)
    who, cp = await run_in_threadpool(_visible, request, ref)
    figures = {
        name: form.pounds(name) if field.get("kind") == "money" else form.text(name).strip()
        for name, field in cp["fields"].items()
    }
    figures = {k: v for k, v in figures.items() if v}
    missing = (
        await run_in_threadpool(_missing, request, cp, figures, form.values())
        if "submit" in cp["allowed_triggers"]
        else []
    )
    if missing:
        # Each required figure left out, at its field, before the service is asked
        # (a return not open for submission is refused by the service, saying why).
        return await run_in_threadpool(
            render_return, request, ref, status=400, errors=missing, form=form.values()
        )
    upload = form.file("evidence")
    attachment = None
    if upload is not None:
        attachment = (upload.filename or "", await upload.read())
    try:
        await run_in_threadpool(
            monitoring.submit_return,
            request.app.state.engine,
            ref,
            who.name,
            figures=figures,
            attachment=attachment,
            expected_version=form.number("version"),
        )
    except NotFound:
        raise
    except CaseworkError as err:
        fields = {name: name for name in cp["fields"]}
        general = (
            "evidence"
            if isinstance(err, Malformed) and err.what == "The attachment"
            else "submit-return"
        )
        return await run_in_threadpool(
            render_return,
            request,
            ref,
            status=status_of(err),
            errors=problems_of(err, fields, general=general),
            form=form.values(),
        )
    session_of(request).flash(
        f"The return {ref} has been submitted" + (f" with {attachment[0]}." if attachment else ".")
    )
    return RedirectResponse(f"/returns/{ref}", status_code=303)


def _missing(
    request: Request, cp: dict, figures: dict[str, str], typed: dict[str, str]
) -> list[Problem]:
    """ "Enter spend to date": one line for each required figure not given, linked to it."""
    with reading(request.app.state.engine) as conn:
        spec = programme_files.spec_for(conn, cp["programme"])
    out = []
    for name, field in cp["fields"].items():
        label = spec.field_label(name)
        if field.get("required") and name not in figures:
            out.append(Problem(f"Enter {label[:1].lower()}{label[1:]}", name))
        elif field.get("kind") == "money" and (wrong := not_pounds(typed.get(name, ""), label)):
            out.append(Problem(wrong, name))
    return out


async def decide(request: Request) -> Response:
    ref = _ref(request)
    form = await posted(request)
    trigger = form.text("trigger").strip()
    reason = form.optional("reason")
    who, cp = await run_in_threadpool(_visible, request, ref)
    if (
        CHECKPOINT.confirmation(trigger)
        and form.text("confirmed") != "yes"
        and trigger in cp["allowed_triggers"]
    ):
        # A move the definition says cannot be undone (waive): "are you sure?" first, whatever
        # reason was typed carried there.
        return await run_in_threadpool(
            _confirm_waive, request, cp, reason or "", form.number("version")
        )
    try:
        done = await run_in_threadpool(
            monitoring.decide_return,
            request.app.state.engine,
            ref,
            trigger,
            who.name,
            reason=reason,
            expected_version=form.number("version"),
        )
    except NotFound:
        raise
    except CaseworkError as err:
        field = f"reason-{trigger}"
        return await run_in_threadpool(
            render_return,
            request,
            ref,
            status=status_of(err),
            errors=problems_of(err, {"reason": field}, general="decide"),
            form={field: reason or ""},
        )
    session_of(request).flash(f"The return {ref} is now {words(done['state'])}.")
    return RedirectResponse(f"/returns/{ref}", status_code=303)


def confirm_waive(request: Request) -> Response:
    """ "Waive the return: are you sure?", with the reason box: a waived return is final.
    Offered only where this person may waive it now; else back to the return's page."""
    ref = _ref(request)
    _who, cp = _visible(request, ref)
    if "waive" not in cp["allowed_triggers"]:
        return RedirectResponse(f"/returns/{ref}", status_code=303)
    return _confirm_waive(request, cp, "", cp["version"])


def _confirm_waive(request: Request, cp: dict, reason: str, version: int | None) -> Response:
    return page(
        request,
        "return_confirm.html",
        cp=cp,
        consequence=CHECKPOINT.confirmation("waive"),
        reason=reason,
        version=version or "",
    )


def evidence(request: Request) -> Response:
    """The evidence file, checked against its hash before it is sent."""
    ref = _ref(request)
    _who, cp = _visible(request, ref)
    found = cp.get("attachment")
    if not found:
        raise NotFound(f"The return {ref} has no evidence file.")
    data = attachments.read(found["sha256"], attachments.files_root(request.app.state.engine))
    return evidence_download(data, found["name"], found["media_type"])


ROUTES = [
    Route("/returns", return_list, methods=["GET"]),
    Route("/returns/{case}/{label}", return_page, methods=["GET"]),
    Route("/returns/{case}/{label}/submit", submit, methods=["POST"]),
    Route("/returns/{case}/{label}/decide", decide, methods=["POST"]),
    Route("/returns/{case}/{label}/waive", confirm_waive, methods=["GET"]),
    Route("/returns/{case}/{label}/evidence", evidence, methods=["GET"]),
]
