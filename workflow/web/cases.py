"""/cases (search) and /cases/REF (one case, and the actions this person may take on it).

Actions post to /cases/REF/advance, which calls `workflow.services.lifecycle.advance`
with the version the page showed: if someone else moved the case since, the
service refuses and the page shows it as it is now. A caseworker hands a case
to another caseworker at /cases/REF/assign (`workflow.services.assignment.assign`),
with the same version check.
"""

from __future__ import annotations

from functools import partial

from typing import Any, Callable, Iterable

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from states import DEFINITIONS
from states.money import MONEY_FIELDS
from states.diligence import RATING_WORDS, RATINGS, RESULT_WORDS, RESULTS, STATUS_WORDS
from states.questions import arrangement_label
from workflow.services import (
    applications,
    areas,
    assessment,
    assignment,
    attachments,
    case_table,
    chain,
    controls,
    diligence,
    directory,
    monitoring,
    reads,
)
from workflow import clock
from workflow.services import lifecycle as case_service
from workflow.services import programme_files as programme_store
from workflow.storage.db import reading
from workflow.errors import CaseworkError, NotFound
from workflow.storage.tables import programmes
from workflow.web import queries
from workflow.web.application import latest_changes
from workflow.web.actions import CONFIRMED, Action, find, plan_actions
from workflow.web.labels import state_label
from workflow.services.access import STAFF
from workflow.web.auth import Viewer, session_of, viewer
from workflow.web.errors import problems_of, status_of
from workflow.web.forms import not_pounds, posted, pounds_typed
from workflow.web.assessment import SEES as SEES_ASSESSMENT
from workflow.web.pages import Problem, money, page, paragraphs, words
from workflow.services.unit_of_work import UnitOfWork
from workflow.services.facts import reads_ledger
from workflow.web.signin import safe_next

ASSESSED_STATES = DEFINITIONS["bid"].group("assessed")
ALL_STATES = sorted({s for kind in ("bid", "area") for s in DEFINITIONS[kind].states})

# The lead council answers a question on /apply, not on the case page.
ANSWERED_ON_APPLY = "answer"


def application_rows(
    app: dict, names: dict[str, str], category: Callable[[str], str] = words
) -> list[tuple[str, Any]]:
    """The application's fields as people read them: money in pounds, organisations by name,
    the category by its label, the council's own text in paragraphs."""
    rows: list[tuple[str, Any]] = []
    for key, value in app.items():
        if key in ("programme", "title", "lead"):
            continue
        label = words(key).capitalize()
        if key in MONEY_FIELDS and isinstance(value, str):
            value = money(value)
        elif key == "partners" and value and isinstance(value[0], str):
            value = "\n".join(f"{names.get(c, c)} ({c})" for c in value)
        elif key == "partners":
            value = "\n".join(
                f"{p.get('name')}" + (f": {p['evidence']}" if p.get("evidence") else "")
                for p in value
            )
        elif key == "category":
            value = category(value)
        elif key == "arrangement":
            value = arrangement_label(str(value))
        elif key == "evidence" and isinstance(value, list):  # files: their names
            value = "\n".join(str(f.get("name", "")) for f in value if isinstance(f, dict))
        elif isinstance(value, list):
            value = "\n".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = "\n".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, str):  # the council's own words, as they wrote them
            value = paragraphs(value)
        rows.append((label, value))
    return rows


# --- the list --------------------------------------------------------------------
def case_list(request: Request) -> Response:
    who = viewer(request)
    p = request.query_params
    # A state or kind that names nothing is refused in words, as the command line and the
    # API refuse it, not quietly dropped into "any state" (the form offers only real ones).
    # The state is weighed against both kinds: the form lets people pick an area's state
    # with "Bids", which is an empty list, not a mistake.
    case_table.check_filters(p.get("kind") or None, None)
    case_table.check_filters(None, p.get("state") or None)
    f = queries.CaseFilter(
        q=p.get("q", "").strip()[:100],
        state=_choice(p.get("state"), ALL_STATES),
        kind=_choice(p.get("kind"), ("bid", "area")),
        programme=p.get("programme", "").strip().lower()[:40],
        org="" if who.council_only else p.get("org", "").strip()[:100],
        only_org=who.org if who.council_only else None,
        caseworker="" if who.council_only else p.get("caseworker", "").strip()[:80],
    )
    size = request.app.state.settings.page_size
    with reading(request.app.state.engine) as conn:
        rows, pager = queries.search_cases(conn, f, queries.page_number(p.get("page")), size)
        if not rows and f.programme:
            # A mistyped code must not look like a programme with no cases (as the command
            # line and the API refuse it): a page saying there is no such programme.
            reads.refuse_unknown(conn, programme=f.programme)
        names = queries.org_names(conn, [r.lead for r in rows])
        codes = list(conn.execute(select(programmes.c.code).order_by(programmes.c.code)).scalars())
    return page(
        request,
        "cases.html",
        rows=rows,
        pager=pager,
        names=names,
        filters=f,
        states=ALL_STATES,
        programmes=codes,
    )


