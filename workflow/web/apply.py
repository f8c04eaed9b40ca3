"""/apply: a council applies on the web, one question a page, and answers a caseworker's question.

- `/apply` lists what the council may apply for and its applications in hand.
- `/apply/new/PROGRAMME` asks the first question (a bid's category, an area's title);
  answering it opens the case in its first state (`lifecycle.open_case(..., draft=True)`).
- `/apply/REF/FIELD` asks one question of the application (`states.questions`: the
  category's own questions, derived from the programme file); each answer is saved at
  once through the amend service (`workflow.services.applications.amend`), the one writer
  of an application's document, with the version the page showed.
- `/apply/REF/evidence` attaches evidence files (the same rules as returns:
  `services.attachments`), kept by hash and listed in the document's `evidence`.
- `/apply/REF` is "check your answers", with a change link beside each; in a draft it
  submits (`submit`), and while the council is asked a question (the caseworker's
  question shown above the application) it answers (`answer`), both through
  `lifecycle.advance`. The clarification email links here.

Only the lead organisation's people use these pages (a partner's or another council's
person is told the application is not found); what a page asks of a case that is not in
a state its application may change in is shown on the case page instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable
from urllib.parse import quote

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from states import DEFINITIONS
from states.errors import DocumentError
from states.money import MONEY_FIELDS, parse_money
from states.programme import ProgrammeSpec
from states.questions import (
    FIELD_WORDS,
    KIND_OF_PROGRAMME,
    Question,
    answers,
    field_label,
    questions,
)
from workflow.errors import CaseNotFound, CaseworkError, Malformed, NotFound
from workflow.services import applications, attachments, chain, lifecycle
from workflow.web.downloads import evidence_download
from workflow.services.unit_of_work import UnitOfWork
from workflow.storage.records import CaseRecord
from workflow.storage.tables import cases, organisations, programmes
from workflow.web import queries
from workflow.web.auth import Forbidden, Viewer, require, session_of, viewer
from workflow.web.errors import SeeOther, problems_of, status_of
from workflow.web.forms import Posted, not_pounds, posted
from workflow.web.labels import FIELD_NAMED, without_field_codes
from workflow.web.pages import Problem, page

ACCEPTED_FILES = ",".join(attachments.ALLOWED)
MAX_PARTNER_ROWS = 12  # an expression of interest's partner rows on one page
# The council's moves from "check your answers", by the state the case is in.
MOVES = ("submit", "answer")


def _council(request: Request) -> Viewer:
    who = require(request, "council", doing="apply for funding on the web")
    if not who.org:
        raise Forbidden(
            f"{who.name} belongs to no organisation, so there is nothing to "
            f"apply for. Ask the programme team to set your organisation."
        )
    return who


def _engine(request: Request) -> Any:
    return request.app.state.engine


# --- what a page needs of a case ------------------------------------------------------
def _in_hand(uow: UnitOfWork, ref: str, who: Viewer) -> CaseRecord:
    """The case `ref`, which must be this person's organisation's to change; anything else
    (another council's, a partner's) is "not found", never said to exist."""
    record = lifecycle.load_case(uow.conn, ref)
    if record.lead != who.org:
        raise CaseNotFound(ref)
    return record


@contextmanager
def _application(request: Request, ref: str) -> Iterator[tuple[UnitOfWork, CaseRecord]]:
    """What a page of an application reads first: the council's person (`_council`), and
    in one read the case `ref`, theirs to change (`_in_hand`). A case whose application
    can no longer change has its own page instead: the person is sent there (SeeOther)."""
    who = _council(request)
    with UnitOfWork(_engine(request), read_only=True) as uow:
        record = _in_hand(uow, ref, who)
        if not applications.amendable(record):
            raise SeeOther(f"/cases/{record.ref}")
        yield uow, record


def _question_of(spec: ProgrammeSpec, document: dict, name: str) -> tuple[Question, list[Question]]:
    asked = questions(spec, document.get("category"))
    found = next((q for q in asked if q.name == name), None)
    if found is None:
        raise NotFound(f"The application asks no question '{name}'.")
    return found, asked


def _after(asked: list[Question], name: str, ref: str) -> str:
    """Where the page after question `name` is: the next question, then the evidence."""
    names = [q.name for q in asked]
    i = names.index(name)
    return f"/apply/{ref}/{names[i + 1]}" if i + 1 < len(names) else f"/apply/{ref}/evidence"


def _org_choices(uow: UnitOfWork, lead: str) -> list[tuple[str, str]]:
    """The register of organisations, by name, to choose partners from (the lead left out)."""
    rows = uow.conn.execute(
        select(organisations.c.code, organisations.c.name)
        .where(organisations.c.code != lead)
        .order_by(organisations.c.name)
    )
    return [(r.code, r.name) for r in rows]


# --- the start page ---------------------------------------------------------------------
def start(request: Request) -> Response:
    who = _council(request)
    with UnitOfWork(_engine(request), read_only=True) as uow:
        rows = uow.conn.execute(select(programmes.c.code).order_by(programmes.c.code))
        offered = []
        for code in rows.scalars():
            spec = uow.spec(code)
            if spec.kind in KIND_OF_PROGRAMME:
                offered.append((spec.code, spec.name, spec.kind))
        in_hand = drafts_of(uow, who.org or "")
    return page(request, "apply_start.html", offered=offered, in_hand=in_hand)


def drafts_of(uow: UnitOfWork, org: str) -> list[Any]:
    """The applications `org` leads that it may still change (drafts, questions to answer)."""
    states = sorted({s for d in DEFINITIONS.values() for s in d.groups.get("amendable", ())})
    return list(
        uow.conn.execute(
            select(
                cases.c.ref,
                cases.c.kind,
                cases.c.title,
                cases.c.state,
                cases.c.programme,
                cases.c.updated_at,
            )
            .where(cases.c.lead == org, cases.c.state.in_(states))
            .order_by(cases.c.id)
        )
    )


async def choose(request: Request) -> Response:
    form = await posted(request)
    who = await run_in_threadpool(_council, request)
    code = form.text("programme").strip().lower()
    with UnitOfWork(_engine(request), read_only=True) as uow:
        known = {c.lower() for c in uow.conn.execute(select(programmes.c.code)).scalars()}
        in_hand = drafts_of(uow, who.org or "") if code not in known else []
        offered = (
            [
                (s.code, s.name, s.kind)
                for s in map(uow.spec, sorted(known))
                if s.kind in KIND_OF_PROGRAMME
            ]
            if code not in known
            else []
        )
    if code not in known:
        return page(
            request,
            "apply_start.html",
            status=400,
            offered=offered,
            in_hand=in_hand,
            errors=[Problem("Select what you are applying for", "programme")],
        )
    return RedirectResponse(f"/apply/new/{quote(code)}", status_code=303)


# --- one question -------------------------------------------------------------------------
def new_question(request: Request) -> Response:
    return render_new(request, request.path_params["programme"])


def render_new(
    request: Request, code: str, *, errors: list[Problem] | None = None, typed: dict | None = None
) -> Response:
    """The first question, before there is a case: answering it opens one."""
    _council(request)
    with UnitOfWork(_engine(request), read_only=True) as uow:
        spec = uow.spec(code)
        q = questions(spec)[0]
    return page(
        request,
        "apply_question.html",
        status=400 if errors else 200,
        errors=errors or [],
        q=q,
        spec=spec,
        ref=None,
        version=None,
        action=f"/apply/new/{spec.code}",
        value=(typed or {}).get(q.name, ""),
        rows=[],
        choices=[],
        back="/apply",
        change=False,
        position=(1, None),
    )


async def open_new(request: Request) -> Response:
    code = request.path_params["programme"]
    form = await posted(request)
    who = await run_in_threadpool(_council, request)

    def run() -> dict:
        with UnitOfWork(_engine(request), read_only=True) as uow:
            spec = uow.spec(code)
        q = questions(spec)[0]
        value, missing = _answer(q, form)
        if missing:
            raise _Missing(missing)
        document = {"programme": spec.code, "lead": who.org, q.name: value}
        return lifecycle.open_case(
            _engine(request), KIND_OF_PROGRAMME[spec.kind], document, who.name, draft=True
        )

    try:
        opened = await run_in_threadpool(run)
    except _Missing as err:
        return await run_in_threadpool(
            render_new, request, code, errors=[err.problem], typed=form.values()
        )
    except NotFound:
        raise
    except CaseworkError as err:
        return await run_in_threadpool(
            render_new,
            request,
            code,
            typed=form.values(),
            errors=problems_of(err, {}, general="answer"),
        )
    with UnitOfWork(_engine(request), read_only=True) as uow:
        spec = uow.spec(opened["programme"])
        asked = questions(spec, opened["application"].get("category"))
    first = asked[0].name
    session_of(request).flash(
        f"Your application {opened['ref']} is saved as a draft: you, "
        f"and anyone else at your organisation, can come back to it."
    )
    return RedirectResponse(_after(asked, first, opened["ref"]), status_code=303)


def question_page(request: Request) -> Response:
    return render_question(request, request.path_params["ref"], request.path_params["field"])


def render_question(
    request: Request,
    ref: str,
    name: str,
    *,
    errors: list[Problem] | None = None,
    typed: Posted | None = None,
    status: int = 200,
) -> Response:
    change = request.query_params.get("change") == "1" or (
        typed is not None and typed.text("change") == "1"
    )
    with _application(request, ref) as (uow, record):
        spec = uow.spec(record.programme)
        document = dict(record.application or {})
        q, asked = _question_of(spec, document, name)
        choices = _org_choices(uow, record.lead) if q.kind == "organisations" else []
    value: Any = document.get(q.name)
    rows: list[dict] = []
    if typed is not None:
        value = typed.data.getlist(q.name) if q.kind == "organisations" else typed.text(q.name)
    elif q.kind == "lines":
        value = "\n".join(value or [])
    elif q.kind == "money" and value is not None:
        value = _pounds_typed(value)
    if q.kind == "area_partners":
        rows = _partner_rows(typed, document.get("partners") or [])
    names = [x.name for x in asked]
    i = names.index(q.name)
    back = (
        f"/apply/{record.ref}"
        if change
        else f"/apply/{record.ref}/{names[i - 1]}"
        if i
        else f"/apply/{record.ref}"
    )
    return page(
        request,
        "apply_question.html",
        status=status,
        errors=errors or [],
        q=q,
        spec=spec,
        ref=record.ref,
        version=record.version,
        value=value,
        rows=rows,
        action=f"/apply/{record.ref}/{q.name}",
        choices=choices,
        back=back,
        change=change,
        position=(i + 1, len(asked)),
    )


def _pounds_typed(value: Any) -> str:
    """A stored amount ("250000.00") as a person would type it back ("250000")."""
    text = str(value)
    return text[:-3] if text.endswith(".00") else text


def _partner_rows(typed: Posted | None, stored: list) -> list[dict]:
    """The rows of an expression of interest's partners: as typed, else as stored, and two
    empty rows more to add partners (no script needed)."""
    if typed is not None:
        rows = [
            {
                "name": typed.text(f"partners-{i}-name"),
                "evidence": typed.text(f"partners-{i}-evidence"),
            }
            for i in range(min(typed.number("partner-rows") or 0, MAX_PARTNER_ROWS))
        ]
    else:
        rows = [
            {"name": p.get("name") or "", "evidence": p.get("evidence") or ""}
            for p in stored
            if isinstance(p, dict)
        ]
    rows += [{"name": "", "evidence": ""}] * 2
    return rows[:MAX_PARTNER_ROWS]


class _Missing(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.text)
        self.problem = problem


def _first_id(q: Question) -> str:
    """The element an error summary's link for question `q` goes to."""
    if q.kind == "choice":
        return f"{q.name}-0"
    if q.kind == "organisations":
        return f"{q.name}-0"
    if q.kind == "area_partners":
        return "partners-0-name"
    return q.name


