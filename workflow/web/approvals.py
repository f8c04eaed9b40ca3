"""/programmes and /programmes/CODE/ranking: the fund, and bids best first, for the approver.

The ranking shows what remains of the fund and each category's awards before
anyone offers; an offer is the case's own `offer` trigger (posted to
/cases/REF/advance), whose guards weigh it against the fund at that instant,
so two approvers offering against the last funds cannot both succeed.
"""
from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from workflow import programmes as programme_store, ranking
from workflow.assessment import fund_position
from workflow.db import reading
from workflow.models import cases
from workflow.web import queries
from workflow.web.auth import require
from workflow.web.pages import page

SEES = ("caseworker", "assessor", "approver", "auditor", "admin")


def programme_list(request: Request) -> Response:
    require(request, *SEES, doing="see the programmes")
    with reading(request.app.state.engine) as conn:
        rows = programme_store.summaries(conn)
    return page(request, "programmes.html", programmes=rows)


def ranking_page(request: Request) -> Response:
    who = require(request, *SEES, doing="see a programme's ranking")
    code = request.path_params["code"].lower()
    engine = request.app.state.engine
    category = request.query_params.get("category") or None
    fund = fund_position(engine, code)
    if category not in {c["category"] for c in fund["categories"]}:
        category = None
    rows = ranking.ranking(engine, code, category=category)
    with reading(engine) as conn:
        names = queries.org_names(conn, [r["lead"] for r in rows])
        waiting = [r["ref"] for r in rows if r["state"] == "recommended"]
        versions = {r.ref: r.version for r in conn.execute(
            select(cases.c.ref, cases.c.version).where(cases.c.ref.in_(waiting)))} if waiting else {}
    return page(request, "ranking.html", fund=fund, rows=rows, names=names, category=category,
                may_offer=who.has("approver"), versions=versions)


ROUTES = [
    Route("/programmes", programme_list, methods=["GET"]),
    Route("/programmes/{code}/ranking", ranking_page, methods=["GET"]),
]
