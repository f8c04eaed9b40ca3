"""Monitoring returns: scheduling a case's checkpoints, and the services that move them.

Checkpoints are created in the same transaction as the move that starts
monitoring (a bid's award accepted, a network area activated). A council, or
a caseworker on its behalf, submits a return; a caseworker accepts, queries or
waives it. The reminder ladder is the sweep's (workflow/sweep.py): submitting
stops it at once, because a submitted checkpoint has no next step.

Each move is one transaction: the checkpoint row with a version check, one
history row in its case's chain (carrying `checkpoint`, `Q2`), nothing else.
On PostgreSQL the checkpoint row is locked before its case row, in the same
order as the sweep, so the two never deadlock.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import Connection, Engine, bindparam, select, update

from states import CHECKPOINT, DEFINITIONS
from states.documents import parse_return
from states.errors import DocumentError
from states.ladder import LadderStep, due_dates, step_moments
from states.money import money_json
from states.rules import ACTOR_RULES, RULES
from workflow.services import attachments, chain, messages, directory
from workflow.services import programme_files as programme_store
from workflow.services.calendar import is_working_day, london_day
from workflow.storage.db import reading
from workflow.services.engine import Actor, allowed_triggers, plan
from workflow.errors import (
    CheckpointNotFound,
    ConflictError,
    InvalidTransition,
    Malformed,
    RuleViolation,
    ValueRefused,
    checked_text,
)
from workflow.services.facts import facts_for, needs_of
from workflow.storage.tables import cases, checkpoints
from workflow.storage.prepared import Prepared
from workflow.storage.records import CaseRecord, CheckpointRecord
from workflow.services.unit_of_work import UnitOfWork, unit
from workflow.logs import event
from states.programme import ProgrammeSpec

log = logging.getLogger("casework.returns")

if TYPE_CHECKING:
    from workflow.services.effects import MoveDone

# The case states in which returns are collected (a suspended case still owes them).
COLLECTING = {kind: DEFINITIONS[kind].group("monitored") for kind in ("bid", "area")}
# The case states in which the ladder holds a return's overdue, escalation and
# suspension steps (workflow.runtime.sweep.holds): payments are already held.
HOLDING = {kind: DEFINITIONS[kind].group("held") for kind in ("bid", "area")}
DECISIONS = ("accept", "query", "waive")
CHASED = CHECKPOINT.group("chased")  # the ladder runs only on these
OVERDUE = CHECKPOINT.group("late")


# --- the ladder's times ------------------------------------------------------
@lru_cache(maxsize=16384)
def ladder_moments(
    ladder: tuple[LadderStep, ...], due: date
) -> tuple[tuple[LadderStep, datetime], ...]:
    """Each step of `ladder` for a return due on `due`, at 09:00 London time, as UTC."""
    return tuple(step_moments(due, ladder, is_working_day))


def pending_steps(
    ladder: tuple[LadderStep, ...], due: date, done: list[str]
) -> list[tuple[LadderStep, datetime]]:
    """The steps not yet done, earliest first."""
    return [(s, at) for s, at in ladder_moments(ladder, due) if s.name not in done]


def label(ref: str) -> str:
    """`TCA-2013-0001/Q2` -> `Q2`, the form history rows carry."""
    return ref.rsplit("/", 1)[1]


# --- scheduling (an effect of accept / activate) ------------------------------
def plan_schedule(
    monitoring: Any, start: date, today: date
) -> tuple[list[tuple[int, date]], list[date]]:
    """(number, due date) of each return to create, and the fixed dates left out as past.

    Fixed dates keep their place in the programme's list (the third date is
    always Q3), so the same label means the same return in every case.
    """
    listed = list(monitoring.dates)
    dues = due_dates(start, monitoring, is_working_day)
    planned, past = [], []
    for n, due in enumerate(dues, start=1):
        if listed and due < today:
            past.append(listed[n - 1])
        else:
            planned.append((n, due))
    return planned, past


def schedule_checkpoints(done: "MoveDone") -> None:
    """Create the case's checkpoints and record, in one history row, what was scheduled."""
    conn, case, spec, now = done.conn, done.case, done.spec, done.now
    today = london_day(now)
    planned, past = plan_schedule(spec.monitoring, today, today)
    existing = set(
        conn.execute(select(checkpoints.c.n).where(checkpoints.c.case_id == case.id)).scalars()
    )
    rows: list[dict[str, Any]] = []
    for n, due in planned:
        if n in existing:
            continue
        first_step_at = ladder_moments(spec.ladder, due)[0][1]
        rows.append(
            {
                "ref": f"{case.ref}/Q{n}",
                "case_id": case.id,
                "n": n,
                "state": CHECKPOINT.initial,
                "version": 1,
                "due": due,
                "level": 0,
                "next_step_at": first_step_at,
                "steps_done": [],
                "scheduled_at": now,
            }
        )
    if rows:
        conn.execute(checkpoints.insert(), rows)
    payload: dict[str, Any] = {
        "checkpoints": [{"checkpoint": f"Q{r['n']}", "due": r["due"].isoformat()} for r in rows]
    }
    if past:
        payload["not_scheduled"] = [{"date": d.isoformat(), "why": "already past"} for d in past]
    chain.change(
        conn,
        done.after,
        chain.Entry(
            from_state=done.move.dest,
            to_state=done.move.dest,
            trigger="schedule_checkpoints",
            actor=done.actor.name,
            role=done.move.role,
            at=now,
            payload=payload,
        ),
    )


