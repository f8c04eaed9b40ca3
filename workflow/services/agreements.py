"""Grant agreements (DESIGN.md section 8): drawn up at offer and at each approved variation.

`offer` keeps version 1 inside the offer's own unit of work, before its
history row is written, so the row carries the PDF's SHA-256 (`agreement`:
`{"version": 1, "sha256": …}`); `accept` records the version and hash the
council accepted (`agreement_accepted`). Each version's PDF is kept in the
`agreements` table, never changed or removed (the database refuses), so every
version stays readable and every backup holds the bytes its history names.

Drawing a PDF takes fpdf2 tens of milliseconds, too long to hold SQLite's
write lock for. So the offer's agreement is drawn before its transaction
opens (`draw_ahead`, on a read-only connection: every face calls it, or
`lifecycle.advance` does when given an engine), as is an approved
variation's (`variations.draw_ahead`, and `variations.decide` given an
engine), and inside the transaction
its text is worked out again from the rows as they are then and compared
with the text drawn. The PDF is a function of its text alone
(agreement_pdf: the same text makes the same bytes), so equal texts mean
the drawn bytes are exactly those the transaction would draw; if anything
it depends on changed in between (the case's document, the councils' names,
the programme's terms or payments, the London day), the texts differ and
the PDF is drawn again there, as before.

The text is made in two steps: what it is made from is read (`_Inputs`: the
case's fields, the councils' names, the version, the day, the payments and
returns as read) and then composed with the programme file (`_compose`, which
reads nothing else). An offer drawn ahead carries its inputs and the
programme it was composed with, so inside the transaction the inputs are
read again and compared: when they are equal and the programme is the very
one (the parse of the same file text), the text composed would be the one
drawn, and composing it again is skipped. Anything else composes the text
and compares it, as before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select

from states.agreement import (
    AgreementText,
    Party,
    ReturnLine,
    ScheduleLine,
    text_from_json,
    text_json,
)
from states.facts import OrgFacts
from states.money import money_json
from states.programme import ProgrammeSpec
from states import DEFINITIONS
from workflow.errors import CaseworkError, NotFound
from workflow.services import directory
from workflow.services.access import check_visible
from workflow.services.calendar import london_day
from workflow.services.facts import organisations_by_code
from workflow.services.reads import load_case
from workflow.services.unit_of_work import UnitOfWork, unit
from workflow.storage.prepared import Prepared
from workflow.storage.records import CaseRecord
from workflow.storage.tables import agreements, checkpoints, history

__all__ = [
    "Recording",
    "Drawn",
    "draw_ahead",
    "draws_ahead",
    "drawing",
    "next_text",
    "keep",
    "record_offer",
    "record_accepted",
    "versions",
    "latest",
    "pdf_of",
    "listing",
    "document",
    "accepted_by_council",
]

MEDIA_TYPE = "application/pdf"
_LISTED = (
    agreements.c.version,
    agreements.c.sha256,
    agreements.c.amount_pence,
    agreements.c.end_on,
    agreements.c.variation,
    agreements.c.made_by,
    agreements.c.made_at,
)


@dataclass(frozen=True)
class _Inputs:
    """Everything an agreement's text is made from but the programme file, as read in one
    transaction (`_read`); `_compose` makes the text of these and the programme alone."""

    ref: str
    title: str
    category: str | None
    lead: str
    partners: tuple[str, ...]
    names: tuple[tuple[str, str], ...]  # (code, name) of each of those councils found
    version: int
    made_on: date
    amount_pence: int
    end_on: date | None
    variation: str
    reason: str
    previous_pence: int | None
    payments: tuple[Any, ...]  # the case's payments (payments.Payment), when it has tranches
    dues: tuple[tuple[int, date], ...]  # its returns' numbers and due days, once scheduled


@dataclass(frozen=True)
class Drawn:
    """An agreement drawn before its move's transaction: the text, its PDF, the PDF's hash."""

    text: AgreementText
    pdf: bytes
    sha256: str
    terms: dict[str, Any]  # the text as kept beside the PDF (text_json)
    # What the text was composed of, when it was drawn ahead (the programme, the inputs).
    made_from: tuple[ProgrammeSpec, _Inputs] | None = None


@dataclass(frozen=True)
class Recording:
    """What a history row's `records` are worked out from, before the row is written."""

    conn: Connection
    case: CaseRecord
    spec: ProgrammeSpec
    now: datetime
    actor: str
    drawn: Drawn | None = None  # the offer's agreement, drawn before the transaction
    # The case's organisations as the move's facts read them in this transaction (its
    # lead and partners found), when they did: the agreement names them from these.
    orgs: dict[str, OrgFacts] | None = None


