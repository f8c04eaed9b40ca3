"""The case service: open a case, advance it by a trigger, read it.

Every change is one transaction: the state with its version check, one
history row chained to the last, and any outbox rows. The statements of the
hot path are built once and run through SQLAlchemy Core.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Mapping

from sqlalchemy import Connection, Engine, select

from states import DEFINITIONS
from states.documents import named_organisations, parse_area, parse_bid
from states.errors import DocumentError
from states.facts import Facts, OrgFacts
from states.rules import ACTOR_RULES, RULES
from workflow.services import applications, awards, messages, directory
from workflow.services import programme_files as programme_store
from workflow.services.access import may_act
from workflow.services import agreements
from workflow.services.agreements import Drawn, Recording
from workflow.services.effects import RECORDS, MoveDone, run_effects
from workflow.services.engine import Actor, plan
from workflow.errors import ConflictError, Malformed, checked_text
from workflow.services.facts import facts_for, needs_of, reads_ledger
from workflow.logs import event
from workflow.services.chain import GENESIS, Entry, Head, change, insert_row, seal
from workflow.storage.db import new_id
from workflow.storage.tables import case_orgs, cases, organisations
from workflow.storage.records import CaseRecord
from workflow.services.unit_of_work import UnitOfWork, unit

# Reading lives in `reads` (which imports nothing that changes a case); its
# names are kept here for the callers that read and change alike.
from workflow.services.reads import CASE_KINDS as CASE_KINDS, case_history as case_history
from workflow.services.reads import case_json as case_json, load_case as load_case
from workflow.services.reads import involving as involving, list_cases as list_cases
from workflow.services.reads import show as show

log = logging.getLogger("casework.cases")

_PARSERS = {"bid": parse_bid, "area": parse_area}


# --- opening ----------------------------------------------------------------
def open_case(
    work: UnitOfWork | Engine,
    kind: str,
    document: Mapping[str, Any],
    actor_name: str,
    *,
    draft: bool = False,
) -> dict[str, Any]:
    """Check the document, then create the case in `draft` with its first history row
    (in the caller's unit of work, the API's with its Idempotency-Key, or one of its own).

    With `draft`, the document may leave out what a draft need not say yet (the web's
    first question opens the case): `states.documents.parse_bid`'s `draft`.
    """
    definition = DEFINITIONS[kind]
    began = time.perf_counter()
    with unit(work) as uow:
        conn = uow.conn
        actor = directory.actor(conn, actor_name)
        app = check_document(conn, kind, document, draft=draft)
        spec = uow.spec(app.programme)
        role = may_act(actor, "open", app.lead, f"open a {kind} for {app.lead}")
        now = uow.now
        ref = programme_store.next_reference(conn, spec.code)
        entry = Entry(
            to_state=definition.initial,
            trigger="create",
            actor=actor.name,
            role=role,
            at=now,
            payload={"definition_version": definition.version},
        )
        digest = seal(ref, 1, GENESIS, entry)
        partners = list(app.partners) if kind == "bid" else []
        case_id = new_id(
            conn.execute(
                cases.insert().values(
                    ref=ref,
                    kind=kind,
                    programme=spec.code,
                    state=definition.initial,
                    version=1,
                    definition_version=definition.version,
                    title=app.title,
                    category=getattr(app, "category", None),
                    lead=app.lead,
                    partners=partners,
                    amount_pence=getattr(app, "amount_pence", None),
                    application=app.to_json(),
                    caseworker=actor.name if "caseworker" in actor.roles else None,
                    last_seq=1,
                    last_hash=digest,
                    created_at=now,
                    updated_at=now,
                )
            )
        )
        insert_row(conn, Head(case_id, ref, 0, GENESIS), entry)
        applications.keep_version(conn, case_id, 1, app.to_json(), [], actor.name, now)
        conn.execute(
            case_orgs.insert(),
            [{"org": app.lead, "case_id": case_id, "role": "lead"}]
            + [
                {"org": p, "case_id": case_id, "role": "partner"} for p in partners if p != app.lead
            ],
        )
        shown = case_json(conn, load_case(conn, ref), actor)
    event(
        log,
        "case.opened",
        f"{kind} opened for {app.lead}",
        case=ref,
        person=actor.name,
        seconds=time.perf_counter() - began,
        trigger="create",
    )
    return shown


def check_document(
    conn: Connection, kind: str, document: Mapping[str, Any], *, draft: bool = False
) -> Any:
    """The checked application (BidApplication or AreaApplication) of a `kind` document,
    or Malformed naming every problem: what `case open` and every amendment check. A
    `draft` may leave out its title and amount (the rules at `submit` refuse it then)."""
    spec = programme_store.find_spec(conn, document.get("programme"))
    codes = named_organisations(document)
    known = {
        r.code
        for r in conn.execute(select(organisations.c.code).where(organisations.c.code.in_(codes)))
    }
    try:
        return _PARSERS[kind](document, programme=spec, organisations=known, draft=draft)
    except DocumentError as err:
        raise Malformed(f"The {kind} document", err.problems) from None


# --- advancing --------------------------------------------------------------
def advance(
    work: UnitOfWork | Engine,
    case: str | CaseRecord,
    trigger: str,
    actor: Actor | str,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
    payload: dict[str, Any] | None = None,
    notify: bool = True,
    drawn: Drawn | None = None,
) -> dict[str, Any]:
    """Fire `trigger` on `case` (a reference, or the record its caller read) as `actor`.

    The one way a case changes state, for every face and the sweep: inside the
    caller's unit of work, or one of its own. `expected_version` is the version
    the page, script or If-Match saw (ConflictError when the case has moved
    on). `notify=False` leaves out the event's own email, for a caller that
    sends its own in its place (the ladder's suspension).

    A move that keeps a grant agreement (the offer) uses `drawn`, the agreement
    drawn before the caller's unit of work opened (`draw_ahead`), when the
    agreement it keeps says exactly what was drawn; given an engine, it draws
    ahead itself, before its own transaction opens.
    """
    began = time.perf_counter()
    if drawn is None and not isinstance(work, UnitOfWork) and agreements.draws_ahead(trigger):
        drawn = agreements.draw_ahead(work, case, trigger)
    with unit(work) as uow:
        record = load_case(uow.conn, case) if isinstance(case, str) else case
        who = actor if isinstance(actor, Actor) else directory.actor(uow.conn, actor)
        refuse_stale(record, expected_version)
        after = _move(
            uow, record, trigger, who, reason=reason, payload=payload, notify=notify, drawn=drawn
        )
        shown = case_json(uow.conn, after, who)
    event(
        log,
        "case.moved",
        f"{trigger}: {record.state} -> {after.state}",
        case=record.ref,
        person=who.name,
        seconds=time.perf_counter() - began,
        trigger=trigger,
    )
    return shown


def draw_ahead(engine: Engine, case: str | CaseRecord, trigger: str) -> Drawn | None:
    """What a face calls before opening the unit of work of a move (`advance(..., drawn=)`):
    the grant agreement that move would keep, drawn now, outside the write transaction
    (None for a move that keeps none). See workflow.services.agreements."""
    return agreements.draw_ahead(engine, case, trigger)


def refuse_stale(case: CaseRecord, expected_version: int | None) -> None:
    """ConflictError when the page or script that asked saw an older version of `case`."""
    if expected_version is not None and case.version != expected_version:
        raise ConflictError(
            case.ref,
            f"{case.ref} has changed since you looked at it "
            f"(version {case.version}, not {expected_version}); "
            f"nothing of yours was written.",
            current_version=case.version,
        )


def _organisations(
    case: CaseRecord, facts: Facts | None, needs: frozenset[str]
) -> dict[str, OrgFacts] | None:
    """The bid's lead and partners as its facts read them in this move's transaction (None
    when they were not read): what the offer's agreement names them by, not read twice."""
    if facts is None or "organisations" not in needs or case.kind != "bid":
        return None
    return {org.code: org for org in (facts.lead, *facts.partners) if org is not None}


def _move(
    uow: UnitOfWork,
    case: CaseRecord,
    trigger: str,
    actor: Actor,
    *,
    reason: str | None,
    payload: dict[str, Any] | None,
    notify: bool,
    drawn: Drawn | None = None,
) -> CaseRecord:
    """Plan the move, hand it to the chain writer, run its effects, queue its email."""
    reason = checked_text("reason", reason)  # every face's moves come through here
    conn, now = uow.conn, uow.now
    definition = DEFINITIONS[case.kind]
    spec = uow.spec(case.programme)
    t = definition.machine.transition_for(trigger, case.state)
    facts = None
    needs: frozenset[str] = frozenset()
    if t is not None and (t.moves_funds or reads_ledger(t)):
        awards.lock_fund(conn, case.programme)
    if t is not None and (t.guards or t.actor_rules):
        needs = needs_of((*t.guards, *t.actor_rules))
        facts = facts_for(conn, case, actor=actor.name, now=now, spec=spec, needs=needs)
    move = plan(
        definition,
        case.ref,
        case.state,
        trigger,
        actor,
        lead=case.lead,
        reason=reason,
        facts=facts,
        rules=RULES,
        actor_rules=ACTOR_RULES,
    )
    body = dict(payload or {})
    if move.transition.records:
        noted = Recording(
            conn, case, spec, now, actor.name, drawn, orgs=_organisations(case, facts, needs)
        )
        for name in move.transition.records:
            if name not in body and (value := RECORDS[name](noted)) is not None:
                body[name] = value
    entry = Entry(
        from_state=case.state,
        to_state=move.dest,
        trigger=trigger,
        actor=actor.name,
        role=move.role,
        reason=(reason or None),
        at=now,
        payload=body,
    )
    after = change(
        conn,
        case,
        entry,
        values={
            "state": move.dest,
            "updated_at": now,
            # A case a council opened has no caseworker until one acts on it.
            "caseworker": case.caseworker or (actor.name if move.role == "caseworker" else None),
        },
    )
    seq = after.last_seq
    changed = run_effects(
        MoveDone(conn, case, after, move, actor, now, spec, seq, body, facts=facts, fetched=needs)
    )
    if changed is not None:  # effects wrote to the case row themselves
        after = changed
    if notify and move.transition.notice is not None:
        messages.notify_event(
            conn,
            after,
            spec,
            move.transition.notice,
            trigger,
            seq,
            now=now,
            reason=reason,
            book=uow.book,
        )
    return after
