"""The controls' facts (DESIGN.md section 9): who countersigned an offer, the fraud-risk
rating, the programme's senior responsible owner, read from the case's own history.

A countersignature is the history row of the no-state `countersign` move; the fraud
risk is the latest `diligence` row for the `fraud_risk` check with a rating.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select

from workflow.services import sro
from workflow.storage.prepared import Prepared
from workflow.storage.tables import history

COUNTERSIGN = "countersign"
COUNTERSIGN_VARIATION = "countersign_variation"
FRAUD_RISK_CHECK = "fraud_risk"

_ROWS = Prepared(
    select(history.c.trigger, history.c.actor, history.c.at, history.c.payload)
    .where(
        history.c.case_id == bindparam("case_id"),
        history.c.trigger.in_(
            [bindparam("countersign"), bindparam("diligence"), bindparam("variation")]
        ),
    )
    .order_by(history.c.seq)
)


def control_rows(conn: Connection, case_id: int) -> list[Any]:
    return _ROWS.all(
        conn,
        {
            "case_id": case_id,
            "countersign": COUNTERSIGN,
            "diligence": "diligence",
            "variation": COUNTERSIGN_VARIATION,
        },
    )


def countersigners(rows: list[Any]) -> tuple[str, ...]:
    """Who countersigned the offer itself, in order (a variation's countersignatures,
    which carry `variation`, are not the offer's)."""
    out: list[str] = []
    for r in rows:
        if r.trigger == COUNTERSIGN and "variation" not in (r.payload or {}) and r.actor not in out:
            out.append(r.actor)
    return tuple(out)


def variation_facts(
    conn: Connection, case_id: int, label: str, previous_pence: int | None
) -> dict[str, Any]:
    """The `countersignature` facts of variation `label` (`V1`): who countersigned it, and
    the award before it (so the rules weigh an increase, not an offer)."""
    signed: list[str] = []
    for r in control_rows(conn, case_id):
        if (
            r.trigger == COUNTERSIGN_VARIATION
            and (r.payload or {}).get("variation") == label
            and r.actor not in signed
        ):
            signed.append(r.actor)
    return {"countersigners": tuple(signed), "previous_pence": previous_pence or 0}


def fraud_risk(rows: list[Any]) -> str | None:
    """The latest fraud-risk rating recorded by due diligence, if any."""
    rating = None
    for r in rows:
        payload = r.payload or {}
        if (
            r.trigger == "diligence"
            and payload.get("check") == FRAUD_RISK_CHECK
            and payload.get("rating")
        ):
            rating = str(payload["rating"])
    return rating


def sro_of(conn: Connection, programme: str) -> str | None:
    """The programme's senior responsible owner, if named."""
    return sro.sro_of(conn, programme)


def facts(conn: Connection, case_id: int, programme: str) -> dict[str, Any]:
    """The `countersignature` group of facts (states.facts.FACT_GROUPS)."""
    rows = control_rows(conn, case_id)
    return {
        "countersigners": countersigners(rows),
        "fraud_risk": fraud_risk(rows),
        "sro": sro_of(conn, programme),
    }


def missing_countersignatures(work: Any, ref: str, offering: str | None = None) -> list[str]:
    """What an offer of case `ref` by `offering` still lacks in countersignatures, as
    sentences (none: it may be offered as far as countersignatures go)."""
    from states.rules import countersignatures_missing
    from workflow.services.facts import facts_for
    from workflow.services.lifecycle import load_case
    from workflow.services.unit_of_work import unit

    with unit(work, read_only=True) as uow:
        case = load_case(uow.conn, ref)
        if case.kind != "bid":
            return []
        found = facts_for(
            uow.conn,
            case,
            actor=offering or "",
            now=uow.now,
            spec=uow.spec(case.programme),
            needs=frozenset({"countersignature"}),
        )
        return countersignatures_missing(found, leave_out=offering)


def offer_countersignature(conn: Connection, case: Any, spec: Any) -> dict[str, Any] | None:
    """What a bid's case page says of its offer's countersignature (DESIGN.md section 9): why
    the offer needs one (`needed`, sentences; none when it needs none), who countersigned it
    and when (`signed`), and what it still lacks while it waits to be offered (`missing`,
    whoever offers). None for a case that is not a bid."""
    from types import SimpleNamespace

    from states import BID
    from states.facts import Facts
    from states.money import pounds
    from states.rules import countersignatures_missing

    if case.kind != "bid":
        return None
    rows = control_rows(conn, case.id)
    named = sro_of(conn, case.programme)
    risk = fraud_risk(rows)
    threshold, amount = spec.countersign_above_pence, case.amount_pence or 0
    needed = []
    if threshold is not None and amount > threshold:
        needed.append(
            f"The offer of {pounds(amount)} is above the programme's countersignature "
            f"threshold of {pounds(threshold)}: a second approver countersigns it, one who "
            f"neither makes the offer nor assessed the bid."
        )
    if risk == "high":
        who = (
            f"the programme's senior responsible owner, {named},"
            if named
            else ("the programme's senior responsible owner (the programme names none yet)")
        )
        needed.append(f"The fraud risk is rated high: {who} countersigns it, whatever its amount.")
    signed = [
        {"by": r.actor, "at": r.at}
        for r in rows
        if r.trigger == COUNTERSIGN and "variation" not in (r.payload or {})
    ]
    waiting = BID.is_in(case.state, "to_offer")
    facts = Facts(
        kind="bid",
        ref=case.ref,
        programme=spec,
        application=SimpleNamespace(amount_pence=amount),
        countersigners=countersigners(rows),
        fraud_risk=risk,
        sro=named,
    )
    missing = (
        [m[0].upper() + m[1:] + "." for m in countersignatures_missing(facts)] if waiting else []
    )
    return {"needed": needed, "signed": signed, "missing": missing, "waiting": waiting}


def awaiting_countersignature(conn: Connection, specs: Any) -> set[int]:
    """The ids of recommended bids whose offer still lacks a countersignature (whoever
    offers), for the approvers' inbox: "to countersign" rather than "to offer".
    `specs(code)` gives a programme's file."""
    from types import SimpleNamespace

    from sqlalchemy import literal

    from states import BID
    from states.facts import Facts
    from states.rules import countersignatures_missing
    from workflow.storage.tables import cases

    waiting = list(
        conn.execute(
            select(cases.c.id, cases.c.ref, cases.c.programme, cases.c.amount_pence).where(
                cases.c.kind == "bid",
                cases.c.state.in_([literal(s) for s in BID.group("to_offer")]),
            )
        )
    )
    if not waiting:
        return set()
    rows: dict[int, list[Any]] = {c.id: [] for c in waiting}
    for r in conn.execute(
        select(history.c.case_id, history.c.trigger, history.c.actor, history.c.payload)
        .where(history.c.case_id.in_(list(rows)), history.c.trigger.in_((COUNTERSIGN, "diligence")))
        .order_by(history.c.case_id, history.c.seq)
    ):
        rows[r.case_id].append(r)
    sros: dict[str, str | None] = {}
    out: set[int] = set()
    for c in waiting:
        if c.programme not in sros:
            sros[c.programme] = sro_of(conn, c.programme)
        facts = Facts(
            kind="bid",
            ref=c.ref,
            programme=specs(c.programme),
            application=SimpleNamespace(amount_pence=c.amount_pence or 0),
            countersigners=countersigners(rows[c.id]),
            fraud_risk=fraud_risk(rows[c.id]),
            sro=sros[c.programme],
        )
        if countersignatures_missing(facts):
            out.add(c.id)
    return out