def _answer(q: Question, form: Posted) -> tuple[Any, Problem | None]:
    """The answer to `q` as the document holds it, and the problem when a required one
    is missing or half given (None when there is none), linked to the box at fault."""
    value, text, at = _answer_at(q, form)
    return value, (Problem(text, at or _first_id(q)) if text else None)


def _answer_at(q: Question, form: Posted) -> tuple[Any, str, str]:
    """`_answer`'s value, the problem's words ("" for none) and the box they are about
    ("" for the question's first)."""
    if q.kind == "organisations":
        value: Any = [c for c in form.data.getlist(q.name) if isinstance(c, str) and c]
        missing = not value
    elif q.kind == "lines":
        value = [line.strip() for line in form.text(q.name).split("\n") if line.strip()]
        missing = not value
    elif q.kind == "area_partners":
        value = []
        for i in range(min(form.number("partner-rows") or 0, MAX_PARTNER_ROWS)):
            name, evidence = (
                form.text(f"partners-{i}-name").strip(),
                form.text(f"partners-{i}-evidence").strip(),
            )
            # A row half filled in is a slip, not a draft's gap: said at the box left empty.
            if name and not evidence:
                return (
                    value,
                    f"Enter the evidence that {name} is bought in",
                    f"partners-{i}-evidence",
                )
            if evidence and not name:
                return value, f"Enter the name of partner {i + 1}", f"partners-{i}-name"
            if name:
                value.append({"name": name, "evidence": evidence})
        missing = not value
    elif q.kind == "money":
        value = form.pounds(q.name)
        missing = not value
        wrong = not_pounds(form.text(q.name), q.label)
        if wrong:
            return value, wrong, ""
    else:
        value = form.text(q.name)
        missing = not value.strip()
    if missing and q.required:
        return value, q.missing, ""
    return (None if missing else value), "", ""


