"""The demo's figures, read from the database itself (never from the story's own notes).

The terminal summary, the report and the demo's test all read these, so what
people are shown is what the tables hold.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from states.ladder import LONDON
from states.money import pounds
from workflow.services import programme_files as programme_store
from workflow.storage.db import reading
from workflow.services.chain import Verification, as_dict, verify
from workflow.storage.tables import cases, checkpoints, history, ledger, outbox

LADDER_TRIGGERS = ("open", "remind", "mark_overdue", "escalate", "suspend")

# The year in brief: (case kind, trigger, on a return?) -> what people call it, in story order.
MILESTONES: tuple[tuple[str, str, bool, str], ...] = (
    ("bid", "submit", False, "TCA bids submitted"),
    ("bid", "check", False, "bids found eligible"),
    ("bid", "declare_ineligible", False, "bids found ineligible (due diligence)"),
    ("bid", "score", False, "assessors' scores"),
    ("bid", "moderate", False, "bids moderated"),
    ("bid", "recommend", False, "bids recommended"),
    ("bid", "reject", False, "bids rejected"),
    ("bid", "offer", False, "awards offered"),
    ("bid", "decline", False, "awards declined"),
    ("bid", "accept", False, "awards accepted"),
    ("area", "submit", False, "expressions of interest submitted"),
    ("area", "select", False, "network areas selected"),
    ("area", "decline", False, "expressions of interest not taken forward"),
    ("area", "record_contribution", False, "contributions agreed"),
    ("area", "activate", False, "network areas activated"),
    ("*", "open", True, "monitoring returns opened"),
    ("*", "submit", True, "returns sent by councils"),
    ("*", "accept", True, "returns accepted"),
    ("*", "mark_overdue", True, "returns overdue"),
    ("*", "escalate", True, "escalations"),
    ("*", "suspend", False, "cases suspended"),
    ("*", "reinstate", False, "cases reinstated"),
    ("*", "complete", False, "cases completed"),
)


@dataclass(frozen=True)
class SampleMessage:
    kind: str
    file: str  # its .eml under DIR/mail
    to: list[str]
    cc: list[str]
    subject: str
    text: str


@dataclass(frozen=True)
class Milestone:
    what: str
    count: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class CategoryFigures:
    code: str
    label: str
    band: str  # "£50,000 to £500,000", "up to 25% of ESG allocation"
    offers: int  # live offers (offered, in monitoring, suspended, closed)
    max_count: int | None
    min_count: int | None
    committed_pence: int


@dataclass(frozen=True)
class FunnelStep:
    label: str  # "submitted"
    count: int  # bids that ever took this step
    explained: str  # what the number counts, in a sentence


@dataclass(frozen=True)
class Award:
    """One award offered: to whom, how much, and where it stands now."""

    ref: str
    council: str  # the lead council's name
    category: str  # its label
    amount_pence: int
    state: str  # code, labelled by the report
    offered_at: datetime
    paid_pence: int = 0  # what has been paid of it (issue 19)


@dataclass(frozen=True)
class Release:
    """Funds given back to the fund: the bid, when, how much and why."""

    at: datetime
    pence: int
    ref: str
    why: str  # "declined", "terminated"


@dataclass(frozen=True)
class ReturnCounts:
    on_time: int = 0
    late: int = 0
    missed: int = 0
    waived: int = 0
    not_yet_due: int = 0


@dataclass
class Figures:
    cases_by_state: dict[tuple[str, str], int]
    fund_pence: int
    committed_pence: int
    reserved_pence: int
    released_pence: int
    categories: list[CategoryFigures]
    committed_over_time: list[tuple[datetime, int]]
    messages_by_kind: dict[str, Counter]
    returns: ReturnCounts
    returns_by_quarter: list[tuple[str, ReturnCounts]]
    ladder_steps: Counter
    escalations_by_level: Counter
    suspended_case: str | None
    suspended_history: list[dict[str, Any]]
    audit: Verification
    end: date
    milestones: list[Milestone]
    sample_messages: list[SampleMessage]
    spec: Any = None  # the programme's file, for its own words (steps, categories)
    suspended_kind: str = "bid"
    funnel: list[FunnelStep] = field(default_factory=list)
    awards: list[Award] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # Payments (issue 19): the paid total after each payment, and at the end.
    paid_over_time: list[tuple[datetime, int]] = field(default_factory=list)
    paid_pence: int = 0

    @property
    def messages_total(self) -> int:
        return sum(sum(c.values()) for c in self.messages_by_kind.values())

    @property
    def messages_sent(self) -> int:
        return sum(c["sent"] for c in self.messages_by_kind.values())


def gather(engine: Engine, *, end: date, programme: str = "tca-2013") -> Figures:
    with reading(engine) as conn:
        spec = programme_store.spec_for(conn, programme)
        by_state = {
            (r.kind, r.state): r.n
            for r in conn.execute(
                select(cases.c.kind, cases.c.state, func.count().label("n")).group_by(
                    cases.c.kind, cases.c.state
                )
            )
        }
        entries = list(
            conn.execute(
                select(ledger)
                .where(ledger.c.programme == programme)
                .order_by(ledger.c.at, ledger.c.id)
            )
        )
        reserved = sum(e.amount_pence for e in entries if e.entry == "reserve")
        released = sum(e.amount_pence for e in entries if e.entry == "release")
        suspended, suspended_kind, timeline = _suspended_case(conn)
        steps, levels = _ladder(conn)
        returns, by_quarter = _returns(conn, end)
        paid_over_time = _paid_over_time(conn, programme)
        return Figures(
            cases_by_state=by_state,
            fund_pence=spec.fund_pence,
            committed_pence=programme_store.committed_pence(conn, programme),
            reserved_pence=reserved,
            released_pence=released,
            categories=_categories(conn, spec),
            committed_over_time=_over_time(entries),
            messages_by_kind=_messages(conn),
            returns=returns,
            returns_by_quarter=by_quarter,
            ladder_steps=steps,
            escalations_by_level=levels,
            suspended_case=suspended,
            suspended_history=timeline,
            audit=verify(conn),
            end=end,
            milestones=_milestones(conn),
            sample_messages=_first_of_each_kind(conn),
            spec=spec,
            suspended_kind=suspended_kind,
            funnel=_funnel(conn, programme),
            awards=_awards(conn, spec),
            releases=_releases(conn, entries),
            paid_over_time=paid_over_time,
            paid_pence=paid_over_time[-1][1] if paid_over_time else 0,
            extra={"controls": _controls(conn, spec)},
        )


# The bids' way through the round: (trigger, label, what the count means).
FUNNEL = (
    ("submit", "submitted", "bids the councils submitted"),
    ("check", "eligible", "found eligible after the due diligence checks"),
    ("recommend", "recommended", "recommended for an award after moderation"),
    ("offer", "offered", "offered an award by an approver (some after another council declined)"),
    ("accept", "accepted", "awards the councils accepted"),
)


def _controls(conn: Connection, spec: Any) -> dict[str, Any]:
    """The report's controls (DESIGN.md section 9): each countersignature with who then
    offered, and each annual review with its decision."""
    from states.review import DECISION_WORDS, STATUS_WORDS
    from workflow.services.reviews import review_json
    from workflow.storage.tables import reviews

    rows = list(
        conn.execute(
            select(
                cases.c.ref,
                cases.c.amount_pence,
                history.c.trigger,
                history.c.actor,
                history.c.payload,
            )
            .join(cases, cases.c.id == history.c.case_id)
            .where(history.c.trigger.in_(("countersign", "offer", "countersign_variation")))
            .order_by(history.c.id)
        )
    )
    offered_by = {r.ref: r.actor for r in rows if r.trigger == "offer"}
    from workflow.services import controls

    ratings: dict[str, list[Any]] = defaultdict(list)
    for r in conn.execute(
        select(cases.c.ref, history.c.trigger, history.c.actor, history.c.payload)
        .join(cases, cases.c.id == history.c.case_id)
        .where(history.c.trigger == "diligence")
        .order_by(history.c.id)
    ):
        ratings[r.ref].append(r)
    risky = {ref for ref, found in ratings.items() if controls.fraud_risk(found) == "high"}
    from states.money import from_json
    from workflow.storage.tables import programmes

    sro = conn.execute(
        select(programmes.c.sro).where(programmes.c.code == spec.code)
    ).scalar_one_or_none()
    signatures = [
        {
            "ref": r.ref,
            # what was countersigned, as its row says: a later variation changes the case's
            # amount, never what the offer's countersignature was for
            "amount": pounds(
                from_json(r.payload["amount"]) if r.payload.get("amount") else r.amount_pence or 0
            ),
            "signed_by": r.actor,
            "what": (
                f"Variation {r.payload.get('variation')}, raising the award"
                if r.trigger == "countersign_variation"
                else "Offer; fraud risk rated high, so the senior responsible owner's"
                if r.ref in risky
                else "Offer"
            ),
            "offered_by": offered_by.get(r.ref, ""),
        }
        for r in rows
        if r.trigger != "offer"
    ]
    found = [
        review_json(conn, r)
        for r in conn.execute(select(reviews).order_by(reviews.c.due, reviews.c.id))
    ]
    shown = [
        {
            **r,
            "due_day": date.fromisoformat(r["due"]),
            "status_label": STATUS_WORDS[r["status"]].label,
            "decision_label": DECISION_WORDS[r["decision"]].label if r["decision"] else "",
        }
        for r in found
        if r["status"] != "not_due"
    ]
    decided = Counter(r["decision"] for r in found if r["decision"])
    return {
        "threshold": (
            pounds(spec.countersign_above_pence)
            if spec.countersign_above_pence is not None
            else None
        ),
        "countersignatures": signatures,
        "sro": sro,
        "reviews": shown,
        "decisions": {DECISION_WORDS[k].label: decided.get(k, 0) for k in DECISION_WORDS},
        "scheduled": sum(1 for r in found if r["status"] == "not_due"),
    }


def _funnel(conn: Connection, programme: str) -> list[FunnelStep]:
    """How many bids ever took each step (a bid is counted once, whatever came after)."""
    took = dict(
        conn.execute(
            select(history.c.trigger, func.count(func.distinct(history.c.case_id)))
            .join(cases, cases.c.id == history.c.case_id)
            .where(
                cases.c.programme == programme,
                history.c.checkpoint.is_(None),
                history.c.trigger.in_([t for t, _, _ in FUNNEL]),
            )
            .group_by(history.c.trigger)
        ).all()
    )
    return [
        FunnelStep(label, int(took.get(trigger, 0)), explained)
        for trigger, label, explained in FUNNEL
    ]


def _awards(conn: Connection, spec: Any) -> list[Award]:
    """Every bid an approver offered an award, by council, with where it stands now."""
    from workflow.storage.tables import organisations

    rows = conn.execute(
        select(
            cases.c.ref,
            cases.c.category,
            cases.c.amount_pence,
            cases.c.state,
            organisations.c.name,
            func.min(history.c.at).label("offered_at"),
        )
        .join(history, history.c.case_id == cases.c.id)
        .join(organisations, organisations.c.code == cases.c.lead)
        .where(
            cases.c.programme == spec.code,
            history.c.trigger == "offer",
            history.c.checkpoint.is_(None),
        )
        .group_by(
            cases.c.ref, cases.c.category, cases.c.amount_pence, cases.c.state, organisations.c.name
        )
    )
    paid = _paid_by_case(conn)
    out = [
        Award(
            r.ref,
            r.name,
            spec.category_label(r.category),
            r.amount_pence,
            r.state,
            r.offered_at,
            paid.get(r.ref, 0),
        )
        for r in rows
    ]
    return sorted(out, key=lambda a: (a.council, a.ref))


def _paid_by_case(conn: Connection) -> dict[str, int]:
    from workflow.services.payments import SETTLED
    from workflow.storage.tables import payments

    return {
        r.ref: int(r.paid)
        for r in conn.execute(
            select(cases.c.ref, func.sum(payments.c.amount_pence).label("paid"))
            .join(payments, payments.c.case_id == cases.c.id)
            .where(payments.c.state.in_(SETTLED))
            .group_by(cases.c.ref)
        )
    }


def _paid_over_time(conn: Connection, programme: str) -> list[tuple[datetime, int]]:
    """The programme's paid total after each payment made, in the order they were paid."""
    from workflow.services.payments import SETTLED
    from workflow.storage.tables import payments

    total, out = 0, []
    for r in conn.execute(
        select(payments.c.paid_at, payments.c.amount_pence)
        .where(payments.c.programme == programme, payments.c.state.in_(SETTLED))
        .order_by(payments.c.paid_at, payments.c.id)
    ):
        total += r.amount_pence
        out.append((r.paid_at, total))
    return out


