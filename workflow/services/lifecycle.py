"""The case service: open a case, advance it by a trigger, read it.

Every change is one transaction: the state with its version check, one
history row chained to the last, and any outbox rows. The statements of the
hot path are built once and run through SQLAlchemy Core.
"""
from __future__ import annotations

import logging
import time
from types import SimpleNamespace
from typing import Any, Mapping

from sqlalchemy import Connection, Engine, bindparam, func, select, update

from states import DEFINITIONS
from states.documents import named_organisations, parse_area, parse_bid
from states.errors import DocumentError
from states.money import money_json
from states.roles import ACTION_ROLES
from states.rules import ACTOR_RULES, RULES
from workflow import clock
from workflow.services import awards, messages, directory
from workflow.services import programme_files as programme_store
from workflow.storage.db import reading
from workflow.services.effects import MoveDone, moves_funds, run_effects
from workflow.services.engine import Actor, allowed_triggers, plan
from workflow.errors import CaseNotFound, ConflictError, Malformed, PermissionDenied, checked_text
from workflow.services.facts import facts_for, needs_of
from workflow.runtime.logs import event
from workflow.services.chain import GENESIS, Entry, Head, insert_row, rows_for, seal, as_dict
from workflow.storage.tables import case_orgs, cases, organisations
from workflow.storage.prepared import Prepared

log = logging.getLogger("casework.cases")

_CASE_BY_REF = Prepared(select(cases).where(cases.c.ref == bindparam("ref")))
_MOVE = Prepared(
    update(cases)
    .where(cases.c.id == bindparam("_id"), cases.c.version == bindparam("_version"),
           cases.c.last_seq == bindparam("_seq"))
    .values(state=bindparam("state"), version=bindparam("version"),
            last_seq=bindparam("last_seq"), last_hash=bindparam("last_hash"),
            updated_at=bindparam("updated_at"),
            # A case a council opened has no caseworker until one acts on it.
            caseworker=func.coalesce(cases.c.caseworker, bindparam("caseworker"))))
_PARSERS = {"bid": parse_bid, "area": parse_area}


def load_case(conn: Connection, ref: str) -> Any:
    row = _CASE_BY_REF.first(conn, {"ref": ref.upper()})
    if row is None:
        raise CaseNotFound(ref)
    return row


def may_act(actor: Actor, action: str, lead: str | None, what: str) -> str:
    """The role in which `actor` may take a non-transition `action`, or PermissionDenied."""
    allowed = ACTION_ROLES[action]
    for role in sorted(actor.roles & allowed):
        if role == "council" and actor.org != lead:
            continue
        return role
    if "council" in allowed and "council" in actor.roles:
        raise PermissionDenied(f"{actor.name} is not a person of {lead}, so they cannot {what}.",
                               person=actor.name)
    who = " or ".join(sorted(allowed))
    article = "an" if who[0] in "aeiou" else "a"      # "an assessor", "a caseworker"
    raise PermissionDenied(f"{actor.name} may not {what}: only {article} {who} may.",
                           person=actor.name)


# --- opening ----------------------------------------------------------------
def open_case(engine: Engine, kind: str, document: Mapping[str, Any], actor_name: str) -> dict:
    """Check the document, then create the case in `draft` with its first history row."""
    definition = DEFINITIONS[kind]
    with engine.begin() as conn:
        actor = directory.actor(conn, actor_name)
        spec = programme_store.find_spec(conn, document.get("programme"))
        codes = named_organisations(document)
        known = {r.code for r in conn.execute(
            select(organisations.c.code).where(organisations.c.code.in_(codes)))}
        try:
            app = _PARSERS[kind](document, programme=spec, organisations=known)
        except DocumentError as err:
            raise Malformed(f"The {kind} document", err.problems) from None
        role = may_act(actor, "open", app.lead, f"open a {kind} for {app.lead}")
        now = clock.now()
        ref = programme_store.next_reference(conn, spec.code)
        entry = Entry(to_state=definition.initial, trigger="create", actor=actor.name,
                      role=role, at=now, payload={"definition_version": definition.version})
        digest = seal(ref, 1, GENESIS, entry)
        partners = list(app.partners) if kind == "bid" else []
        case_id = conn.execute(cases.insert().values(
            ref=ref, kind=kind, programme=spec.code, state=definition.initial, version=1,
            definition_version=definition.version, title=app.title,
            category=getattr(app, "category", None), lead=app.lead, partners=partners,
            amount_pence=getattr(app, "amount_pence", None), application=app.to_json(),
            caseworker=actor.name if "caseworker" in actor.roles else None,
            last_seq=1, last_hash=digest, created_at=now, updated_at=now)).inserted_primary_key[0]
        insert_row(conn, Head(case_id, ref, 0, GENESIS), entry)
        conn.execute(case_orgs.insert(), [{"org": app.lead, "case_id": case_id, "role": "lead"}] + [
            {"org": p, "case_id": case_id, "role": "partner"} for p in partners if p != app.lead])
        return case_json(conn, load_case(conn, ref), actor)