async def answer_question(request: Request) -> Response:
    ref, name = request.path_params["ref"], request.path_params["field"]
    form = await posted(request)
    who = await run_in_threadpool(_council, request)
    change = form.text("change") == "1"

    def run() -> str:
        with UnitOfWork(_engine(request)) as uow:
            record = _in_hand(uow, ref, who)
            spec = uow.spec(record.programme)
            document = dict(record.application or {})
            q, _asked = _question_of(spec, document, name)
            value, missing = _answer(q, form)
            if missing:
                raise _Missing(missing)
            new = dict(document)
            if value is None:
                new.pop(q.name, None)
            else:
                new[q.name] = value
            if q.name == "category":
                # Only the new category's questions stay answered.
                kept = {x.name for x in questions(spec, value)}
                for other in questions(spec, document.get("category")):
                    if other.name not in kept:
                        new.pop(other.name, None)
            if _same(record, spec, new):
                return record.ref  # nothing changed: nothing to write
            applications.amend(uow, record, new, who.actor, expected_version=form.number("version"))
            return record.ref

    try:
        done = await run_in_threadpool(run)
    except _Missing as err:
        return await run_in_threadpool(
            render_question, request, ref, name, errors=[err.problem], typed=form, status=400
        )
    except NotFound:
        raise
    except CaseworkError as err:
        return await run_in_threadpool(
            render_question,
            request,
            ref,
            name,
            typed=form,
            status=status_of(err),
            errors=problems_of(err, _field_ids(name, form), general=_general(name)),
        )
    with UnitOfWork(_engine(request), read_only=True) as uow:
        record = lifecycle.load_case(uow.conn, done)
        asked = questions(uow.spec(record.programme), (record.application or {}).get("category"))
    then = f"/apply/{done}" if change and name != "category" else _after(asked, name, done)
    return RedirectResponse(then, status_code=303)


