"""/inbox: what needs this person now, grouped by what is needed.

Caseworkers see cases to check, assess, moderate and decide, returns to read
and returns overdue by ladder step, and messages that could not be sent.
Assessors see the bids under assessment and whether they have declared and
scored each; approvers see the fund, recommended bids and areas to select.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from states import AREA, BID, CHECKPOINT, PAYMENT, VARIATION, Definition
from workflow.services import controls, reads, reviews
from workflow.services import programme_files as programme_store
from workflow.services.assessment import fund_position
from workflow.storage.db import reading
from workflow.storage.tables import (
    cases,
    checkpoints,
    declarations,
    payments,
    people,
    programmes,
    variations,
)
from workflow.web import queries
from workflow.services.engine import Actor
from workflow.storage.records import CaseRecord
from workflow.web.actions import find, plan_actions
from workflow.web.auth import require
from workflow.web.pages import page
from workflow.web.queries import Group

bid, area = cases.c.kind == "bid", cases.c.kind == "area"
# Naming both kinds lets a state-only condition use the (kind, state) index.
either = cases.c.kind.in_(("bid", "area"))


def _in(definition: Definition, group: str, column: Any = cases.c.state) -> Any:
    """A condition on `column`: the state is one of `definition`'s group."""
    states = definition.group(group)
    return column.in_(states) if len(states) > 1 else column == states[0]


def _state(definition: Definition, group: str) -> Any:
    """Cases of `definition`'s kind in one of its groups (read from the (kind, state) index)."""
    kind = bid if definition is BID else area
    return and_(kind, _in(definition, group))


def _listed(where: str, definition: Definition, group: str, kind: str | None = None) -> str:
    """A link to the whole list of a group (the last of its states, where work ends up)."""
    return f"/{where}?" + (f"kind={kind}&" if kind else "") + f"state={definition.group(group)[-1]}"


_RETURN_STATE = checkpoints.c.state
# (key, title, hint, condition, link to the whole list): the caseworker's case groups.
CASEWORKER_CASES = (
    (
        "to_check",
        "To check",
        "Bids submitted and expressions of interest received: check "
        "eligibility, or start assessing an area.",
        or_(_state(BID, "to_check"), _state(AREA, "to_check")),
        _listed("cases", BID, "to_check"),
    ),
    (
        "to_assess",
        "Eligible: start assessment",
        "Bids found eligible, waiting for assessment to start.",
        _state(BID, "to_assess"),
        _listed("cases", BID, "to_assess", "bid"),
    ),
    (
        "to_moderate",
        "To moderate",
        "Bids under assessment: moderate once two assessors have scored.",
        _state(BID, "scoring"),
        _listed("cases", BID, "scoring", "bid"),
    ),
    (
        "to_decide",
        "To recommend or reject",
        "Moderated bids waiting for your recommendation.",
        _state(BID, "to_recommend"),
        _listed("cases", BID, "to_recommend", "bid"),
    ),
    (
        "areas",
        "Network areas to onboard or activate",
        "Selected areas to onboard, and areas "
        "onboarding (activate once their contribution is agreed).",
        _state(AREA, "to_onboard"),
        _listed("cases", AREA, "to_onboard", "area"),
    ),
    (
        "held",
        "Suspended",
        "Cases suspended, most often by the reminder ladder: payments are held.",
        and_(either, _in(BID, "held")),
        _listed("cases", BID, "held"),
    ),
    (
        "caseworker_disabled",
        "Caseworker disabled",
        "Open cases whose caseworker has been "
        "disabled: nobody is reminded of them until another caseworker takes each one on.",
        and_(
            cases.c.caseworker.in_(select(people.c.name).where(people.c.disabled_at.is_not(None))),
            or_(
                *(
                    and_(kind, cases.c.state.not_in(sorted(d.final)))
                    for kind, d in ((bid, BID), (area, AREA))
                )
            ),
        ),
        "",
    ),
)
# The returns a caseworker deals with, and the overdue ones by ladder step.
CASEWORKER_RETURNS = (
    (
        "to_read",
        "Returns submitted",
        "Read each return, then accept or query it.",
        _in(CHECKPOINT, "to_read", _RETURN_STATE),
        _listed("returns", CHECKPOINT, "to_read"),
    ),
    (
        "awaiting_council",
        "Returns queried",
        "Waiting for the council to answer your query and resubmit.",
        _in(CHECKPOINT, "awaiting_council", _RETURN_STATE),
        _listed("returns", CHECKPOINT, "awaiting_council"),
    ),
    (
        "overdue_notice",
        "Overdue",
        "Past their due date: the council has had its overdue notice.",
        _in(CHECKPOINT, "overdue_notice", _RETURN_STATE),
        _listed("returns", CHECKPOINT, "overdue_notice"),
    ),
    (
        "escalated_1",
        "Escalated once",
        "Overdue by 7 days or more: the chief executive or s151 officer has been written to.",
        and_(_in(CHECKPOINT, "escalating", _RETURN_STATE), checkpoints.c.level <= 1),
        _listed("returns", CHECKPOINT, "escalating"),
    ),
    (
        "escalated_2",
        "Escalated twice",
        "Overdue by 21 days or more: the programme director has "
        "been written to; the case is flagged at risk.",
        and_(_in(CHECKPOINT, "escalating", _RETURN_STATE), checkpoints.c.level >= 2),
        _listed("returns", CHECKPOINT, "escalating"),
    ),
)