def _choice(value: str | None, allowed: Iterable[str]) -> str:
    return value if value in set(allowed) else ""


# --- one case --------------------------------------------------------------------
def case_page(request: Request) -> Response:
    return render_case(request, request.path_params["ref"])


def render_case(
    request: Request,
    ref: str,
    *,
    errors: list[Problem] | None = None,
    status: int = 200,
    form: dict | None = None,
) -> Response:
    who = viewer(request)
    # One read transaction for the whole page.
    with UnitOfWork(request.app.state.engine, read_only=True) as uow:
        conn = uow.conn
        row = case_service.load_case(conn, ref)
        who.check_sees(row.ref, row.lead, row.partners, row.state)
        case = case_service.case_json(conn, row, who.actor)
        names = queries.org_names(conn, [row.lead, *(row.partners or [])])
        staff = bool(who.roles & STAFF)
        trail = [chain.as_dict(r) for r in chain.rows_for(conn, row.id)] if staff else []
        messages = queries.messages_of(conn, row.ref) if staff else []
        # Only to those who may open the assessment page it links to (not finance).
        judged = (
            assessment.assessment_of(conn, row.ref)
            if who.has(*SEES_ASSESSMENT) and row.kind == "bid" and row.state in ASSESSED_STATES
            else None
        )
        may_assign = who.has("caseworker") and not DEFINITIONS[row.kind].is_final(row.state)
        caseworkers = (
            [
                u["name"]
                for u in directory.list_users(conn)
                if "caseworker" in u["roles"] and u["name"] != row.caseworker and not u["disabled"]
            ]
            if may_assign
            else []
        )
        planned = plan_actions(conn, row, who.actor)
        spec = uow.spec(row.programme)
        changes = latest_changes(uow, row, spec.category_label)  # the newest round of amendments
        returns = monitoring.list_checkpoints(uow, case=row.ref)
        # Where the fund stands, beside a move whose rules weigh it (the definition says which).
        definition = DEFINITIONS[row.kind]
        fund = (
            assessment.fund_position(uow, row.programme)
            if any(
                reads_ledger(t)
                for a in planned
                if (t := definition.machine.transition_for(a.trigger, row.state)) is not None
            )
            else None
        )
        from workflow.web.agreement import on_case_page

        agreed = on_case_page(uow, row, who)  # the grant agreement and its variations
        from workflow.web.payments import on_case_page as payments_of

        paying = payments_of(uow, row, who)  # the payment schedule
        from workflow.web.reviews import on_case_page as reviews_of

        reviewing = reviews_of(uow, row, who, staff)  # the annual reviews
        from workflow.web.apply import question_of_case

        question = question_of_case(uow, row)  # while the council is asked one
        checklist = (
            diligence.checklist_json(conn, row, spec, who.name, uow.now, with_codes=False)
            if staff and spec.diligence
            else None
        )
        # The offer's countersignature: why it needs one, who gave it, what it still lacks.
        signature = controls.offer_countersignature(conn, row, spec) if staff else None
    # The lead council changes its application on /apply (a draft, a question).
    apply_link = who.has("council") and who.org == row.lead and applications.amendable(row)
    # It answers there too, beside its answers and the question, in words: the case page
    # does not offer a second "Answer the question" that sends nothing but a reason.
    actions = [
        a for a in planned if a.offered and not (apply_link and a.trigger == ANSWERED_ON_APPLY)
    ]
    return page(
        request,
        "case.html",
        status=status,
        errors=errors or [],
        form=form or {},
        case=case,
        names=names,
        application=application_rows(case["application"], names, spec.category_label),
        actions=actions,
        blocked=[a for a in planned if not a.offered],
        history=trail,
        messages=messages,
        returns=returns,
        assessment=judged,
        fund=fund,
        staff=staff,
        changes=changes,
        may_contribute=(
            who.has("caseworker") and row.kind == "area" and row.state in areas.CONTRIBUTION_STATES
        ),
        may_audit=who.has("auditor", "caseworker"),
        caseworkers=caseworkers,
        apply_link=apply_link,
        asked=row.state in DEFINITIONS[row.kind].groups.get("clarifying", ()),
        question=question,
        diligence=checklist,
        diligence_words=DILIGENCE_WORDS,
        check_labels={code: c.label for code, c in spec.diligence.items()},
        countersignature=(
            signature if signature and (signature["needed"] or signature["signed"]) else None
        ),
        may_record=bool(checklist and checklist["recordable_now"] and who.has("caseworker")),
        accepted_files=",".join(attachments.ALLOWED),
        max_mb=attachments.MAX_BYTES // 1024 // 1024,
        **agreed,
        **paying,
        **reviewing,
    )