def _same(record: CaseRecord, spec: ProgrammeSpec, new: dict) -> bool:
    """Whether `new` says what the stored document says (money written either way)."""
    old = dict(record.application or {})
    if old.keys() != new.keys():
        return False
    for key, value in new.items():
        if old[key] != value and not _same_money(key, old[key], value):
            return False
    return True


def _same_money(key: str, stored: Any, typed: Any) -> bool:
    """Whether an amount typed ("250000.5") is the one stored ("250000.50")."""
    if key not in MONEY_FIELDS or not isinstance(typed, str) or not isinstance(stored, str):
        return False
    try:
        return parse_money(typed, key) == parse_money(stored, key)
    except DocumentError:
        return False


def _field_ids(name: str, form: Posted) -> dict[str, str]:
    """The names service refusals use for this page's fields, and their elements' ids."""
    ids = {name: name}
    if name in ("category", "arrangement") or (
        name == "partners" and not form.data.get("partner-rows")
    ):
        ids[name] = f"{name}-0"  # a choice: the first radio or checkbox
        ids.update({f"{name}[{i}]": f"{name}-0" for i in range(100)})
    if name == "partners":
        for i in range(MAX_PARTNER_ROWS):
            ids[f"partners[{i}]"] = f"partners-{i}-name"
            ids[f"partners[{i}].name"] = f"partners-{i}-name"
            ids[f"partners[{i}].evidence"] = f"partners-{i}-evidence"
        ids["partners"] = "partners-0-name" if form.data.get("partner-rows") else "partners-0"
    if name == "service_areas":
        ids.update({f"service_areas[{i}]": "service_areas" for i in range(100)})
    return ids