def _releases(conn: Connection, entries: list[Any]) -> list[Release]:
    """Each time funds went back to the fund, with the bid and why (its state says)."""
    back = [e for e in entries if e.entry == "release"]
    if not back:
        return []
    refs = dict(
        conn.execute(
            select(cases.c.id, cases.c.ref).where(cases.c.id.in_({e.case_id for e in back}))
        ).all()
    )
    states = dict(
        conn.execute(
            select(cases.c.id, cases.c.state).where(cases.c.id.in_({e.case_id for e in back}))
        ).all()
    )
    return [
        Release(
            e.at,
            e.amount_pence,
            refs[e.case_id],
            "terminated" if states[e.case_id] == "terminated" else "declined",
        )
        for e in back
    ]


def _categories(conn: Connection, spec: Any) -> list[CategoryFigures]:
    from workflow.services.facts import LIVE_OFFER_STATES

    offers = Counter(
        {
            r.category: r.n
            for r in conn.execute(
                select(cases.c.category, func.count().label("n"))
                .where(cases.c.programme == spec.code, cases.c.state.in_(LIVE_OFFER_STATES))
                .group_by(cases.c.category)
            )
        }
    )
    out = []
    for code, category in spec.categories.items():
        out.append(
            CategoryFigures(
                code=code,
                label=category.label or code,
                band=_band(category),
                offers=offers.get(code, 0),
                max_count=category.max_count,
                min_count=getattr(category, "min_count", None),
                committed_pence=programme_store.committed_pence(conn, spec.code, category=code),
            )
        )
    return out