# --- advancing --------------------------------------------------------------
def advance(engine: Engine, ref: str, trigger: str, actor_name: str, *,
            reason: str | None = None, expected_version: int | None = None,
            payload: dict | None = None) -> dict:
    """Fire `trigger` on case `ref` as `actor_name`: one transaction, or nothing at all."""
    began = time.perf_counter()
    with engine.begin() as conn:
        case = load_case(conn, ref)
        actor = directory.actor(conn, actor_name)
        refuse_stale(case, expected_version)
        result = apply(conn, case, trigger, actor, reason=reason, payload=payload)
        shown = case_json(conn, result, actor)
    event(log, "case.moved", f"{trigger}: {case.state} -> {result.state}", case=case.ref,
          person=actor.name, seconds=time.perf_counter() - began, trigger=trigger)
    return shown


def refuse_stale(case: Any, expected_version: int | None) -> None:
    """ConflictError when the page or script that asked saw an older version of `case`."""
    if expected_version is not None and case.version != expected_version:
        raise ConflictError(case.ref, f"{case.ref} has changed since you looked at it "
                                      f"(version {case.version}, not {expected_version}); "
                                      f"nothing of yours was written.")


def apply(conn: Connection, case: Any, trigger: str, actor: Actor, *,
          reason: str | None = None, payload: dict | None = None, notify: bool = True) -> Any:
    """Move `case` inside the caller's transaction; returns the case as it is after the move.

    `notify=False` leaves out the event's own email, for a caller that sends its
    own in its place (the ladder's suspension).
    """
    reason = checked_text("reason", reason)      # every face's moves come through here
    definition = DEFINITIONS[case.kind]
    now = clock.now()
    spec = programme_store.spec_for(conn, case.programme)
    t = definition.find(trigger, case.state)
    facts = None
    if t is not None and ("within_fund" in t.guards or moves_funds(case.kind, trigger)):
        awards.lock_fund(conn, case.programme)
    if t is not None and (t.guards or t.actor_rules):
        facts = facts_for(conn, case, actor=actor.name, now=now, spec=spec,
                          needs=needs_of((*t.guards, *t.actor_rules)))
    move = plan(definition, case.ref, case.state, trigger, actor, lead=case.lead,
                reason=reason, facts=facts, rules=RULES, actor_rules=ACTOR_RULES)
    body = dict(payload or {})
    if case.kind == "bid" and trigger == "offer":
        body.setdefault("amount", money_json(case.amount_pence))
    entry = Entry(from_state=case.state, to_state=move.dest, trigger=trigger, actor=actor.name,
                  role=move.role, reason=(reason or None), at=now, payload=body)
    head = Head.of(case)
    seq = case.last_seq + 1
    digest = seal(case.ref, seq, case.last_hash, entry)
    moved = _MOVE.rowcount(conn, {
        "_id": case.id, "_version": case.version, "_seq": case.last_seq,
        "state": move.dest, "version": case.version + 1, "last_seq": seq, "last_hash": digest,
        "updated_at": now, "caseworker": actor.name if move.role == "caseworker" else None})
    if moved != 1:
        raise ConflictError(case.ref)
    insert_row(conn, head, entry, digest=digest)
    if run_effects(MoveDone(conn, case, move, actor, now, spec, seq, body)):
        after = load_case(conn, case.ref)   # effects wrote to the case row themselves
    else:
        before = case._mapping if hasattr(case, "_mapping") else vars(case)
        after = SimpleNamespace(**{**before, "state": move.dest, "version": case.version + 1,
                                   "last_seq": seq, "last_hash": digest, "updated_at": now,
                                   "caseworker": case.caseworker or (
                                       actor.name if move.role == "caseworker" else None)})
    if notify:
        messages.notify_event(conn, after, spec, trigger, seq, now=now, reason=reason)
    return after