def _general(name: str) -> str:
    return "partners-0" if name == "partners" else name


# --- every answer on one page: one amendment ------------------------------------------------
def change_page(request: Request) -> Response:
    return render_change(request, request.path_params["ref"])


def render_change(
    request: Request,
    ref: str,
    *,
    errors: list[Problem] | None = None,
    typed: Posted | None = None,
    status: int = 200,
) -> Response:
    """Every question of the application on one page, so that the changes an answer needs
    are saved together: one amendment, one version, each changed field marked as such."""
    with _application(request, ref) as (uow, record):
        spec = uow.spec(record.programme)
        document = dict(record.application or {})
        asked = question_of_case(uow, record)
        items = []
        for q in questions(spec, document.get("category")):
            value: Any = document.get(q.name)
            if typed is not None:
                value = (
                    typed.data.getlist(q.name) if q.kind == "organisations" else typed.text(q.name)
                )
            elif q.kind == "lines":
                value = "\n".join(value or [])
            elif q.kind == "money" and value is not None:
                value = _pounds_typed(value)
            items.append(
                {
                    "q": q,
                    "value": value,
                    "rows": (
                        _partner_rows(typed, document.get("partners") or [])
                        if q.kind == "area_partners"
                        else []
                    ),
                    "choices": (
                        _org_choices(uow, record.lead) if q.kind == "organisations" else []
                    ),
                }
            )
    return page(
        request,
        "apply_change.html",
        status=status,
        errors=errors or [],
        case=record,
        spec=spec,
        items=items,
        asked=asked,
    )


async def save_changes(request: Request) -> Response:
    ref = request.path_params["ref"]
    form = await posted(request)
    who = await run_in_threadpool(_council, request)

    def run() -> str:
        with UnitOfWork(_engine(request)) as uow:
            record = _in_hand(uow, ref, who)
            spec = uow.spec(record.programme)
            document = dict(record.application or {})
            new = dict(document)
            missing: list[Problem] = []
            for q in questions(spec, document.get("category")):
                value, problem = _answer(q, form)
                if problem:
                    missing.append(problem)
                elif value is None:
                    new.pop(q.name, None)
                else:
                    new[q.name] = value
            if missing:
                raise _AllMissing(missing)
            kept = {x.name for x in questions(spec, new.get("category"))}
            for other in questions(spec, document.get("category")):
                if other.name not in kept:
                    new.pop(other.name, None)
            if not _same(record, spec, new):
                applications.amend(
                    uow, record, new, who.actor, expected_version=form.number("version")
                )
            return record.ref

    try:
        done = await run_in_threadpool(run)
    except _AllMissing as err:
        return await run_in_threadpool(
            render_change, request, ref, errors=err.problems, typed=form, status=400
        )
    except NotFound:
        raise
    except CaseworkError as err:
        ids: dict[str, str] = {}
        for name in ("category", "title", "partners", "service_areas", "arrangement"):
            ids.update(_field_ids(name, form))
        return await run_in_threadpool(
            render_change,
            request,
            ref,
            typed=form,
            status=status_of(err),
            errors=problems_of(err, {**_all_ids(), **ids}, general="change"),
        )
    session_of(request).flash("Your changes are saved.")
    return RedirectResponse(f"/apply/{done}", status_code=303)


