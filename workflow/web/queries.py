"""Read-only queries behind the lists people page through: search, inbox groups, returns.

The pages' own read model: counts and one page of rows, each on an index, so a
list stays quick with a hundred thousand cases. Nothing here writes; every
change goes through a service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence
from urllib.parse import urlencode

from sqlalchemy import Connection, and_, exists, false, func, or_, select
from sqlalchemy.sql import Select

from states import AREA, BID, CHECKPOINT
from workflow.services.lifecycle import involving  # cases an organisation leads or is a partner in
from workflow.storage.tables import cases, checkpoints, organisations, outbox, scores

REF_LIKE = re.compile(r"^[A-Za-z]+-\d{4}(-\d{0,4})?(/Q?\d*)?$")
_CASE_COLUMNS = (
    cases.c.id,
    cases.c.ref,
    cases.c.kind,
    cases.c.programme,
    cases.c.state,
    cases.c.title,
    cases.c.lead,
    cases.c.category,
    cases.c.amount_pence,
    cases.c.updated_at,
    cases.c.created_at,
    cases.c.at_risk,
    cases.c.version,
)
_CHECKPOINT_COLUMNS = (
    checkpoints.c.id,
    checkpoints.c.ref,
    checkpoints.c.state,
    checkpoints.c.due,
    checkpoints.c.level,
    checkpoints.c.version,
    checkpoints.c.submitted_at,
    checkpoints.c.next_step_at,
    cases.c.ref.label("case_ref"),
    cases.c.title,
    cases.c.lead,
    cases.c.programme,
    cases.c.state.label("case_state"),
)


@dataclass(frozen=True)
class Pager:
    page: int
    size: int
    total: int
    params: tuple[tuple[str, str], ...] = ()

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def link(self, page: int) -> str:
        return "?" + urlencode([*self.params, ("page", str(page))])


def page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --- organisations -----------------------------------------------------------------
def org_names(conn: Connection, codes: Iterable[str]) -> dict[str, str]:
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    rows = conn.execute(
        select(organisations.c.code, organisations.c.name).where(organisations.c.code.in_(wanted))
    )
    return {r.code: r.name for r in rows}


def orgs_matching(conn: Connection, text: str) -> list[str]:
    """Codes of organisations whose code is `text` or whose name contains it."""
    text = text.strip()
    if not text:
        return []
    rows = conn.execute(
        select(organisations.c.code)
        .where(
            or_(
                organisations.c.code == text.upper(),
                organisations.c.name.ilike(_like(text), escape="\\"),
            )
        )
        .limit(200)
    )
    return [r.code for r in rows]


# --- cases ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseFilter:
    q: str = ""
    state: str = ""
    kind: str = ""
    programme: str = ""
    org: str = ""  # a code or part of a name
    only_org: str | None = None  # a council person's own organisation: nothing else is seen
    caseworker: str = ""  # a caseworker's name, exactly

    def params(self) -> tuple[tuple[str, str], ...]:
        return tuple(
            (k, v)
            for k, v in (
                ("q", self.q),
                ("state", self.state),
                ("kind", self.kind),
                ("programme", self.programme),
                ("org", self.org),
                ("caseworker", self.caseworker),
            )
            if v
        )


def _case_query(conn: Connection, f: CaseFilter, columns: Sequence[Any]) -> Select:
    q = select(*columns)
    if f.only_org is not None:
        q = q.where(involving(f.only_org))
    if f.state:
        q = q.where(cases.c.state == f.state)
        if not f.kind:  # both kinds named, so the (kind, state) index serves the state
            q = q.where(cases.c.kind.in_(("bid", "area")))
    if f.kind:
        q = q.where(cases.c.kind == f.kind)
    if f.programme:
        q = q.where(cases.c.programme == f.programme.lower())
    if f.caseworker:
        q = q.where(cases.c.caseworker == f.caseworker)
    if f.org:
        codes = orgs_matching(conn, f.org)
        q = q.where(or_(*[involving(c) for c in codes]) if codes else false())
    text = f.q.strip()
    if text:
        if REF_LIKE.match(text):
            start = text.upper().split("/")[0]
            # A range on the unique index, where LIKE would scan every case.
            q = q.where(cases.c.ref >= start, cases.c.ref < start + "\uffff")
        else:
            q = q.where(cases.c.title.ilike(_like(text), escape="\\"))
    return q


def search_cases(conn: Connection, f: CaseFilter, page: int, size: int) -> tuple[list[Any], Pager]:
    total = conn.execute(_case_query(conn, f, [func.count()]).select_from(cases)).scalar() or 0
    pager = Pager(page, size, int(total), f.params())
    rows = list(
        conn.execute(
            _case_query(conn, f, _CASE_COLUMNS)
            .order_by(cases.c.id)
            .offset(pager.offset)
            .limit(size)
        )
    )
    return rows, pager


# --- inbox groups --------------------------------------------------------------------------
@dataclass
class Group:
    key: str
    title: str
    hint: str
    what: str  # case | return | message
    count: int = 0
    rows: list[Any] = field(default_factory=list)
    more: str = ""  # where the whole list is


def case_group(
    conn: Connection, group: Group, where: Any, limit: int, *, scope: Any = None
) -> Group:
    """Count the cases in a group, and read the first `limit` of them, oldest first."""
    cond = and_(where, scope) if scope is not None else where
    group.count = int(
        conn.execute(select(func.count()).select_from(cases).where(cond)).scalar() or 0
    )
    if group.count:
        # Ids first, straight from the (kind, state) index in id order; then just those rows.
        first = select(cases.c.id).where(cond).order_by(cases.c.id).limit(limit)
        group.rows = list(
            conn.execute(select(*_CASE_COLUMNS).where(cases.c.id.in_(first)).order_by(cases.c.id))
        )
    return group


def return_group(
    conn: Connection, group: Group, where: Any, limit: int, *, scope: Any = None
) -> Group:
    """Count the returns in a group, and read the `limit` due soonest (most overdue first)."""
    if scope is None:
        group.count = int(
            conn.execute(select(func.count()).select_from(checkpoints).where(where)).scalar() or 0
        )
        first = select(checkpoints.c.id).where(where)
    else:
        joined = checkpoints.join(cases, cases.c.id == checkpoints.c.case_id)
        group.count = int(
            conn.execute(select(func.count()).select_from(joined).where(where, scope)).scalar() or 0
        )
        first = select(checkpoints.c.id).select_from(joined).where(where, scope)
    if group.count:
        # The first ids from the (state, level, due) index alone, then only their rows.
        first = first.order_by(checkpoints.c.due, checkpoints.c.id).limit(limit)
        group.rows = list(
            conn.execute(
                select(*_CHECKPOINT_COLUMNS)
                .select_from(checkpoints.join(cases, cases.c.id == checkpoints.c.case_id))
                .where(checkpoints.c.id.in_(first))
                .order_by(checkpoints.c.due, checkpoints.c.id)
            )
        )
    return group


def dead_messages(conn: Connection, group: Group, limit: int) -> Group:
    cond = outbox.c.state == "dead"
    group.count = int(
        conn.execute(select(func.count()).select_from(outbox).where(cond)).scalar() or 0
    )
    if group.count:
        group.rows = list(
            conn.execute(
                select(
                    outbox.c.id,
                    outbox.c.kind,
                    outbox.c.subject,
                    outbox.c.to_addrs,
                    outbox.c.case_ref,
                    outbox.c.last_error,
                    outbox.c.attempts,
                )
                .where(cond)
                .order_by(outbox.c.id)
                .limit(limit)
            )
        )
    return group


def scored_by(conn: Connection, case_ids: Iterable[int]) -> dict[int, list[str]]:
    """Whose scores count on each of these cases (agreed scores and those set aside left out)."""
    ids = list(case_ids)
    out: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for r in conn.execute(
            select(scores.c.case_id, scores.c.assessor)
            .where(
                scores.c.case_id.in_(ids),
                scores.c.agreed.is_(False),
                scores.c.set_aside_at.is_(None),
            )
            .order_by(scores.c.id)
        ):
            out[r.case_id].append(r.assessor)
    return out


def not_scored_by(person: str) -> Any:
    """Cases `person` has not scored (a score they later set aside still counts as scored)."""
    return ~exists().where(
        scores.c.case_id == cases.c.id, scores.c.assessor == person, scores.c.agreed.is_(False)
    )


# What the lead council is to do, by the move it makes ...
_COUNCIL_MOVES = {
    "submit": "Submit it",
    "answer": "Answer the question asked",
    "accept": "Accept or decline the award",
}
# ... from each state in which it is the one to act (each definition's "council_to_act").
COUNCIL_TO_ACT = {
    state: words
    for d in (BID, AREA)
    for state in d.group("council_to_act")
    for trigger, words in _COUNCIL_MOVES.items()
    if d.machine.transition_for(trigger, state)
}


def waiting_on(conn: Connection, org: str, limit: int = 50) -> list[Any]:
    """Cases `org` leads that wait for the council itself to act."""
    return list(
        conn.execute(
            select(*_CASE_COLUMNS)
            .where(cases.c.lead == org, cases.c.state.in_(list(COUNCIL_TO_ACT)))
            .order_by(cases.c.id)
            .limit(limit)
        )
    )


# --- returns ------------------------------------------------------------------------------------
IN_PLAY = CHECKPOINT.group("in_play")


@dataclass(frozen=True)
class ReturnFilter:
    state: str = ""  # a state, "" for those in play, "all" for every one
    overdue: bool = False
    programme: str = ""
    case: str = ""
    only_org: str | None = None

    def params(self) -> tuple[tuple[str, str], ...]:
        out = [
            (k, v)
            for k, v in (("state", self.state), ("programme", self.programme), ("case", self.case))
            if v
        ]
        if self.overdue:
            out.append(("overdue", "1"))
        return tuple(out)


def _return_filter(f: ReturnFilter) -> tuple[list[Any], bool]:
    """The conditions of a returns list, and whether any of them is on the case."""
    on_return: list[Any] = []
    on_case: list[Any] = []
    if f.state == "":
        on_return.append(checkpoints.c.state.in_(IN_PLAY))
    elif f.state != "all":
        on_return.append(checkpoints.c.state == f.state)
    if f.overdue:
        on_return.append(checkpoints.c.state.in_(CHECKPOINT.group("late")))
    if f.only_org is not None:
        on_case.append(involving(f.only_org))
    if f.programme:
        on_case.append(cases.c.programme == f.programme.lower())
    if f.case:
        on_case.append(cases.c.ref == f.case.strip().upper())
    return on_return + on_case, bool(on_case)


def search_returns(
    conn: Connection, f: ReturnFilter, page: int, size: int
) -> tuple[list[Any], Pager]:
    """One page of returns, soonest due first; ids are found first, then only their rows read."""
    conditions, needs_case = _return_filter(f)
    joined = checkpoints.join(cases, cases.c.id == checkpoints.c.case_id)
    source = joined if needs_case else checkpoints
    total = conn.execute(select(func.count()).select_from(source).where(*conditions)).scalar() or 0
    pager = Pager(page, size, int(total), f.params())
    ids = (
        select(checkpoints.c.id)
        .select_from(source)
        .where(*conditions)
        .order_by(checkpoints.c.due, checkpoints.c.id)
        .offset(pager.offset)
        .limit(size)
    )
    rows = list(
        conn.execute(
            select(*_CHECKPOINT_COLUMNS)
            .select_from(joined)
            .where(checkpoints.c.id.in_(ids))
            .order_by(checkpoints.c.due, checkpoints.c.id)
        )
    )
    return rows, pager


# --- a case's messages ----------------------------------------------------------------------------
def messages_of(conn: Connection, ref: str, limit: int = 100) -> list[Any]:
    return list(
        conn.execute(
            select(
                outbox.c.id,
                outbox.c.kind,
                outbox.c.state,
                outbox.c.subject,
                outbox.c.to_addrs,
                outbox.c.cc_addrs,
                outbox.c.created_at,
                outbox.c.sent_at,
                outbox.c.checkpoint_ref,
                outbox.c.attempts,
                outbox.c.last_error,
            )
            .where(outbox.c.case_ref == ref)
            .order_by(outbox.c.id)
            .limit(limit)
        )
    )


# --- messages sent ---------------------------------------------------------------------------
def sent_messages(
    conn: Connection, *, kind: str, case: str, page: int, size: int
) -> tuple[list[Any], Pager]:
    """Sent mail, newest first, of one kind and/or one case when asked."""
    where = [outbox.c.state == "sent"]
    if kind:
        where.append(outbox.c.kind == kind)
    if case:
        where.append(outbox.c.case_ref == case.upper())
    total = conn.execute(select(func.count()).select_from(outbox).where(*where)).scalar() or 0
    params = tuple((k, v) for k, v in (("kind", kind), ("case", case)) if v)
    pager = Pager(page, size, int(total), params)
    rows = list(
        conn.execute(
            select(
                outbox.c.id,
                outbox.c.kind,
                outbox.c.subject,
                outbox.c.to_addrs,
                outbox.c.case_ref,
                outbox.c.sent_at,
            )
            .where(*where)
            .order_by(outbox.c.sent_at.desc(), outbox.c.id.desc())
            .offset(pager.offset)
            .limit(size)
        )
    )
    return rows, pager