# The history record that keeps an agreement (effects.RECORDS), and the triggers whose
# transitions note it: only a move of one of these is worth drawing ahead for.
RECORD = "agreement"
_DRAWING_TRIGGERS = frozenset(
    t.trigger for d in DEFINITIONS.values() for t in d.transitions if RECORD in t.records
)


# --- drawing up ----------------------------------------------------------------
def drawing(text: AgreementText, made_from: tuple[ProgrammeSpec, _Inputs] | None = None) -> Drawn:
    """`text` drawn as a PDF, with the PDF's SHA-256 (and what it was composed of)."""
    # Here, not at the top: fpdf2 (and the cryptography it imports) is a quarter of a
    # second or more to import, and every command that imports lifecycle would pay it.
    from workflow.services.agreement_pdf import draw

    pdf = draw(text)
    return Drawn(text, pdf, hashlib.sha256(pdf).hexdigest(), text_json(text), made_from)


def draws_ahead(trigger: str) -> bool:
    """Whether a move by `trigger` may keep an agreement (so is worth `draw_ahead`)."""
    return trigger in _DRAWING_TRIGGERS


def draw_ahead(engine: Engine, case: str | CaseRecord, trigger: str) -> Drawn | None:
    """The agreement firing `trigger` on `case` now would keep, drawn outside any write
    transaction (a read-only connection: SQLite's write lock is not taken), to be handed
    to `lifecycle.advance(..., drawn=)`. None when that move keeps no agreement, or when
    the case cannot be read now: the move itself then says why, in its own transaction."""
    if not draws_ahead(trigger):
        return None
    try:
        with unit(engine, read_only=True) as uow:
            record = load_case(uow.conn, case if isinstance(case, str) else case.ref)
            t = DEFINITIONS[record.kind].machine.transition_for(trigger, record.state)
            if t is None or RECORD not in t.records:
                return None
            spec = uow.spec(record.programme)
            inputs = _offer_inputs(uow.conn, record, spec, uow.now)
    except CaseworkError:
        return None
    return drawing(_compose(spec, inputs), made_from=(spec, inputs))


# What an offer reads and writes in its transaction, prepared once.
_LAST_VERSION = Prepared(
    select(func.coalesce(func.max(agreements.c.version), 0)).where(
        agreements.c.case_id == bindparam("case_id")
    )
)
_DUES = Prepared(
    select(checkpoints.c.n, checkpoints.c.due)
    .where(checkpoints.c.case_id == bindparam("case_id"))
    .order_by(checkpoints.c.n)
)
_KEEP = Prepared(
    agreements.insert().values(
        {
            name: bindparam(name)
            for name in (
                "case_id",
                "version",
                "sha256",
                "pdf",
                "amount_pence",
                "end_on",
                "variation",
                "made_by",
                "made_at",
                "terms",
            )
        }
    )
)


def _next_version(conn: Connection, case: CaseRecord) -> int:
    return int(_LAST_VERSION.scalar(conn, {"case_id": case.id}) or 0) + 1