# --- reading ----------------------------------------------------------------
def case_json(conn: Connection, case: Any, actor: Actor | None = None, *,
              with_application: bool = True) -> dict[str, Any]:
    definition = DEFINITIONS[case.kind]
    out: dict[str, Any] = {
        "ref": case.ref, "kind": case.kind, "programme": case.programme, "state": case.state,
        "version": case.version,
        "allowed_triggers": allowed_triggers(definition, case.state, actor, case.lead),
        "title": case.title, "category": case.category, "lead": case.lead,
        "partners": list(case.partners), "caseworker": case.caseworker,
        "at_risk": bool(case.at_risk),
        "created_at": case.created_at.isoformat(), "updated_at": case.updated_at.isoformat(),
    }
    if case.kind == "bid":
        out["amount"] = money_json(case.amount_pence)
    else:
        out["contribution"] = (money_json(case.contribution_pence)
                               if case.contribution_pence is not None else None)
    if with_application:
        out["application"] = dict(case.application)
    return out


def show(engine: Engine, ref: str, actor_name: str | None = None) -> dict[str, Any]:
    with reading(engine) as conn:
        actor = directory.actor(conn, actor_name) if actor_name else None
        return case_json(conn, load_case(conn, ref), actor)


def involving(org: str) -> Any:
    """A condition on cases: those `org` leads or is a partner in, read from an index."""
    return cases.c.id.in_(select(case_orgs.c.case_id).where(case_orgs.c.org == org))


def list_cases(engine: Engine, *, state: str | None = None, kind: str | None = None,
               programme: str | None = None, actor_name: str | None = None,
               after_id: int | None = None, limit: int | None = None,
               org: str | None = None) -> list[dict[str, Any]]:
    """Cases by id; `org` keeps those the organisation leads or is a partner in.

    A kind or state that names nothing is refused (Malformed) rather than
    answered with no cases: a typing mistake must not look like an empty list.
    """
    _refuse_unknown_filters(kind, state)
    with reading(engine) as conn:
        actor = directory.actor(conn, actor_name) if actor_name else None
        # A list shows no application documents, so none is read (or parsed).
        q, position = select(*[c for c in cases.c if c.name != "application"]), cases.c.id
        if org:
            # Walked from the organisation's own rows of case_orgs, in case order:
            # a page then costs the same wherever it starts. (`involving`, an IN
            # list, would gather all of the organisation's cases for every page.)
            q = q.join(case_orgs, case_orgs.c.case_id == cases.c.id).where(case_orgs.c.org == org)
            position = case_orgs.c.case_id
        q = q.order_by(position)
        if state:
            q = q.where(cases.c.state == state)
        if kind:
            q = q.where(cases.c.kind == kind)
        if programme:
            q = q.where(func.lower(cases.c.programme) == programme.lower())
        if after_id is not None:
            q = q.where(position > after_id)
        if limit is not None:
            q = q.limit(limit)
        return [case_json(conn, r, actor, with_application=False) for r in conn.execute(q)]


CASE_KINDS = ("bid", "area")


def _refuse_unknown_filters(kind: str | None, state: str | None) -> None:
    if kind is not None and kind not in CASE_KINDS:
        raise Malformed.unknown("kind", kind, CASE_KINDS)
    if state is not None:
        known: dict[str, None] = {}
        for k in ((kind,) if kind else CASE_KINDS):
            known.update(dict.fromkeys(DEFINITIONS[k].states))
        if state not in known:
            raise Malformed.unknown(f"{kind or 'case'} state", state, list(known))


def case_history(engine: Engine, ref: str) -> list[dict[str, Any]]:
    with reading(engine) as conn:
        case = load_case(conn, ref)
        return [as_dict(r) for r in rows_for(conn, case.id)]