def _band(category: Any) -> str:
    from states.money import pounds

    if category.esg_share is not None:
        percent = format((category.esg_share * 100).normalize(), "f")
        return f"up to {percent}% of the council's ESG allocation"
    low, high = category.min_pence, category.max_pence
    if low is not None and high is not None:
        return f"{pounds(low)} to {pounds(high)}"
    if high is not None:
        return f"up to {pounds(high)}"
    return f"at least {pounds(low)}" if low is not None else "any amount"


def _over_time(entries: list[Any]) -> list[tuple[datetime, int]]:
    total, out = 0, []
    for e in entries:
        total += e.amount_pence if e.entry == "reserve" else -e.amount_pence
        out.append((e.at, total))
    return out


def _messages(conn: Connection) -> dict[str, Counter]:
    out: dict[str, Counter] = defaultdict(Counter)
    for r in conn.execute(
        select(outbox.c.kind, outbox.c.state, func.count().label("n")).group_by(
            outbox.c.kind, outbox.c.state
        )
    ):
        out[r.kind][r.state] += r.n
    return dict(sorted(out.items()))


def _ladder(conn: Connection) -> tuple[Counter, Counter]:
    """Ladder steps the sweep took (by step name), and escalations by level."""
    steps: Counter = Counter()
    levels: Counter = Counter()
    rows = conn.execute(
        select(history.c.trigger, history.c.payload).where(
            history.c.role == "system", history.c.trigger.in_(LADDER_TRIGGERS)
        )
    )
    for r in rows:
        step = (r.payload or {}).get("step")
        if step:
            steps[step] += 1
        if r.trigger == "escalate":
            levels[int((r.payload or {}).get("level", 0))] += 1
    return steps, levels