def offer_text(
    conn: Connection, case: CaseRecord, spec: ProgrammeSpec, now: datetime
) -> AgreementText:
    """What the offer's agreement says, made at `now`, from the rows `conn` sees."""
    return _compose(spec, _offer_inputs(conn, case, spec, now))


def _offer_inputs(
    conn: Connection,
    case: CaseRecord,
    spec: ProgrammeSpec,
    now: datetime,
    orgs: dict[str, OrgFacts] | None = None,
) -> _Inputs:
    return _read(
        conn,
        case,
        spec,
        version=_next_version(conn, case),
        made_on=london_day(now),
        amount_pence=case.amount_pence or 0,
        end_on=None,
        variation="",
        reason="",
        previous_pence=None,
        orgs=orgs,
    )


def next_text(
    conn: Connection,
    case: CaseRecord,
    spec: ProgrammeSpec,
    *,
    now: datetime,
    amount_pence: int,
    end_on: date | None = None,
    variation: str = "",
    reason: str = "",
    previous_pence: int | None = None,
) -> AgreementText:
    """What the case's next agreement version says, made at `now`, from the rows `conn`
    sees (an offer's, or a variation's with its label, reason and the award before it)."""
    inputs = _read(
        conn,
        case,
        spec,
        version=_next_version(conn, case),
        made_on=london_day(now),
        amount_pence=amount_pence,
        end_on=end_on,
        variation=variation,
        reason=reason,
        previous_pence=previous_pence,
    )
    return _compose(spec, inputs)


def keep(
    conn: Connection,
    case: CaseRecord,
    text: AgreementText,
    *,
    now: datetime,
    actor: str,
    drawn: Drawn | None = None,
) -> dict[str, Any]:
    """Keep `text` as the case's agreement version `text.version` (its PDF from `drawn`
    when that was drawn from the very same text, else drawn here), and say which it is."""
    if drawn is None or drawn.text != text:
        drawn = drawing(text)
    _KEEP.rowcount(
        conn,
        {
            "case_id": case.id,
            "version": text.version,
            "sha256": drawn.sha256,
            "pdf": drawn.pdf,
            "amount_pence": text.amount_pence,
            "end_on": text.end_on,
            "variation": text.variation or None,
            "made_by": actor,
            "made_at": now,
            "terms": drawn.terms,
        },
    )
    return {"version": text.version, "sha256": drawn.sha256}


def record_offer(rec: Recording) -> dict[str, Any]:
    """The offer's agreement, version 1 (the `agreement` its history row records): the one
    drawn before the transaction when nothing it says has changed since, else drawn now."""
    inputs = _offer_inputs(rec.conn, rec.case, rec.spec, rec.now, rec.orgs)
    drawn = rec.drawn
    if (
        drawn is not None
        and drawn.made_from is not None
        and drawn.made_from[0] is rec.spec
        and drawn.made_from[1] == inputs
    ):
        text = drawn.text  # composed of the very same: `_compose` reads nothing else
    else:
        text = _compose(rec.spec, inputs)
    return keep(rec.conn, rec.case, text, now=rec.now, actor=rec.actor, drawn=drawn)


def record_accepted(rec: Recording) -> dict[str, Any] | None:
    """The version the council accepts (the latest), or None for an offer made before
    agreements were drawn up."""
    row = latest(rec.conn, rec.case.id)
    return {"version": row.version, "sha256": row.sha256} if row is not None else None