# --- reading rows --------------------------------------------------------------
_BY_REF = select(checkpoints).where(checkpoints.c.ref == bindparam("ref"))
_CHECKPOINT = Prepared(_BY_REF, record=CheckpointRecord)
_CHECKPOINT_HELD = Prepared(_BY_REF.with_for_update(), record=CheckpointRecord)
_BY_ID = select(cases).where(cases.c.id == bindparam("id"))
_CASE = Prepared(_BY_ID, record=CaseRecord)
_CASE_HELD = Prepared(_BY_ID.with_for_update(), record=CaseRecord)


def load_checkpoint(conn: Connection, ref: str, *, lock: bool = False) -> CheckpointRecord:
    read = _CHECKPOINT_HELD if lock and conn.dialect.name == "postgresql" else _CHECKPOINT
    cp = read.first(conn, {"ref": ref.strip().upper()})
    if cp is None:
        raise CheckpointNotFound(ref)
    return cp


def case_of(conn: Connection, case_id: int, *, lock: bool = False) -> CaseRecord:
    read = _CASE_HELD if lock and conn.dialect.name == "postgresql" else _CASE
    case = read.first(conn, {"id": case_id})
    if case is None:
        raise LookupError(f"no case with id {case_id}")
    return case


def write_move(
    conn: Connection,
    cp: CheckpointRecord,
    case: CaseRecord,
    *,
    trigger: str,
    dest: str,
    actor: str,
    role: str,
    now: datetime,
    reason: str | None = None,
    payload: dict[str, Any] | None = None,
    **values: Any,
) -> CaseRecord:
    """Move checkpoint `cp` to `dest` and chain its history row (through chain.change)."""
    return chain.change(
        conn,
        case,
        chain.Entry(
            checkpoint=label(cp.ref),
            from_state=cp.state,
            to_state=dest,
            trigger=trigger,
            actor=actor,
            role=role,
            reason=reason,
            at=now,
            payload=payload or {},
        ),
        checkpoint=cp,
        checkpoint_values=values,
    )


def _refuse_if_not_collecting(case: CaseRecord, cp: CheckpointRecord, what: str) -> None:
    if case.state not in COLLECTING[case.kind]:
        state = DEFINITIONS[case.kind].state_phrase(case.state)
        raise RuleViolation(
            f"{case.ref} is {state}, so its monitoring returns are no longer "
            f"collected: {cp.ref} cannot be {what}."
        )


def _check_version(cp: CheckpointRecord, expected: int | None) -> None:
    if expected is not None and cp.version != expected:
        raise ConflictError(
            cp.ref,
            f"{cp.ref} has changed since you looked at it (version "
            f"{cp.version}, not {expected}); nothing of yours was written.",
            current_version=cp.version,
        )


