"""Which case events email whom, and queueing those emails in the same transaction.

Recipients are named by audience, resolved per case:
`council` the lead organisation's email, `escalation` its chief executive or
s151 officer, `caseworker` the case's assigned caseworker, `lead` and
`director` the programme's contacts, `sro` its senior responsible owner,
`approvers` every person with the role `approver` who is not disabled (a
variation waiting for a decision or a countersignature).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import Connection, bindparam, select

from notifications.outbox import QUEUED_COLUMNS, queued_row
from notifications.outbox_table import outbox
from notifications.render import render
from states import questions
from states.definition import Notice
from states.money import pounds
from workflow.storage.tables import organisations, people
from workflow.storage.prepared import Prepared
from states.programme import ProgrammeSpec
from workflow.storage.records import CaseRecord, CheckpointRecord


def base_url() -> str:
    return os.environ.get("CASEWORK_BASE_URL", "http://127.0.0.1:8000").rstrip("/")


_ORG = Prepared(
    select(organisations.c.name, organisations.c.email, organisations.c.escalation_email).where(
        organisations.c.code == bindparam("code")
    )
)
_QUEUE = Prepared(outbox.insert().values({name: bindparam(name) for name in QUEUED_COLUMNS}))
_EMAIL = Prepared(select(people.c.email).where(people.c.name == bindparam("name")))


class AddressBook:
    """Who the audiences of a case are, read once per book.

    A message gets a fresh book; the sweep keeps one for a whole run, since a
    backlog writes to the same councils and caseworkers again and again.
    """

    def __init__(self) -> None:
        self._orgs: dict[str, Any] = {}
        self._emails: dict[str, str | None] = {}
        self._approvers: list[str] | None = None

    def org(self, conn: Connection, code: str) -> Any:
        if code not in self._orgs:
            self._orgs[code] = _ORG.first(conn, {"code": code})
        return self._orgs[code]

    def email(self, conn: Connection, name: str | None) -> str | None:
        if not name:
            return None
        if name not in self._emails:
            self._emails[name] = _EMAIL.scalar(conn, {"name": name})
        return self._emails[name]

    def approvers(self, conn: Connection) -> list[str]:
        """The approvers' addresses, by name: everyone with the role who may still act."""
        if self._approvers is None:
            found = conn.execute(
                select(people.c.name, people.c.roles, people.c.email)
                .where(people.c.email.is_not(None), people.c.disabled_at.is_(None))
                .order_by(people.c.name)
            )
            self._approvers = [r.email for r in found if "approver" in (r.roles or ())]
        return self._approvers

    def recipients(
        self,
        conn: Connection,
        case: CaseRecord,
        spec: ProgrammeSpec,
        to: Iterable[str],
        cc: Iterable[str],
        leave_out: Iterable[str] = (),
    ) -> tuple[list[str], list[str]]:
        """A message's To and Cc addresses: those of each audience, each once, in order,
        without those of the people named in `leave_out` (who have just acted); Cc without
        any address in To, and when To has nobody the first of Cc in its place. The
        audiences' addresses are looked up once for both."""
        to, cc = tuple(to), tuple(cc)
        known = self._known(conn, case, spec, to + cc)
        skip = self._skip(conn, leave_out)
        to_addrs = self._pick(conn, known, to, skip, [])
        cc_addrs = self._pick(conn, known, cc, skip, to_addrs)
        if not to_addrs:  # nobody in To: the first cc stands in
            to_addrs, cc_addrs = cc_addrs[:1], cc_addrs[1:]
        return to_addrs, cc_addrs

    def _known(
        self, conn: Connection, case: CaseRecord, spec: ProgrammeSpec, audiences: tuple[str, ...]
    ) -> dict[str, str | None]:
        org = self.org(conn, case.lead)
        known = {
            "council": org.email if org else None,
            "escalation": org.escalation_email if org else None,
            "caseworker": self.email(conn, case.caseworker),
            "lead": spec.contacts.lead,
            "director": spec.contacts.director,
        }
        if "sro" in audiences:  # the programme's senior responsible owner, when named
            from workflow.services.controls import sro_of

            known["sro"] = self.email(conn, sro_of(conn, case.programme))
        return known

    def _skip(self, conn: Connection, leave_out: Iterable[str]) -> set[str]:
        return {a for a in (self.email(conn, name) for name in leave_out) if a}

    def _pick(
        self,
        conn: Connection,
        known: dict[str, str | None],
        audiences: tuple[str, ...],
        skip: set[str],
        taken: list[str],
    ) -> list[str]:
        """The addresses of `audiences`, in order, each once, none in `skip` or `taken`."""
        out: list[str] = []
        for audience in audiences:
            found = self.approvers(conn) if audience == "approvers" else [known.get(audience)]
            for addr in found:
                if addr and addr not in out and addr not in skip and addr not in taken:
                    out.append(addr)
        return out