def inbox(request: Request) -> Response:
    who = require(request, "caseworker", "assessor", "approver", doing="have an inbox")
    settings = request.app.state.settings
    programme = request.query_params.get("programme", "").strip().lower()
    org = request.query_params.get("org", "").strip()
    limit = settings.inbox_rows
    with reading(request.app.state.engine) as conn:
        scope = _scope(conn, programme, org)
        sections: list[tuple[str, list[Group]]] = []
        if who.has("caseworker"):
            sections.append(
                (
                    "Cases",
                    [
                        queries.case_group(
                            conn, Group(k, t, h, "case", more=m), c, limit, scope=scope
                        )
                        for k, t, h, c, m in CASEWORKER_CASES
                    ],
                )
            )
            sections.append(
                (
                    "Monitoring returns",
                    [
                        queries.return_group(
                            conn, Group(k, t, h, "return", more=m), c, limit, scope=scope
                        )
                        for k, t, h, c, m in CASEWORKER_RETURNS
                    ],
                )
            )
            sections.append(
                (
                    "Messages",
                    [
                        queries.dead_messages(
                            conn,
                            Group(
                                "dead",
                                "Messages that could not be sent",
                                "Every try failed; check the address and the error, then send again.",
                                "message",
                                more="/outbox",
                            ),
                            limit,
                        )
                    ],
                )
            )
        assessing = _assessor_groups(conn, who.name, scope, limit) if who.has("assessor") else []
        approving, why_not = (
            _approver_groups(conn, who.actor, scope, limit) if who.has("approver") else ([], {})
        )
        if who.has("caseworker"):
            sections.append(
                (
                    "Annual reviews",
                    [
                        queries.case_group(
                            conn,
                            Group(
                                "reviews_due",
                                "Annual reviews due",
                                "Awards whose annual review has fallen "
                                "due: record whether each continues, is amended or stops.",
                                "case",
                                more="/cases?kind=bid&state=in_monitoring",
                            ),
                            and_(bid, reviews.due_for_case()),
                            limit,
                            scope=scope,
                        )
                    ],
                )
            )
        funds = _fund_positions(request, conn) if who.has("approver") else []
        all_rows = [r for _, gs in sections for g in gs for r in g.rows] + [
            r for g in assessing + approving for r in g.rows
        ]
        scoped = [g for _, gs in sections for g in gs if g.what != "message"]
        if programme and not any(g.count or g.rows for g in scoped + assessing + approving):
            # Nothing of the programme in any list (messages are not the programme's): a
            # mistyped code must not look like a programme with nothing to do, as /cases.
            reads.refuse_unknown(conn, programme=programme)
        names = queries.org_names(conn, [getattr(r, "lead", None) for r in all_rows])
        status = _assessor_status(conn, who.name, assessing) if assessing else {}
        counted = _scores_that_count(conn, sections)
        programme_codes = [
            r.code for r in conn.execute(select(programmes.c.code).order_by(programmes.c.code))
        ]
    if assessing:
        sections.append(("Assessment", assessing))
    if approving:
        sections.append(("Decisions", approving))
    return page(
        request,
        "inbox.html",
        sections=sections,
        names=names,
        funds=funds,
        assessor_status=status,
        counted=counted,
        why_not=why_not,
        programmes=programme_codes,
        form={"programme": programme, "org": org},
    )