# --- services ------------------------------------------------------------------
def submit_return(
    work: UnitOfWork | Engine,
    ref: str,
    actor_name: str,
    *,
    figures: Mapping[str, Any] | None = None,
    attachment: tuple[str, bytes] | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Submit checkpoint `ref`'s return (figures and at most one evidence file).

    Everything is checked before anything is written: the figures, the file,
    who may submit and the programme's required fields. The file is stored
    just before the transaction commits; if the commit then fails, the
    stored file is harmless (kept by hash, used by no row).
    """
    with unit(work) as uow:
        conn = uow.conn
        cp = load_checkpoint(conn, ref, lock=True)
        case = case_of(conn, cp.case_id, lock=True)
        actor = directory.actor(conn, actor_name)
        _check_version(cp, expected_version)
        spec = uow.spec(case.programme)
        try:
            parsed = parse_return({} if figures is None else figures, programme=spec)
        except DocumentError as err:
            raise ValueRefused(f"The return for {cp.ref}", err.problems) from None
        now = uow.now
        submit = CHECKPOINT.machine.transition_for("submit", cp.state)
        facts = facts_for(
            conn,
            case,
            actor=actor.name,
            now=now,
            figures=parsed,
            spec=spec,
            needs=needs_of(submit.guards if submit else ()),
        )
        move = plan(
            CHECKPOINT,
            cp.ref,
            cp.state,
            "submit",
            actor,
            lead=case.lead,
            reason=None,
            facts=facts,
            rules=RULES,
            actor_rules=ACTOR_RULES,
        )
        _refuse_if_not_collecting(case, cp, "submitted")
        stored = None
        if attachment is not None:  # checked in full before a byte is written
            stored = attachments.store(*attachment, attachments.files_root(uow.engine))
        payload: dict[str, Any] = {"figures": figures_json(parsed, spec), "due": cp.due.isoformat()}
        if london_day(now) > cp.due:
            payload["days_after_due"] = (london_day(now) - cp.due).days
        values: dict[str, Any] = {"figures": parsed, "submitted_at": now, "next_step_at": None}
        if stored is not None:
            payload["attachment"] = stored.as_json()
            values.update(attachment_sha256=stored.sha256, attachment_name=stored.name)
        write_move(
            conn,
            cp,
            case,
            trigger="submit",
            dest=move.dest,
            actor=actor.name,
            role=move.role,
            now=now,
            payload=payload,
            **values,
        )
        shown = checkpoint_json(conn, load_checkpoint(conn, cp.ref), case, spec, actor)
    event(
        log,
        "return.submitted",
        f"{cp.ref}: {cp.state} -> {move.dest}",
        case=case.ref,
        person=actor.name,
        trigger="submit",
    )
    return shown


def decide_return(
    work: UnitOfWork | Engine,
    ref: str,
    trigger: str,
    actor_name: str,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """A caseworker's decision on a return: `accept`, `query` or `waive` (with a reason)."""
    reason = checked_text("reason", reason)
    with unit(work) as uow:
        conn = uow.conn
        cp = load_checkpoint(conn, ref, lock=True)
        case = case_of(conn, cp.case_id, lock=True)
        actor = directory.actor(conn, actor_name)
        if trigger not in DECISIONS:
            allowed = [
                t
                for t in allowed_triggers(CHECKPOINT, cp.state, actor, case.lead)
                if t in DECISIONS
            ]
            raise InvalidTransition(cp.ref, cp.state, trigger, allowed, definition=CHECKPOINT)
        _check_version(cp, expected_version)
        move = plan(
            CHECKPOINT,
            cp.ref,
            cp.state,
            trigger,
            actor,
            lead=case.lead,
            reason=reason,
            facts=None,
            rules=RULES,
            actor_rules=ACTOR_RULES,
        )
        now = uow.now
        # Neither a queried return nor a finished one is chased by the ladder.
        after = write_move(
            conn,
            cp,
            case,
            trigger=trigger,
            dest=move.dest,
            actor=actor.name,
            role=move.role,
            now=now,
            reason=(reason or "").strip() or None,
            next_step_at=None,
        )
        spec = uow.spec(case.programme)
        if move.transition.effects:  # an accepted return releases its payment tranches
            from workflow.services.effects import MoveDone, run_effects

            run_effects(
                MoveDone(
                    conn, case, after, move, actor, now, spec, after.last_seq, {}, checkpoint=cp
                )
            )
        if trigger == "query":
            _tell_council_of_query(
                conn, cp, case, spec, reason=reason, seq=case.last_seq + 1, now=now
            )
        else:
            lift_risk_if_settled(conn, case.id)
        shown = checkpoint_json(conn, load_checkpoint(conn, cp.ref), case, spec, actor)
    event(
        log,
        "return.decided",
        f"{cp.ref}: {cp.state} -> {move.dest}",
        case=case.ref,
        person=actor.name,
        trigger=trigger,
    )
    return shown


def _tell_council_of_query(
    conn: Connection,
    cp: CheckpointRecord,
    case: CaseRecord,
    spec: ProgrammeSpec,
    *,
    reason: str | None,
    seq: int,
    now: datetime,
) -> None:
    """The council learns by email what was asked, with a link to correct and resend."""
    messages.queue(
        conn,
        key=f"{case.ref}:query:{seq}",
        kind="checkpoint.queried",
        case=case,
        spec=spec,
        to=("council",),
        cc=("caseworker",),
        now=now,
        reason=(reason or "").strip(),
        checkpoint=cp,
    )


def lift_risk_if_settled(conn: Connection, case_id: int) -> None:
    """A case flagged at risk by escalation is no longer so once no return of it is overdue."""
    behind = conn.execute(
        select(checkpoints.c.id)
        .where(checkpoints.c.case_id == case_id, checkpoints.c.state.in_(OVERDUE))
        .limit(1)
    ).first()
    if behind is None:
        conn.execute(
            update(cases)
            .where(cases.c.id == case_id, cases.c.at_risk.is_(True))
            .values(at_risk=False)
        )


def lift_risk(done: "MoveDone") -> None:
    lift_risk_if_settled(done.conn, done.case.id)


def list_checkpoints(
    work: UnitOfWork | Engine,
    *,
    case: str | None = None,
    overdue: bool = False,
    org: str | None = None,
    state: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Checkpoints by due date: of one case, overdue ones, one organisation's, or in a state.

    `org` finds the returns of cases the organisation leads or is a partner in.
    """
    if state is not None and state not in CHECKPOINT.states:
        raise Malformed.unknown("return state", state, CHECKPOINT.states, CHECKPOINT.state_label)
    q = (
        select(
            checkpoints,
            cases.c.ref.label("case_ref"),
            cases.c.title,
            cases.c.lead,
            cases.c.programme,
            cases.c.state.label("case_state"),
        )
        .join(cases, cases.c.id == checkpoints.c.case_id)
        .order_by(checkpoints.c.due, checkpoints.c.id)
    )
    if case:
        q = q.where(cases.c.ref == case.strip().upper())
    if overdue:
        q = q.where(checkpoints.c.state.in_(OVERDUE))
    if state:
        q = q.where(checkpoints.c.state == state)
    if org:
        from workflow.services.lifecycle import (
            involving,
        )  # here: cases imports this module's effect

        q = q.where(involving(org))
    if limit is not None:
        q = q.limit(limit)
    with unit(work, read_only=True) as uow:
        return [_listed(row, uow.spec(row.programme)) for row in uow.conn.execute(q)]


def get_checkpoint(engine: Engine, ref: str, actor_name: str | None = None) -> dict[str, Any]:
    """One return: its state, figures, evidence file, ladder and history."""
    with reading(engine) as conn:
        cp = load_checkpoint(conn, ref)
        case = case_of(conn, cp.case_id)
        actor = directory.actor(conn, actor_name) if actor_name else None
        spec = programme_store.spec_for(conn, case.programme)
        out = checkpoint_json(conn, cp, case, spec, actor)
        out["history"] = [
            chain.as_dict(r) for r in chain.rows_for(conn, case.id) if r.checkpoint == label(cp.ref)
        ]
        return out


# --- shapes ----------------------------------------------------------------------
def figures_json(figures: Mapping[str, Any] | None, spec: ProgrammeSpec) -> dict[str, Any]:
    """Figures for people and JSON: money as pounds with two decimals, text as given."""
    fields = spec.monitoring.fields
    return {
        k: (money_json(v) if k in fields and fields[k].kind == "money" else v)
        for k, v in (figures or {}).items()
    }


def next_step(cp: Any, spec: ProgrammeSpec) -> dict[str, Any] | None:
    if cp.next_step_at is None:
        return None
    left = pending_steps(spec.ladder, cp.due, list(cp.steps_done))
    if not left:
        return None
    step, at = left[0]
    return {"name": step.name, "at": max(at, cp.next_step_at).isoformat()}


def _listed(row: Any, spec: ProgrammeSpec) -> dict[str, Any]:
    return {
        "ref": row.ref,
        "case": row.case_ref,
        "state": row.state,
        "due": row.due.isoformat(),
        "level": row.level,
        "version": row.version,
        "title": row.title,
        "lead": row.lead,
        "programme": row.programme,
        "case_state": row.case_state,
        "next_step": next_step(row, spec),
        "submitted_at": row.submitted_at.isoformat() if row.submitted_at else None,
    }


def checkpoint_json(
    conn: Connection,
    cp: CheckpointRecord,
    case: CaseRecord,
    spec: ProgrammeSpec,
    actor: Actor | None = None,
) -> dict[str, Any]:
    done = list(cp.steps_done)
    ladder = [
        {"name": s.name, "at": at.isoformat(), "done": s.name in done}
        for s, at in ladder_moments(spec.ladder, cp.due)
    ]
    attachment = None
    if cp.attachment_sha256:
        attachment = {
            "name": cp.attachment_name,
            "sha256": cp.attachment_sha256,
            "media_type": attachments.media_type(cp.attachment_name or ""),
        }
    return {
        "ref": cp.ref,
        "case": case.ref,
        "state": cp.state,
        "due": cp.due.isoformat(),
        "level": cp.level,
        "version": cp.version,
        "title": case.title,
        "lead": case.lead,
        "programme": case.programme,
        "case_state": case.state,
        "allowed_triggers": allowed_triggers(CHECKPOINT, cp.state, actor, case.lead),
        "figures": figures_json(cp.figures, spec),
        "attachment": attachment,
        "submitted_at": cp.submitted_at.isoformat() if cp.submitted_at else None,
        "next_step": next_step(cp, spec),
        "ladder": ladder,
        "fields": {
            name: {"kind": f.kind, "required": f.required}
            for name, f in spec.monitoring.fields.items()
        },
    }