def _read(
    conn: Connection,
    case: CaseRecord,
    spec: ProgrammeSpec,
    *,
    version: int,
    made_on: date,
    amount_pence: int,
    end_on: date | None,
    variation: str,
    reason: str,
    previous_pence: int | None,
    orgs: dict[str, OrgFacts] | None = None,
) -> _Inputs:
    """What the text of the case's agreement is made from, read from the rows `conn` sees
    (`orgs`: the case's organisations when the caller has read them in this transaction;
    its payments only when the programme pays in tranches, which alone read them)."""
    from workflow.services.payments import of_case

    codes = list(dict.fromkeys([case.lead, *case.partners]))
    if orgs is None:
        orgs = organisations_by_code(conn, codes)
    return _Inputs(
        ref=case.ref,
        title=case.title,
        category=case.category,
        lead=case.lead,
        partners=tuple(case.partners),
        names=tuple((code, orgs[code].name) for code in codes if code in orgs),
        version=version,
        made_on=made_on,
        amount_pence=amount_pence,
        end_on=end_on,
        variation=variation,
        reason=reason,
        previous_pence=previous_pence,
        payments=of_case(conn, case.id) if spec.tranches else (),
        dues=tuple((r.n, r.due) for r in _DUES.all(conn, {"case_id": case.id})),
    )


def _compose(spec: ProgrammeSpec, inputs: _Inputs) -> AgreementText:
    """The agreement's text, made of `inputs` and the programme file alone."""
    names = dict(inputs.names)
    lead = inputs.lead
    parties = [
        Party("Funder", spec.agreement.funder),
        Party("Lead council", names.get(lead, lead), lead),
    ]
    parties += [Party("Partner", names.get(p, p), p) for p in inputs.partners if p != lead]
    schedule, no_payments = schedule_for(spec, inputs.payments, inputs.amount_pence)
    return AgreementText(
        ref=inputs.ref,
        title=inputs.title,
        programme=spec.name,
        category=spec.category_label(inputs.category) if inputs.category else "",
        version=inputs.version,
        made_on=inputs.made_on,
        amount_pence=inputs.amount_pence,
        parties=tuple(parties),
        conditions=spec.agreement.conditions,
        schedule=schedule,
        no_payments=no_payments,
        returns=_returns(spec, inputs.dues),
        end_on=inputs.end_on,
        variation=inputs.variation,
        variation_reason=inputs.reason,
        previous_amount_pence=inputs.previous_pence,
    )


def schedule_for(
    spec: ProgrammeSpec, payments: tuple[Any, ...], amount_pence: int
) -> tuple[tuple[ScheduleLine, ...], str]:
    """The payment schedule the agreement states, and why there is none when there is none.

    The tranches are the programme file's `[[payments]]`, as the payments
    service plans them for `amount_pence` from the case's `payments` (paid
    tranches as they were paid).
    """
    if not spec.tranches:
        return (), (spec.no_payments or "No payments are scheduled under this agreement.")
    from workflow.services.payments import schedule_from

    return schedule_from(payments, spec, amount_pence), ""


def _returns(spec: ProgrammeSpec, dues: tuple[tuple[int, date], ...]) -> tuple[ReturnLine, ...]:
    if dues:  # accepted: the returns are scheduled, with their dates
        return tuple(ReturnLine(f"Q{n}", due) for n, due in dues)
    monitoring = spec.monitoring
    if monitoring.dates:
        return tuple(ReturnLine(f"Q{n}", d) for n, d in enumerate(monitoring.dates, start=1))
    every, count = monitoring.every_months or 3, monitoring.count or 0
    return tuple(
        ReturnLine(
            f"Q{n}",
            None,
            f"due {every * n} months after the award is accepted (the next working day)",
        )
        for n in range(1, count + 1)
    )


# --- reading -------------------------------------------------------------------
def latest(conn: Connection, case_id: int) -> Any:
    return conn.execute(
        select(*_LISTED)
        .where(agreements.c.case_id == case_id)
        .order_by(agreements.c.version.desc())
        .limit(1)
    ).first()


def versions(conn: Connection, case_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(*_LISTED).where(agreements.c.case_id == case_id).order_by(agreements.c.version)
        )
    )