def context(
    conn: Connection,
    case: CaseRecord,
    spec: ProgrammeSpec,
    *,
    reason: str | None = None,
    checkpoint: CheckpointRecord | None = None,
    step: dict[str, Any] | None = None,
    book: AddressBook | None = None,
    payment: dict[str, Any] | None = None,
    review: dict[str, Any] | None = None,
    variation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    org = (book or AddressBook()).org(conn, case.lead)
    root = base_url()
    ctx: dict[str, Any] = {
        "programme": {
            "code": spec.code,
            "name": spec.name,
            "lead_email": spec.contacts.lead,
            "director_email": spec.contacts.director,
        },
        "case": {
            "ref": case.ref,
            "title": case.title,
            "kind": case.kind,
            "lead_name": org.name if org else case.lead,
            "lead_code": case.lead,
            # No chief executive or s151 address on record: an escalation to them goes to
            # the programme lead instead, and must not greet the lead as them.
            "has_escalation_contact": bool(org and org.escalation_email),
            # its label from the programme file ("ESG top-up"), not its code
            "category": spec.category_label(case.category) if case.category else None,
            "amount": pounds(case.amount_pence) if case.amount_pence is not None else None,
            "url": f"{root}/cases/{case.ref}",
            # the grant agreement to read before accepting (DESIGN.md section 8)
            "agreement_url": f"{root}/cases/{case.ref}/agreement",
        },
        "reason": reason,
        "checkpoint": None,
        "step": step,
        "payment": payment,
        "review": review,
        "variation": variation,
    }
    if checkpoint is not None:
        label = checkpoint.ref.rsplit("/", 1)[1]
        ctx["checkpoint"] = {
            "ref": checkpoint.ref,
            "label": label,
            "due": checkpoint.due,
            "url": f"{root}/returns/{case.ref}/{label}",
            "level": checkpoint.level,
        }
    return ctx


# The kinds of email that show the application as it was sent (the council's receipt).
WITH_ANSWERS = frozenset({"case.submitted"})


def answers_of(conn: Connection, case: CaseRecord, spec: ProgrammeSpec) -> list[dict[str, str]]:
    """The application's answers as people read them (`states.questions.answers`), with its
    evidence files: `{"label", "answer"}` for each question answered."""
    document = dict(case.application or {})
    codes = [c for c in document.get("partners") or () if isinstance(c, str)]
    # One prepared lookup a partner (a bid names two or three), not a statement built anew.
    names = {
        code: row.name
        for code in dict.fromkeys(codes)
        if (row := _ORG.first(conn, {"code": code})) is not None
    }
    rows = [
        {"label": label, "answer": answer}
        for _name, label, answer in questions.answers(spec, document, names)
        if answer
    ]
    files = [f.get("name", "") for f in document.get("evidence") or () if isinstance(f, dict)]
    if files:
        rows.append({"label": questions.field_label("evidence"), "answer": "\n".join(files)})
    return rows


def queue(
    conn: Connection,
    *,
    key: str,
    kind: str,
    case: CaseRecord,
    spec: ProgrammeSpec,
    to: Iterable[str],
    cc: Iterable[str] = (),
    now: datetime,
    reason: str | None = None,
    checkpoint: CheckpointRecord | None = None,
    step: dict[str, Any] | None = None,
    book: AddressBook | None = None,
    payment: dict[str, Any] | None = None,
    review: dict[str, Any] | None = None,
    variation: dict[str, Any] | None = None,
    leave_out: Iterable[str] = (),
) -> str | None:
    """Render and queue one message; its key, or None when it has nobody to go to
    (`leave_out` names people not to write to: whoever has just acted)."""
    book = book or AddressBook()
    to_addrs, cc_addrs = book.recipients(conn, case, spec, to, cc, leave_out)
    if not to_addrs:
        return None
    values = context(
        conn,
        case,
        spec,
        reason=reason,
        checkpoint=checkpoint,
        step=step,
        book=book,
        payment=payment,
        review=review,
        variation=variation,
    )
    if kind in WITH_ANSWERS:
        values["answers"] = answers_of(conn, case, spec)
        values["received_at"] = now  # a receipt says when
    rendered = render(kind, values)
    _QUEUE.rowcount(
        conn,
        queued_row(
            key=key,
            kind=kind,
            to=to_addrs,
            cc=cc_addrs,
            rendered=rendered,
            now=now,
            case_ref=case.ref,
            checkpoint_ref=checkpoint.ref if checkpoint is not None else None,
            context=values,
        ),
    )
    return key


def notify_event(
    conn: Connection,
    case: CaseRecord,
    spec: ProgrammeSpec,
    notice: Notice,
    trigger: str,
    seq: int,
    *,
    now: datetime,
    reason: str | None,
    book: AddressBook | None = None,
) -> str | None:
    """Queue the email a transition's definition names (`T(notice=...)`)."""
    payment = _terminated_payments(conn, case) if notice.kind == "bid.terminated" else None
    return queue(
        conn,
        key=f"{case.ref}:{trigger}:{seq}",
        kind=notice.kind,
        case=case,
        spec=spec,
        to=notice.to,
        cc=notice.cc,
        now=now,
        reason=reason,
        book=book,
        payment=payment,
    )


def _terminated_payments(conn: Connection, case: CaseRecord) -> dict[str, Any]:
    """What a terminated award had paid and what goes back to the fund, for its email: the
    council is told the sums, not "if any of the award has been paid"."""
    from workflow.services.payments import paid_pence  # payments queues mail through here

    paid = paid_pence(conn, case.id)
    unpaid = (case.amount_pence or 0) - paid
    return {
        "paid_total": pounds(paid) if paid else None,
        "released": pounds(unpaid) if unpaid > 0 else None,
    }