def _scope(conn, programme: str, org: str) -> Any:
    parts = []
    if programme:
        parts.append(cases.c.programme == programme)
    if org:
        codes = queries.orgs_matching(conn, org)
        parts.append(or_(*[queries.involving(c) for c in codes]) if codes else cases.c.id < 0)
    return and_(*parts) if parts else None


def _scores_that_count(conn, sections: list[tuple[str, list[Group]]]) -> dict[int, int]:
    """For the bids waiting for moderation: how many assessors' scores count so far."""
    ids = [r.id for _, groups in sections for g in groups if g.key == "to_moderate" for r in g.rows]
    return {i: len(names) for i, names in queries.scored_by(conn, ids).items()}


def _assessor_groups(conn, name: str, scope: Any, limit: int) -> list[Group]:
    under = _state(BID, "scoring")
    return [
        queries.case_group(
            conn,
            Group(
                "to_score",
                "Bids to score",
                "Under assessment and "
                "not yet scored by you: declare any conflict of "
                "interest first, then score.",
                "case",
                more=_listed("cases", BID, "scoring", "bid"),
            ),
            and_(under, queries.not_scored_by(name)),
            limit,
            scope=scope,
        ),
        queries.case_group(
            conn,
            Group(
                "to_declare",
                "Eligible bids: declare early",
                "Declare any conflict of interest before assessment starts.",
                "case",
                more=_listed("cases", BID, "to_assess", "bid"),
            ),
            _state(BID, "to_assess"),
            limit,
            scope=scope,
        ),
    ]


def _assessor_status(conn, name: str, groups: list[Group]) -> dict[int, dict[str, Any]]:
    ids = [r.id for g in groups for r in g.rows]
    scored = queries.scored_by(conn, ids)
    said = (
        {
            r.case_id: r.conflict
            for r in conn.execute(
                select(declarations.c.case_id, declarations.c.conflict).where(
                    declarations.c.case_id.in_(ids), declarations.c.person == name
                )
            )
        }
        if ids
        else {}
    )
    return {
        i: {
            "declared": i in said,
            "conflict": said.get(i, False),
            "scores": len(scored.get(i, [])),
            "mine": name in scored.get(i, []),
        }
        for i in ids
    }