def _returns(conn: Connection, end: date) -> tuple[ReturnCounts, list[tuple[str, ReturnCounts]]]:
    """Each return on time, late (first sent after its due date), missed, waived or not yet due."""
    first_sent: dict[tuple[int, str], datetime] = {}
    for r in conn.execute(
        select(history.c.case_id, history.c.checkpoint, history.c.at)
        .where(history.c.checkpoint.is_not(None), history.c.trigger == "submit")
        .order_by(history.c.case_id, history.c.seq)
    ):
        first_sent.setdefault((r.case_id, r.checkpoint), r.at)
    quarters: dict[str, Counter] = defaultdict(Counter)
    for cp in conn.execute(
        select(checkpoints.c.case_id, checkpoints.c.ref, checkpoints.c.due, checkpoints.c.state)
    ):
        sent = first_sent.get((cp.case_id, cp.ref.rsplit("/", 1)[1]))
        if sent is not None:
            outcome = "late" if sent.astimezone(LONDON).date() > cp.due else "on_time"
        elif cp.state == "waived":
            outcome = "waived"
        elif cp.due < end:
            outcome = "missed"
        else:
            outcome = "not_yet_due"
        quarters[_quarter(cp.due)][outcome] += 1
    ordered = sorted(quarters.items(), key=lambda item: _quarter_key(item[0]))
    by_quarter = [(name, ReturnCounts(**counts)) for name, counts in ordered]
    total: Counter = Counter()
    for _, counts in quarters.items():
        total.update(counts)
    return ReturnCounts(**total), by_quarter


