"""/programmes and /programmes/CODE/ranking: the fund, and bids best first, for the approver.

The ranking shows what remains of the fund and each category's awards before
anyone offers; an offer is the case's own `offer` trigger (posted to
/cases/REF/advance), whose guards weigh it against the fund at that instant,
so two approvers offering against the last funds cannot both succeed.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from states import AREA, BID
from states.money import parse_money
from workflow.services import programme_files as programme_store, ranking
from workflow.services.assessment import fund_position
from workflow.storage.db import reading
from workflow.storage.tables import cases
from workflow.storage.records import CaseRecord
from workflow.web import queries
from workflow.web.actions import find, plan_actions
from workflow.web.auth import require
from workflow.web.pages import PROGRAMME_READERS, page

SEES = PROGRAMME_READERS


def programme_list(request: Request) -> Response:
    require(request, *SEES, doing="see the programmes")
    with reading(request.app.state.engine) as conn:
        rows = programme_store.summaries(conn)
        income = agreed_contributions(conn)
    return page(request, "programmes.html", programmes=rows, income=income)


def agreed_contributions(conn: Connection) -> dict[str, int]:
    """Pence by programme: the contributions agreed with network areas still in it, which are
    the network's income (a network programme commits no grants of its own)."""
    q = (
        select(cases.c.programme, func.sum(cases.c.contribution_pence))
        .where(
            cases.c.kind == "area",
            cases.c.contribution_pence.is_not(None),
            cases.c.state.in_(AREA.group("contribution_counted")),
        )
        .group_by(cases.c.programme)
    )
    return {code: int(total or 0) for code, total in conn.execute(q)}


def ranking_page(request: Request) -> Response:
    who = require(request, *SEES, doing="see a programme's ranking")
    code = request.path_params["code"].lower()
    engine = request.app.state.engine
    category = request.query_params.get("category") or None
    fund = fund_position(engine, code)
    if category not in {c["category"] for c in fund["categories"]}:
        category = None
    rows = with_running_totals(ranking.ranking(engine, code, category=category))
    with reading(engine) as conn:
        names = queries.org_names(conn, [r["lead"] for r in rows])
        waiting = [r["ref"] for r in rows if BID.is_in(r["state"], "to_offer")]
        found = (
            CaseRecord.all(conn.execute(select(cases).where(cases.c.ref.in_(waiting))))
            if waiting
            else []
        )
        versions = {r.ref: r.version for r in found}
        # Each offer planned with the service's rules for this approver, as on the case page:
        # the button only where it would succeed now, else what stops it.
        offers = (
            {r.ref: find(plan_actions(conn, r, who.actor), "offer") for r in found}
            if who.has("approver")
            else {}
        )
    return page(
        request,
        "ranking.html",
        fund=fund,
        rows=rows,
        names=names,
        category=category,
        may_offer=who.has("approver"),
        versions=versions,
        offers=offers,
    )


def with_running_totals(rows: list[dict]) -> list[dict]:
    """Each row with `cumulative` (pence): its amount plus every row above it that fits, offers
    made and bids still to decide alike (the ranking's own `running_total` starts from the
    whole committed sum, so it read the same on every row once the offers were made)."""
    total, out = 0, []
    for r in rows:
        if r["fits"]:
            total += parse_money(r["amount"], "amount")
        out.append({**r, "cumulative": total})
    return out


ROUTES = [
    Route("/programmes", programme_list, methods=["GET"]),
    Route("/programmes/{code}/ranking", ranking_page, methods=["GET"]),
]