def _approver_groups(
    conn, actor: Actor, scope: Any, limit: int
) -> tuple[list[Group], dict[int, str]]:
    specs: dict[str, Any] = {}

    def spec(code: str) -> Any:
        if code not in specs:
            specs[code] = programme_store.spec_for(conn, code)
        return specs[code]

    unsigned = sorted(controls.awaiting_countersignature(conn, spec))
    waiting = cases.c.id.in_(unsigned) if unsigned else cases.c.id < 0
    why_not = _why_not_offered(conn, actor, and_(_state(BID, "to_offer"), ~waiting), scope)
    offerable = [i for i, why in why_not.items() if not why]
    for i in offerable:
        del why_not[i]
    # Of those waiting for a countersignature, the ones this approver may give; the others
    # (the SRO's alone, or a bid they assessed) cannot be offered now, and say why.
    to_sign, not_mine = _countersignable(conn, actor, waiting, scope)
    why_not.update(not_mine)
    groups = [
        queries.case_group(
            conn,
            Group(
                "to_countersign",
                "Recommended bids to countersign",
                "Offers above the programme's countersignature "
                "threshold, or with a high fraud risk (the senior "
                "responsible owner's), wait for a second approver's "
                "signature: countersign one you will not offer and did "
                "not assess.",
                "case",
                more=_listed("cases", BID, "to_offer", "bid"),
            ),
            cases.c.id.in_(to_sign) if to_sign else cases.c.id < 0,
            limit,
            scope=scope,
        ),
        queries.case_group(
            conn,
            Group(
                "to_offer",
                "Recommended bids to offer",
                "Offer an award: each of these fits the fund remaining and its "
                "category's number of awards (countersigned where it needs it).",
                "case",
                more=_listed("cases", BID, "to_offer", "bid"),
            ),
            cases.c.id.in_(sorted(offerable)) if offerable else cases.c.id < 0,
            limit,
            scope=scope,
        ),
        queries.case_group(
            conn,
            Group(
                "cannot_offer",
                "Recommended bids that cannot be offered now",
                "Each says why, as its case page does: most often the fund, or the "
                "category's number of awards, has no room for it until an offer is "
                "declined or an award ends.",
                "case",
                more=_listed("cases", BID, "to_offer", "bid"),
            ),
            cases.c.id.in_(sorted(why_not)) if why_not else cases.c.id < 0,
            limit,
            scope=scope,
        ),
        queries.case_group(
            conn,
            Group(
                "variations",
                "Variations to decide",
                "Awards whose lead council or caseworker has proposed a "
                "variation: countersign it, approve it or reject it on the case page.",
                "case",
                more="",
            ),
            cases.c.id.in_(
                select(variations.c.case_id).where(
                    variations.c.state.in_(sorted(VARIATION.group("undecided")))
                )
            ),
            limit,
            scope=scope,
        ),
        queries.case_group(
            conn,
            Group(
                "payments",
                "Payments to approve",
                "Awards with a payment fallen due: approve it on the case page or on Payments, "
                "and finance pays it (never one of a case you are the caseworker of).",
                "case",
                more="/payments",
            ),
            and_(
                cases.c.id.in_(
                    select(payments.c.case_id).where(_in(PAYMENT, "to_approve", payments.c.state))
                ),
                # As the rule not_the_caseworker: these are for another approver.
                or_(cases.c.caseworker.is_(None), cases.c.caseworker != actor.name),
            ),
            limit,
            scope=scope,
        ),
        queries.case_group(
            conn,
            Group(
                "to_select",
                "Network areas to select",
                "Areas under assessment: select or decline.",
                "case",
                more=_listed("cases", AREA, "to_select", "area"),
            ),
            _state(AREA, "to_select"),
            limit,
            scope=scope,
        ),
        queries.case_group(
            conn,
            Group(
                "to_terminate",
                "Suspended bids",
                "Reinstated by a "
                "caseworker, or terminated by an approver; an annual "
                "review that decides to stop an award suspends it for "
                "you to terminate.",
                "case",
                more=_listed("cases", BID, "held", "bid"),
            ),
            _state(BID, "held"),
            limit,
            scope=scope,
        ),
    ]
    return groups, why_not


def _countersignable(
    conn, actor: Actor, where: Any, scope: Any
) -> tuple[list[int], dict[int, str]]:
    """Of the recommended bids waiting for a countersignature (`where`), those this approver
    may countersign now, and the rest with why the offer cannot be made now, both planned as
    the case page plans them (`plan_actions`)."""
    cond = and_(_state(BID, "to_offer"), where)
    cond = and_(cond, scope) if scope is not None else cond
    mine: list[int] = []
    others: dict[int, str] = {}
    for case in CaseRecord.all(conn.execute(select(cases).where(cond).order_by(cases.c.id))):
        planned = plan_actions(conn, case, actor, only=("countersign", "offer"))
        sign, offer = find(planned, "countersign"), find(planned, "offer")
        if sign is not None and sign.offered:
            mine.append(case.id)
        else:
            others[case.id] = next(
                (a.blocked for a in (offer, sign) if a is not None and a.blocked),
                "it waits for a countersignature",
            )
    return mine, others


def _why_not_offered(conn, actor: Actor, where: Any, scope: Any) -> dict[int, str]:
    """Each recommended bid waiting for an offer (none of them for a countersignature), with
    why this approver cannot offer it now ("" where the offer would succeed), planned as the
    case page plans it (`plan_actions`): the fund's and the category's room, and the rest."""
    cond = and_(where, scope) if scope is not None else where
    out: dict[int, str] = {}
    for case in CaseRecord.all(conn.execute(select(cases).where(cond).order_by(cases.c.id))):
        offer = find(plan_actions(conn, case, actor, only=("offer",)), "offer")
        out[case.id] = offer.blocked if offer is not None else ""
    return out


def _fund_positions(request: Request, conn) -> list[dict]:
    codes = [
        r.code
        for r in conn.execute(
            select(programmes.c.code).where(programmes.c.kind == "bids").order_by(programmes.c.code)
        )
    ]
    return [fund_position(request.app.state.engine, code) for code in codes]


ROUTES = [Route("/inbox", inbox, methods=["GET"])]