# What the case page's due-diligence checklist shows for each code (states.diligence).
DILIGENCE_WORDS = {
    "status": {code: w.label for code, w in STATUS_WORDS.items()},
    "result": {code: w.label for code, w in RESULT_WORDS.items()},
    "rating": {code: w.label for code, w in RATING_WORDS.items()},
    "ratings": RATINGS,
    "tone": {"passed": "green", "overridden": "green", "failed": "red", "missing": "grey"},
}


async def advance(request: Request) -> Response:
    ref = request.path_params["ref"]
    form = await posted(request)
    trigger = form.text("trigger").strip()
    reason = form.optional("reason")
    version = form.number("version")
    who: Viewer = await run_in_threadpool(_visible, request, ref)
    confirmed = form.text("confirmed") == "yes"
    asking = (
        await run_in_threadpool(_offered, request, ref, trigger, version)
        if trigger in CONFIRMED and not (confirmed and reason)
        else None
    )
    if asking is not None and asking.warning and not (confirmed and asking.reason != "required"):
        # Not from the confirmation page, or the reason its definition requires left empty:
        # ask (again), change nothing.
        errors = (
            [
                Problem(
                    f"Give the reason for ‘{asking.label}’: it is kept in the case's history.",
                    "reason",
                )
            ]
            if confirmed
            else []
        )
        return await run_in_threadpool(
            render_confirm,
            request,
            ref,
            trigger,
            errors=errors,
            reason=reason or "",
            version=version,
            then=form.text("next"),
        )
    # An offer's agreement is drawn before the move's unit of work takes the write lock.
    drawn = await run_in_threadpool(case_service.draw_ahead, request.app.state.engine, ref, trigger)
    return await _change(
        request,
        ref,
        lambda uow: case_service.advance(
            uow, ref, trigger, who.name, reason=reason, expected_version=version, drawn=drawn
        ),
        kept={f"reason-{trigger}": reason or ""},
        fields={"reason": f"reason-{trigger}"},
        general="actions",
        done=lambda d: moved(d, trigger),
        then=safe_next(form.text("next")),
    )


# What a move that keeps the case's state did, as the variation's countersignature says it.
KEPT_STATE_WORDS = {
    "countersign": "{ref}'s offer is countersigned: another approver may now make it.",
}


def moved(shown: dict, trigger: str) -> str:
    """What a move did, as the command line says it: "TCA-2013-0042 is now Award offered."
    (the state by its label, as the summary shows it); a move that keeps the state (a
    countersignature) says what was done."""
    definition = DEFINITIONS[shown["kind"]]
    label = state_label(shown["state"], shown["kind"])
    if trigger in KEPT_STATE_WORDS:
        return KEPT_STATE_WORDS[trigger].format(ref=shown["ref"])
    transition = definition.machine.transition_for(trigger, shown["state"])
    if transition is not None and transition.dest == shown["state"]:
        return (
            f"{shown['ref']}: '{definition.trigger_label(trigger)}' is done; it is still {label}."
        )
    return f"{shown['ref']} is now {label}."