class _AllMissing(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("missing answers")
        self.problems = problems


def _all_ids() -> dict[str, str]:
    """The text and money fields' ids are their names."""
    return {name: name for name in FIELD_WORDS}


# --- evidence files -----------------------------------------------------------------------
def evidence_page(request: Request) -> Response:
    return render_evidence(request, request.path_params["ref"])


def render_evidence(
    request: Request, ref: str, *, errors: list[Problem] | None = None, status: int = 200
) -> Response:
    with _application(request, ref) as (uow, record):
        asked = questions(uow.spec(record.programme), (record.application or {}).get("category"))
    return page(
        request,
        "apply_evidence.html",
        status=status,
        errors=errors or [],
        case=record,
        files=_files(record),
        accepted_files=ACCEPTED_FILES,
        max_mb=attachments.MAX_BYTES // 1024 // 1024,
        back=f"/apply/{record.ref}/{asked[-1].name}",
    )


def _files(record: CaseRecord) -> list[dict]:
    return [f for f in (record.application or {}).get("evidence") or () if isinstance(f, dict)]


async def attach(request: Request) -> Response:
    ref = request.path_params["ref"]
    form = await posted(request)
    who = await run_in_threadpool(_council, request)
    upload = form.file("evidence")
    data = (upload.filename or "", await upload.read()) if upload is not None else None

    def run() -> str:
        if data is None:
            raise Malformed("The attachment", ["evidence: choose a file to attach"])
        attachments.check(*data)  # refused before anything is written
        with UnitOfWork(_engine(request)) as uow:
            record = _in_hand(uow, ref, who)
            applications.attach(
                uow, record, *data, who.actor, expected_version=form.number("version")
            )
            return attachments.clean_name(data[0])

    return await _evidence_change(request, ref, run, lambda name: f"{name} is attached.")


async def detach(request: Request) -> Response:
    ref = request.path_params["ref"]
    form = await posted(request)
    who = await run_in_threadpool(_council, request)
    sha = form.text("sha256").strip()

    def run() -> str:
        with UnitOfWork(_engine(request)) as uow:
            record = _in_hand(uow, ref, who)
            files = _files(record)
            gone = [f for f in files if f.get("sha256") == sha]
            if not gone:
                raise NotFound(f"{record.ref} has no evidence file {sha[:12]}.")
            document = dict(record.application or {})
            rest = [f for f in files if f.get("sha256") != sha]
            if rest:
                document["evidence"] = rest
            else:
                document.pop("evidence", None)
            applications.amend(
                uow, record, document, who.actor, expected_version=form.number("version")
            )
            return str(gone[0].get("name", ""))

    return await _evidence_change(request, ref, run, lambda name: f"{name} is removed.")


async def _evidence_change(
    request: Request, ref: str, run: Callable[[], str], done: Callable[[str], str]
) -> Response:
    try:
        name = await run_in_threadpool(run)
    except NotFound:
        raise
    except CaseworkError as err:
        return await run_in_threadpool(
            render_evidence,
            request,
            ref,
            status=status_of(err),
            errors=problems_of(err, {"evidence": "evidence"}, general="evidence"),
        )
    session_of(request).flash(done(name))
    return RedirectResponse(f"/apply/{ref.upper()}/evidence", status_code=303)


def evidence_file(request: Request) -> Response:
    """An evidence file of the application, checked against its hash before it is sent.
    The lead's people read it here; staff and partners on the case page's link."""
    ref, sha = request.path_params["ref"], request.path_params["sha256"]
    who = viewer(request)
    with UnitOfWork(_engine(request), read_only=True) as uow:
        record = lifecycle.load_case(uow.conn, ref)
        who.check_sees(record.ref, record.lead, record.partners, record.state)
        found = next((f for f in _files(record) if f.get("sha256") == sha), None)
        if found is None:  # an earlier version's file stays readable to who sees the case
            found = next(
                (
                    f
                    for v in applications.versions(uow, record.ref)
                    for f in applications.version_of(uow, record.ref, v["version"])["document"].get(
                        "evidence"
                    )
                    or ()
                    if isinstance(f, dict) and f.get("sha256") == sha
                ),
                None,
            )
    if found is None:
        raise NotFound(f"{record.ref} has no evidence file {sha[:12]}.")
    data = attachments.read(sha, attachments.files_root(_engine(request)))
    name = str(found.get("name") or "evidence")
    return evidence_download(data, name, attachments.media_type(name))


# --- check your answers, submit, answer -------------------------------------------------
def check_page(request: Request) -> Response:
    return render_check(request, request.path_params["ref"])


def render_check(
    request: Request,
    ref: str,
    *,
    errors: list[Problem] | None = None,
    status: int = 200,
    answer: str = "",
) -> Response:
    with _application(request, ref) as (uow, record):
        spec = uow.spec(record.programme)
        document = dict(record.application or {})
        codes = [c for c in document.get("partners") or () if isinstance(c, str)]
        names = queries.org_names(uow.conn, codes)
        asked = question_of_case(uow, record)
    definition = DEFINITIONS[record.kind]
    move = next(
        (t for t in MOVES if definition.machine.transition_for(t, record.state) is not None), None
    )
    rows = answers(spec, document, names)
    return page(
        request,
        "apply_check.html",
        status=status,
        errors=_at_questions(errors or [], {name for name, _label, _answer in rows}),
        case=record,
        spec=spec,
        rows=rows,
        files=_files(record),
        move=move,
        move_label=definition.trigger_label(move) if move else "",
        asked=asked,
        answer=answer,
        evidence_label=field_label("evidence"),
        kind_words="bid" if record.kind == "bid" else "expression of interest",
    )


def _at_questions(errors: list[Problem], questions: set[str]) -> list[Problem]:
    """`errors` with each bracketed field that is a question here taken out of the words
    and the line linked to that question's Answer or Change link (`answer-NAME`)."""
    out = []
    for problem in errors:
        named = next((m for m in FIELD_NAMED.finditer(problem.text) if m[1] in questions), None)
        if named is None:
            out.append(Problem(without_field_codes(problem.text), problem.field, problem.parts))
            continue
        text = problem.text[: named.start()] + problem.text[named.end() :]
        out.append(Problem(text, f"answer-{named[1]}"))
    return out


def question_of_case(uow: UnitOfWork, record: CaseRecord) -> dict | None:
    """The caseworker's question the council is asked to answer: the reason of the newest
    move into the state the case is in now (`ask_clarification`), with who asked and when."""
    if record.state not in DEFINITIONS[record.kind].groups.get("clarifying", ()):
        return None
    rows = [chain.as_dict(r) for r in chain.rows_for(uow.conn, record.id)]
    for row in reversed(rows):
        if row["to_state"] == record.state and row["from_state"] != record.state:
            payload = row.get("payload") or {}
            text = payload.get("question") or row.get("reason")
            return {"text": text or "", "actor": row["actor"], "at": row["at"]} if text else None
    return None


async def send(request: Request) -> Response:
    ref = request.path_params["ref"]
    form = await posted(request)
    who = await run_in_threadpool(_council, request)
    trigger = form.text("trigger").strip()
    if trigger not in MOVES:
        raise NotFound(f"There is no '{trigger}' here.")
    # The council's answer in its own words, kept as the answer's reason in the history.
    answer = form.optional("reason") if trigger == "answer" else None

    def run() -> dict:
        with UnitOfWork(_engine(request)) as uow:
            record = _in_hand(uow, ref, who)
            return lifecycle.advance(
                uow,
                record,
                trigger,
                who.actor,
                reason=answer,
                expected_version=form.number("version"),
            )

    try:
        done = await run_in_threadpool(run)
    except NotFound:
        raise
    except CaseworkError as err:
        return await run_in_threadpool(
            render_check,
            request,
            ref,
            status=status_of(err),
            errors=problems_of(err, {"reason": "reason"}, general="send"),
            answer=answer or "",
        )
    what = "bid" if done["kind"] == "bid" else "expression of interest"
    session_of(request).flash(
        f"Your {what} {done['ref']} is submitted. We have emailed your organisation a receipt."
        if trigger == "submit"
        else f"Your answer is sent: {done['ref']} goes back to the assessors."
    )
    return RedirectResponse(f"/cases/{done['ref']}", status_code=303)


ROUTES = [
    Route("/apply", start, methods=["GET"]),
    Route("/apply", choose, methods=["POST"]),
    Route("/apply/new/{programme}", new_question, methods=["GET"]),
    Route("/apply/new/{programme}", open_new, methods=["POST"]),
    Route("/apply/{ref}", check_page, methods=["GET"]),
    # The clarification email's link (case.clarification_requested): the same page.
    Route("/cases/{ref}/answer", check_page, methods=["GET"]),
    Route("/apply/{ref}/send", send, methods=["POST"]),
    Route("/apply/{ref}/change", change_page, methods=["GET"]),
    Route("/apply/{ref}/change", save_changes, methods=["POST"]),
    Route("/apply/{ref}/evidence", evidence_page, methods=["GET"]),
    Route("/apply/{ref}/evidence", attach, methods=["POST"]),
    Route("/apply/{ref}/evidence/remove", detach, methods=["POST"]),
    Route("/apply/{ref}/evidence/{sha256}", evidence_file, methods=["GET"]),
    Route("/apply/{ref}/{field}", question_page, methods=["GET"]),
    Route("/apply/{ref}/{field}", answer_question, methods=["POST"]),
]