_QUARTER_NAMES = ("Jan–Mar", "Apr–Jun", "Jul–Sep", "Oct–Dec")


def _quarter(day: date) -> str:
    return f"{_QUARTER_NAMES[(day.month - 1) // 3]} {day.year}"


def _quarter_key(name: str) -> tuple[int, int]:
    months, year = name.rsplit(" ", 1)
    return int(year), _QUARTER_NAMES.index(months)


def _suspended_case(conn: Connection) -> tuple[str | None, str, list[dict[str, Any]]]:
    """The first case the ladder suspended (preferring one still suspended), with its history."""
    rows = list(
        conn.execute(
            select(cases.c.id, cases.c.ref, cases.c.state, cases.c.kind)
            .join(history, history.c.case_id == cases.c.id)
            .where(history.c.trigger == "suspend")
            .order_by(history.c.at, history.c.id)
        )
    )
    if not rows:
        return None, "bid", []
    chosen = next((r for r in rows if r.state == "suspended"), rows[0])
    timeline = [
        as_dict(r)
        for r in conn.execute(
            select(history).where(history.c.case_id == chosen.id).order_by(history.c.seq)
        )
    ]
    return chosen.ref, chosen.kind, timeline


def _milestones(conn: Connection) -> list[Milestone]:
    on_return = history.c.checkpoint.is_not(None)
    rows = conn.execute(
        select(
            cases.c.kind,
            history.c.trigger,
            on_return.label("on_return"),
            func.count().label("n"),
            func.min(history.c.at).label("first"),
            func.max(history.c.at).label("last"),
        )
        .join(cases, cases.c.id == history.c.case_id)
        .group_by(cases.c.kind, history.c.trigger, on_return)
    )
    found: dict[tuple[str, str, bool], list[Any]] = defaultdict(list)
    for r in rows:
        found[(r.kind, r.trigger, bool(r.on_return))].append(r)
        found[("*", r.trigger, bool(r.on_return))].append(r)
    out = []
    for kind, trigger, returns, what in MILESTONES:
        hits = found.get((kind, trigger, returns))
        if hits:
            out.append(
                Milestone(
                    what,
                    sum(h.n for h in hits),
                    min(h.first for h in hits),
                    max(h.last for h in hits),
                )
            )
    return out


def _first_of_each_kind(conn: Connection) -> list[SampleMessage]:
    from demo.mailcatch import file_name

    first = select(func.min(outbox.c.id)).group_by(outbox.c.kind)
    rows = conn.execute(select(outbox).where(outbox.c.id.in_(first)).order_by(outbox.c.id))
    return [
        SampleMessage(
            r.kind,
            file_name(r.id, r.key),
            list(r.to_addrs),
            list(r.cc_addrs),
            r.subject,
            r.body_text,
        )
        for r in rows
    ]