def confirm_page(request: Request) -> Response:
    p = request.query_params
    version = p.get("version", "")
    return render_confirm(
        request,
        request.path_params["ref"],
        p.get("trigger", ""),
        version=int(version) if version.isdigit() else None,
        then=p.get("next", ""),
    )


def render_confirm(
    request: Request,
    ref: str,
    trigger: str,
    *,
    errors: list[Problem] | None = None,
    reason: str = "",
    version: int | None = None,
    then: str = "",
) -> Response:
    """ "Are you sure?" for an action that cannot be undone, with its reason (required where
    its definition requires one).

    The action is planned first: one that would not succeed (or is not this
    person's) sends them back to the case page, which says why.
    """
    who = viewer(request)
    with reading(request.app.state.engine) as conn:
        row = case_service.load_case(conn, ref)
        who.check_sees(row.ref, row.lead, row.partners, row.state)
        action = find(plan_actions(conn, row, who.actor), trigger)
        names = queries.org_names(conn, [row.lead])
        if trigger == "declare_ineligible" and not reason and not errors:
            # A failed due-diligence check leads here: the reason names it, to be edited.
            spec = programme_store.spec_for(conn, row.programme)
            if spec.diligence:
                reason = diligence.failed_reason(
                    diligence.checklist_json(conn, row, spec, who.name, clock.now())
                )
    if action is None or not action.offered or not action.warning:
        return RedirectResponse(f"/cases/{row.ref}", status_code=303)
    return page(
        request,
        "confirm.html",
        status=422 if errors else 200,
        errors=errors or [],
        case=row,
        action=action,
        consequence=action.consequence,
        names=names,
        reason=reason,
        version=row.version if version is None else version,
        then=safe_next(then) or "",
    )


def _offered(request: Request, ref: str, trigger: str, version: int | None) -> Action | None:
    """`trigger`'s action if it would succeed for this person on the version they saw
    (if not, None: the service says why)."""
    with reading(request.app.state.engine) as conn:
        row = case_service.load_case(conn, ref)
        if version is not None and version != row.version:
            return None
        action = find(plan_actions(conn, row, viewer(request).actor), trigger)
    return action if action is not None and action.offered else None


async def contribution(request: Request) -> Response:
    ref = request.path_params["ref"]
    form = await posted(request)
    typed = form.text("contribution").strip()
    who: Viewer = await run_in_threadpool(_visible, request, ref)
    # Money as people write it (the box shows £; the case page says "£60,000"), as on every
    # other form; anyone but a caseworker is refused for who they are, by the service.
    wrong = not_pounds(typed, "Contribution agreed") if who.has("caseworker") else ""
    if wrong:
        return await run_in_threadpool(
            render_case,
            request,
            ref,
            status=400,
            form={"contribution": typed},
            errors=[Problem(wrong, "contribution")],
        )
    amount = pounds_typed(typed)
    return await _change(
        request,
        ref,
        lambda uow: areas.record_contribution(uow, ref, amount, who.name),
        kept={"contribution": typed},
        fields={"contribution": "contribution"},
        general="contribution",
        done=lambda d: (
            f"The contribution agreed with {d['ref']} is recorded: {money(d.get('contribution'))}."
        ),
    )


async def assign(request: Request) -> Response:
    ref = request.path_params["ref"]
    form = await posted(request)
    to = form.text("caseworker").strip()
    reason = form.optional("assign-reason")
    version = form.number("version")
    who: Viewer = await run_in_threadpool(_visible, request, ref)
    return await _change(
        request,
        ref,
        lambda uow: assignment.assign(
            uow, ref, to, who.name, reason=reason, expected_version=version
        ),
        kept={"caseworker": to, "assign-reason": reason or ""},
        fields={"reason": "assign-reason"},
        general="caseworker",
        done=lambda d: (
            f"{d['ref']} is now assigned to {d['caseworker']}, who has been told by email."
        ),
    )