def pdf_of(conn: Connection, case: CaseRecord, version: int | None = None) -> tuple[Any, bytes]:
    """(the version's row, its PDF) — the latest without `version` — or NotFound."""
    q = select(*_LISTED, agreements.c.pdf).where(agreements.c.case_id == case.id)
    q = (
        q.where(agreements.c.version == version)
        if version is not None
        else q.order_by(agreements.c.version.desc()).limit(1)
    )
    row = conn.execute(q).first()
    if row is None:
        if version is None:
            raise NotFound(
                f"{case.ref} has no grant agreement: one is drawn up when an award is offered."
            )
        raise NotFound(f"{case.ref} has no agreement version {version}.")
    data = bytes(row.pdf)
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise NotFound(
            f"{case.ref}'s agreement version {row.version} no longer matches "
            f"its SHA-256; it is not served."
        )
    return row, data


def accepted_by_council(conn: Connection, case: CaseRecord) -> dict[str, Any] | None:
    """The version and hash the council accepted (the latest `accept` row's), if any."""
    rows = conn.execute(
        select(history.c.payload)
        .where(
            history.c.case_id == case.id,
            history.c.trigger == "accept",
            history.c.checkpoint.is_(None),
        )
        .order_by(history.c.seq.desc())
        .limit(1)
    ).first()
    if rows is None:
        return None
    found = (rows.payload or {}).get("agreement_accepted")
    return dict(found) if found else None


def _version_json(row: Any, ref: str, accepted_version: int | None) -> dict[str, Any]:
    return {
        "version": row.version,
        "sha256": row.sha256,
        "amount": money_json(row.amount_pence),
        "end_on": row.end_on.isoformat() if row.end_on else None,
        "variation": f"{ref}/{row.variation}" if row.variation else None,
        "made_by": row.made_by,
        "made_at": row.made_at.isoformat(),
        "accepted_by_council": accepted_version == row.version,
    }


def listing(work: UnitOfWork | Engine, ref: str, actor_name: str | None = None) -> dict[str, Any]:
    """`{ref, accepted_version, versions: [...]}` for case `ref`, as the faces show it."""
    with unit(work, read_only=True) as uow:
        case = load_case(uow.conn, ref)
        if actor_name is not None:
            check_visible(directory.actor(uow.conn, actor_name), case)
        taken = accepted_by_council(uow.conn, case)
        number = taken["version"] if taken else None
        return {
            "ref": case.ref,
            "accepted_version": taken,
            "versions": [_version_json(r, case.ref, number) for r in versions(uow.conn, case.id)],
        }


def document(
    work: UnitOfWork | Engine, ref: str, version: int | None = None, actor_name: str | None = None
) -> tuple[dict[str, Any], bytes]:
    """(the version's JSON, its PDF bytes) for case `ref`: the latest without `version`."""
    with unit(work, read_only=True) as uow:
        case = load_case(uow.conn, ref)
        if actor_name is not None:
            check_visible(directory.actor(uow.conn, actor_name), case)
        row, data = pdf_of(uow.conn, case, version)
        taken = accepted_by_council(uow.conn, case)
        return _version_json(row, case.ref, taken["version"] if taken else None), data


def view(conn: Connection, case: CaseRecord, version: int | None = None) -> dict[str, Any]:
    """What the agreement's page shows: every version, the one asked for (the latest by
    default) with its text, and the version the council accepted."""
    taken = accepted_by_council(conn, case)
    number = taken["version"] if taken else None
    listed = [_version_json(r, case.ref, number) for r in versions(conn, case.id)]
    if not listed:
        return {"versions": [], "shown": None, "text": None, "accepted_version": taken}
    chosen = version if version is not None else listed[-1]["version"]
    row = conn.execute(
        select(*_LISTED, agreements.c.terms).where(
            agreements.c.case_id == case.id, agreements.c.version == chosen
        )
    ).first()
    if row is None:
        raise NotFound(f"{case.ref} has no agreement version {chosen}.")
    return {
        "versions": listed,
        "shown": _version_json(row, case.ref, number),
        "text": text_from_json(row.terms) if row.terms else None,
        "latest": chosen == listed[-1]["version"],
        "accepted_version": taken,
    }
