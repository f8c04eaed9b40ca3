"""Due diligence before eligibility (DESIGN.md section 9): running, recording, showing checks.

Every check is a no-state history row `diligence` on the case, written by the
one chain writer in the unit of work of what caused it:

- the automatic checks the programme lists are run by the `run_diligence`
  effect of the moves that submit a case and find it eligible (`check`; for
  a network area, `start_assessment`) or, for a bid, ineligible, one row each with its result
  (actor `system`);
- a caseworker records a manual or rating check, or overrides an automatic
  one the programme file marks overridable (`record`), with evidence and at
  most one evidence file (the same rules as a return's).

The history rows are the record: `facts_of` reads them back for the guard
`diligence_passed` (states.rules) and for the checklist every face shows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import BigInteger, Connection, Engine, bindparam, func, literal, select

from states import DEFINITIONS
from states.diligence import (
    KIND_WORDS,
    RATING_WORDS,
    RATINGS,
    RESULTS,
    STATUS_WORDS,
    Check,
    Status,
    applicable,
    checklist,
    not_passed,
    AUTOMATIC,
)
from states.facts import DiligenceRecord
from workflow.errors import Malformed, RuleViolation, checked_text
from workflow.services import attachments, directory
from workflow.services.access import check_staff_read, check_visible, may_act
from workflow.services.chain import Entry, append, change, moment
from workflow.services.unit_of_work import UnitOfWork, unit
from workflow.storage.prepared import Prepared
from workflow.storage.records import CaseRecord
from workflow.storage.tables import cases, history
from workflow.logs import event

__all__ = [
    "TRIGGER",
    "facts_of",
    "run",
    "record",
    "show",
    "checklist_json",
    "status_of",
    "programme_counts",
]

TRIGGER = "diligence"
log = logging.getLogger("casework.cases")
MAX_EVIDENCE = 4000  # characters of evidence text

_ROWS = Prepared(
    select(history.c.actor, history.c.at, history.c.payload)
    .where(history.c.case_id == bindparam("case_id"), history.c.trigger == literal(TRIGGER))
    .order_by(history.c.seq)
)


def _submitted(case_id: Any) -> Any:
    """When a case was first submitted, as the id of its `submit` row (ids are the history's
    order across cases); null for a draft."""
    return (
        select(func.min(history.c.id))
        .where(
            history.c.case_id == case_id,
            history.c.trigger == literal("submit"),
            history.c.checkpoint.is_(None),
        )
        .scalar_subquery()
    )


_NOT_YET = literal(2**62, BigInteger)  # a draft being submitted comes after every other


def _duplicates_of(kind: str, has_category: bool) -> Prepared[Any]:
    """Cases of a lead in a programme (and category) that still stand and were submitted
    before this one: the bid submitted first stands, whichever draft was opened first. One
    statement for each kind of case, with or without a category, built once."""
    q = select(cases.c.ref).where(
        cases.c.programme == bindparam("programme"),
        cases.c.kind == literal(kind),
        cases.c.lead == bindparam("lead"),
        cases.c.id != bindparam("case_id"),
        cases.c.state.in_([literal(s) for s in DEFINITIONS[kind].group("standing")]),
        _submitted(cases.c.id) < func.coalesce(_submitted(bindparam("case_id")), _NOT_YET),
    )
    q = (
        q.where(cases.c.category == bindparam("category"))
        if has_category
        else q.where(cases.c.category.is_(None))
    )
    return Prepared(q.order_by(cases.c.id))


_DUPLICATES: dict[tuple[str, bool], Prepared[Any]] = {}


def _duplicates(conn: Connection, case: CaseRecord) -> tuple[str, ...]:
    """Cases of the same lead, programme and category submitted before this one that still
    stand."""
    key = (case.kind, case.category is not None)
    stmt = _DUPLICATES.get(key)
    if stmt is None:
        stmt = _DUPLICATES[key] = _duplicates_of(*key)
    return tuple(
        row.ref
        for row in stmt.all(
            conn,
            {
                "programme": case.programme,
                "lead": case.lead,
                "case_id": case.id,
                "category": case.category,
            },
        )
    )


def _records(conn: Connection, case_id: int) -> tuple[list[DiligenceRecord], list[dict[str, Any]]]:
    """(caseworkers' records, the automatic runs' rows) on a case, oldest first."""
    manual: list[DiligenceRecord] = []
    runs: list[dict[str, Any]] = []
    for row in _ROWS.all(conn, {"case_id": case_id}):
        p = row.payload or {}
        if p.get("automatic"):
            runs.append({**p, "at": row.at})
        else:
            manual.append(
                DiligenceRecord(
                    check=p.get("check", ""),
                    result=p.get("result", ""),
                    actor=row.actor,
                    at=row.at,
                    evidence=p.get("evidence", ""),
                    rating=p.get("rating"),
                )
            )
    return manual, runs


def _rating(records: list[DiligenceRecord]) -> str | None:
    """The latest rating of each rated check, the highest of them."""
    latest: dict[str, str] = {}
    for r in records:
        if r.rating:
            latest[r.check] = r.rating
    return max(latest.values(), key=RATINGS.index) if latest else None


def facts_of(conn: Connection, case: CaseRecord) -> dict[str, Any]:
    """The facts of the group `diligence` (states.facts.FACT_GROUPS) for `case`."""
    manual, _ = _records(conn, case.id)
    return {
        "diligence": tuple(manual),
        "duplicates": _duplicates(conn, case),
        "fraud_rating": _rating(manual),
    }


_NEEDS = frozenset({"organisations", "diligence"})


def _facts(conn: Connection, case: CaseRecord, actor: str, now: datetime, spec: Any) -> Any:
    from workflow.services.facts import facts_for

    return facts_for(conn, case, actor=actor, now=now, spec=spec, needs=_NEEDS)


def _facts_after(done: Any) -> Any:
    """The facts of the automatic checks after the move `done`: those its rules were planned
    with, where they hold the groups the checks read (submit's organisations, check's
    organisations and diligence), else read again. Nothing they hold has changed since
    in the move's transaction but the case's caseworker (and, for submit, the group
    `diligence` is read here): the move's own history row is not a `diligence` row and
    the earlier duplicates are other cases."""
    case = done.after
    planned = done.facts
    if planned is None or "organisations" not in done.fetched or case.kind != planned.kind:
        return _facts(done.conn, case, done.actor.name, done.now, done.spec)
    facts = replace(planned, caseworker=case.caseworker)
    if "diligence" not in done.fetched:
        facts = replace(facts, **facts_of(done.conn, case))
    return facts


# --- the automatic checks (an effect) ---------------------------------------------------
def run(done: Any) -> CaseRecord:
    """The effect `run_diligence`: each automatic check applying to the case, one row each;
    the case as it is after them."""
    conn, spec = done.conn, done.spec
    case: CaseRecord = done.after
    checks = [c for c in applicable(spec.diligence, case.category) if c.kind == "automatic"]
    if not checks:
        return case
    facts = _facts_after(done)
    # The checklist has run every automatic check already (its problems are what the
    # check finds): each is taken from there, not run a second time.
    standing = {s.check.code: s for s in checklist(facts)}
    entries = []
    for check in checks:
        found = standing.get(check.code)
        problems = list(found.problems) if found is not None else AUTOMATIC[check.code](facts)
        payload: dict[str, Any] = {
            "check": check.code,
            "automatic": True,
            "result": "fail" if problems else "pass",
            "on": done.move.trigger,
        }
        if problems:
            payload["problems"] = problems
            if standing[check.code].status == "overridden":
                payload["overridden"] = True
        entries.append(
            Entry(
                from_state=case.state,
                to_state=case.state,
                trigger=TRIGGER,
                actor="system",
                role="system",
                at=done.now,
                payload=payload,
            )
        )
    return append(conn, case, entries)  # one row a check, chained in order, the head moved once


# --- a caseworker's record ----------------------------------------------------------------
def _refuse(message: str) -> RuleViolation:
    return RuleViolation(message)


def _check_of(spec: Any, case: CaseRecord, code: str) -> Check:
    check: Check | None = spec.diligence.get(code)
    listed = applicable(spec.diligence, case.category)
    if check is None:
        known = ", ".join(c.code for c in listed) or "none"
        raise _refuse(
            f"'{code}' is not a due-diligence check of {spec.code} (its checks for "
            f"{case.ref}: {known}); nothing was written."
        )
    if check not in listed:
        raise _refuse(
            f"{check.label} ({code}) is only for {spec.code} bids of "
            f"{', '.join(spec.category_label(c) for c in check.categories)}; "
            f"{case.ref} is {spec.category_label(case.category or '')}."
        )
    if not check.recordable:
        raise _refuse(
            f"{check.label} ({code}) is run by casework and cannot be overridden "
            f"(the programme file does not mark it overridable); nothing was written."
        )
    return check


def _shape(result: str, rating: str | None) -> list[str]:
    """What is not a result or a rating at all (the API's document states both)."""
    out = []
    if result not in RESULTS:
        out.append(f"result: '{result}' is not pass or fail")
    if rating is not None and rating not in RATINGS:
        out.append(f"rating: '{rating}' is not low, medium or high")
    return out


def _rules(check: Check, rating: str | None, evidence: str | None) -> list[str]:
    """What the check's own rules refuse: a rating where none is taken, or none where one is."""
    out = []
    if check.kind == "rating" and rating is None:
        out.append(f"{check.label} ({check.code}) needs a rating, low, medium or high")
    elif check.kind != "rating" and rating is not None:
        out.append(f"{check.label} ({check.code}) is a pass or fail check and takes no rating")
    if not (evidence or "").strip():
        out.append("the evidence must say what the result rests on")
    elif len(evidence or "") > MAX_EVIDENCE:
        out.append(f"the evidence must be at most {MAX_EVIDENCE} characters")
    return out


def record(
    work: UnitOfWork | Engine,
    ref: str,
    code: str,
    actor_name: str,
    *,
    result: str,
    evidence: str | None,
    rating: str | None = None,
    attachment: tuple[str, bytes] | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """A caseworker's record of check `code` on case `ref`: pass or fail, with evidence.

    Everything is checked before anything is written: the check, the result,
    the rating, the evidence's text and any file, who records, and the case's
    state. Returns the checklist as it now stands.
    """
    from workflow.services.lifecycle import load_case, refuse_stale

    began = time.perf_counter()
    evidence = checked_text("evidence", evidence)
    shape = _shape(result, rating)
    with unit(work) as uow:
        conn = uow.conn
        case = load_case(conn, ref, hold=True)
        actor = directory.actor(conn, actor_name)
        check_visible(actor, case)
        if shape:  # named as people know the check, from the case's programme
            known = uow.spec(case.programme).diligence.get(code)
            what = f"{known.label} ({code})" if known is not None else f"'{code}'"
            raise Malformed(f"The record of {what}", shape)
        role = may_act(actor, "record_diligence", case.lead, f"record due diligence on {case.ref}")
        refuse_stale(case, expected_version)
        spec = uow.spec(case.programme)
        check = _check_of(spec, case, code)
        definition = DEFINITIONS[case.kind]
        if not definition.is_in(case.state, "to_check"):
            raise _refuse(
                f"{case.ref} is {definition.state_label(case.state).lower()}: due "
                f"diligence is recorded before the case is found eligible, not now."
            )
        problems = _rules(check, rating, evidence)
        if problems:
            raise RuleViolation(
                f"The record of {check.label} ({code}) was refused: " + "; ".join(problems) + ".",
                problems,
            )
        if attachment is not None:
            attachments.check(*attachment)  # the file's own rules, before a byte is written
        payload: dict[str, Any] = {
            "check": code,
            "automatic": False,
            "result": result,
            "evidence": evidence,
        }
        if rating is not None:
            payload["rating"] = rating
        if attachment is not None:
            payload["attachment"] = attachments.store(
                *attachment, attachments.files_root(uow.engine)
            ).as_json()
        after = change(
            conn,
            case,
            Entry(
                from_state=case.state,
                to_state=case.state,
                trigger=TRIGGER,
                actor=actor.name,
                role=role,
                at=uow.now,
                payload=payload,
            ),
        )
        shown = checklist_json(conn, after, spec, actor.name, uow.now)
    # The check and its result only: the evidence is what a person typed.
    event(
        log,
        "diligence.recorded",
        f"{code}: {result}" + (f", rated {rating}" if rating else ""),
        case=after.ref,
        person=actor.name,
        seconds=time.perf_counter() - began,
        trigger=TRIGGER,
    )
    return shown


# --- showing --------------------------------------------------------------------------------
def status_of(
    conn: Connection, case: CaseRecord, spec: Any, actor: str, now: datetime
) -> list[Status]:
    return checklist(_facts(conn, case, actor, now, spec))


def _record_json(conn: Connection, case_id: int) -> dict[str, dict[str, Any]]:
    """The latest caseworker's record of each check, with its evidence and file."""
    out: dict[str, dict[str, Any]] = {}
    for row in _ROWS.all(conn, {"case_id": case_id}):
        p = row.payload or {}
        if p.get("automatic"):
            continue
        out[p.get("check", "")] = {
            "result": p.get("result"),
            "rating": p.get("rating"),
            "evidence": p.get("evidence"),
            "by": row.actor,
            "at": moment(row.at),
            "attachment": p.get("attachment"),
        }
    return out


def checklist_json(
    conn: Connection,
    case: CaseRecord,
    spec: Any,
    actor: str,
    now: datetime,
    *,
    with_codes: bool = True,
) -> dict[str, Any]:
    """The case's checklist: each check, where it stands, who recorded it, when, on what.
    `still_needed` names each check with its code after its label, unless not `with_codes`
    (a web page's words)."""
    facts = _facts(conn, case, actor, now, spec)
    statuses = checklist(facts)
    recorded = _record_json(conn, case.id)
    _, runs = _records(conn, case.id)
    last_run = {r["check"]: r for r in runs}
    checks = []
    for s in statuses:
        run_row = last_run.get(s.check.code)
        checks.append(
            {
                "check": s.check.code,
                "label": s.check.label,
                "sentence": s.check.sentence,
                "kind": s.check.kind,
                "overridable": s.check.overridable,
                "recordable": s.check.recordable,
                "status": s.status,
                "problems": list(s.problems),
                "recorded": recorded.get(s.check.code),
                "last_run": (
                    {
                        "result": run_row["result"],
                        "at": moment(run_row["at"]),
                        "on": run_row.get("on"),
                    }
                    if run_row
                    else None
                ),
            }
        )
    definition = DEFINITIONS[case.kind]
    return {
        "ref": case.ref,
        "kind": case.kind,
        "state": case.state,
        "version": case.version,
        "recordable_now": definition.is_in(case.state, "to_check"),
        "passed": all(s.passed for s in statuses),
        "still_needed": not_passed(statuses, case.ref, with_codes=with_codes),
        "fraud_rating": facts.fraud_rating,
        "checks": checks,
    }


def failed_reason(shown: Mapping[str, Any]) -> str:
    """A reason to declare a case ineligible that names each check it failed (from
    `checklist_json`); empty when none failed. The council is emailed it, so it names
    the checks in words only."""
    failed = [c for c in shown["checks"] if c["status"] == "failed"]
    return " ".join(
        f"{failed_check(c['label'])} {'; '.join(c['problems']) or 'recorded as failed'}."
        for c in failed
    )


def failed_check(label: str) -> str:
    """How `failed_reason` names a failed check: `Failed the due diligence check "No duplicate
    bid":`, in quotes, as "No duplicate bid failed" read as if no duplicate was found."""
    return f'Failed the due diligence check "{label}":'


def show(work: UnitOfWork | Engine, ref: str, actor_name: str | None = None) -> dict[str, Any]:
    """Case `ref`'s checklist; for a person named, only if they are staff (the command
    line's operator names nobody, as `case show` without --as)."""
    from workflow.services.lifecycle import load_case

    with unit(work, read_only=True) as uow:
        case = load_case(uow.conn, ref)
        name = ""
        if actor_name is not None:
            actor = directory.actor(uow.conn, actor_name)
            check_staff_read(actor, case, "due diligence")
            name = actor.name
        return checklist_json(uow.conn, case, uow.spec(case.programme), name, uow.now)


# --- for the report ---------------------------------------------------------------------------
def programme_counts(conn: Connection, programme: str) -> dict[str, Any]:
    """Checks run and failed in a programme: automatic runs, caseworkers' records, overrides."""
    q = (
        select(history.c.payload)
        .join(cases, cases.c.id == history.c.case_id)
        .where(cases.c.programme == programme, history.c.trigger == TRIGGER)
    )
    by_check: dict[str, dict[str, int]] = {}
    for (payload,) in conn.execute(q):
        p: Mapping[str, Any] = payload or {}
        counts = by_check.setdefault(
            p.get("check", ""), {"run": 0, "failed": 0, "recorded": 0, "overridden": 0}
        )
        if p.get("automatic"):
            counts["run"] += 1
            counts["failed"] += p.get("result") == "fail"
            counts["overridden"] += bool(p.get("overridden"))
        else:
            counts["recorded"] += 1
            counts["failed"] += p.get("result") == "fail"
    return by_check


WORDS = {"kind": KIND_WORDS, "status": STATUS_WORDS, "rating": RATING_WORDS}