async def _change(
    request: Request,
    ref: str,
    call: Callable[[UnitOfWork], dict],
    *,
    kept: dict,
    fields: dict[str, str],
    general: str,
    done: Callable[[dict], str],
    then: str | None = None,
    again: Callable[..., Response] | None = None,
) -> Response:
    """Run one change to a case in a unit of work of its own; on a refusal, the page it was
    made from (`again`, given errors, form and status: the case page unless said) with the
    problem at its field and what was typed kept (`kept`); when done, a flash and a
    redirect."""

    def run() -> dict:
        with UnitOfWork(request.app.state.engine) as uow:
            return call(uow)

    try:
        result = await run_in_threadpool(run)
    except NotFound:
        raise
    except CaseworkError as err:
        return await run_in_threadpool(
            again or partial(render_case, request, ref),
            status=status_of(err),
            form=kept,
            errors=problems_of(err, fields, general=general),
        )
    session_of(request).flash(done(result))
    return RedirectResponse(then or f"/cases/{result['ref']}", status_code=303)


async def record_diligence(request: Request) -> Response:
    """A caseworker's record of one due-diligence check (multipart: evidence file optional)."""
    ref = request.path_params["ref"]
    form = await posted(request)
    check = form.text("check").strip()
    result = form.text("result").strip()
    rating = form.optional("rating")
    evidence = form.text("evidence")
    upload = form.file("evidence-file")
    attachment = None
    if upload is not None and upload.filename:
        attachment = (upload.filename, await upload.read(attachments.MAX_BYTES + 1))
    who: Viewer = await run_in_threadpool(_visible, request, ref)
    kept = {"check": check, "result": result, "rating": rating or "", "evidence": evidence}
    missing = (
        await run_in_threadpool(_diligence_missing, request, ref, check, result, rating, evidence)
        if who.has("caseworker")  # anyone else is refused for who they are, by the service
        else []
    )
    if missing:
        return await run_in_threadpool(
            render_case, request, ref, status=400, form=kept, errors=missing
        )
    return await _change(
        request,
        ref,
        lambda uow: diligence.record(
            uow,
            ref,
            check,
            who.name,
            result=result,
            rating=rating or None,
            evidence=evidence,
            attachment=attachment,
        ),
        kept=kept,
        fields={
            "result": "result",
            "rating": "rating",
            "evidence": "evidence",
            "The attachment": "evidence-file",
        },
        general="diligence-form",
        done=lambda d: (
            f"Recorded on {d['ref']}: "
            + next(
                (
                    f"{c['label']}, {STATUS_WORDS[c['status']].label.lower()}"
                    for c in d["checks"]
                    if c["check"] == check
                ),
                check,
            )
            + "."
        ),
        then=f"/cases/{ref.upper()}#diligence",
    )


def _diligence_missing(
    request: Request, ref: str, code: str, result: str, rating: str | None, evidence: str
) -> list[Problem]:
    """What the record of a check leaves out, each at its field in words ("Select whether
    the check passed or failed"), before the service is asked; [] when nothing is."""
    with reading(request.app.state.engine) as conn:
        row = case_service.load_case(conn, ref)
        spec = programme_store.spec_for(conn, row.programme)
    found = spec.diligence.get(code)
    out = []
    if result not in RESULTS:
        out.append(Problem("Select whether the check passed or failed", "result"))
    if found is not None and found.kind == "rating" and not rating:
        out.append(
            Problem(f"Select the rating of {found.label.lower()}: low, medium or high", "rating")
        )
    elif found is not None and found.kind != "rating" and rating:
        out.append(
            Problem(f"{found.label} is passed or failed, not rated: choose No rating", "rating")
        )
    if not evidence.strip():
        out.append(Problem("Enter the evidence: what the result rests on", "evidence"))
    return out


def _visible(request: Request, ref: str) -> Viewer:
    """The person posting, refused as "not found" when the case is not theirs to see."""
    who = viewer(request)
    with reading(request.app.state.engine) as conn:
        row = case_service.load_case(conn, ref)
    who.check_sees(row.ref, row.lead, row.partners, row.state)
    return who


ROUTES = [
    Route("/cases", case_list, methods=["GET"]),
    Route("/cases/{ref}", case_page, methods=["GET"]),
    Route("/cases/{ref}/advance", advance, methods=["POST"]),
    Route("/cases/{ref}/confirm", confirm_page, methods=["GET"]),
    Route("/cases/{ref}/contribution", contribution, methods=["POST"]),
    Route("/cases/{ref}/assign", assign, methods=["POST"]),
    Route("/cases/{ref}/diligence", record_diligence, methods=["POST"]),
]
