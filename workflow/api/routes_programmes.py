"""Programmes: their funds, a round's ranking, and its awards as 360Giving open data."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from workflow.services import programme_files as programme_store
from workflow.services import publish, access
from workflow.api import paging
from workflow.api.deps import caller, engine_of, errors, json_response
from workflow.api.schemas import GrantPackage, ProgrammePage, RankingPage
from workflow.storage.db import reading
from workflow.services.engine import Actor
from workflow.services.ranking import ranking as programme_ranking

router = APIRouter(tags=["programmes"])

CODE = Path(
    ...,
    pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$",
    examples=["tca-2013"],
    description="A programme code, e.g. `tca-2013`.",
)


@router.get(
    "/programmes",
    response_model=ProgrammePage,
    responses=errors(400, 401, 403),
    summary="Programmes",
    description="Each with its fund, what is committed and what "
    "remains (`programme list --json`), by code.",
)
def list_programmes(
    request: Request,
    cursor: Optional[str] = paging.CursorQuery,
    limit: int = paging.LimitQuery,
    actor: Actor = Depends(caller),
) -> Response:
    access.require(actor, "programmes")
    with reading(engine_of(request)) as conn:
        items = programme_store.summaries(conn)
    return json_response(paging.page_after(items, cursor, limit, lambda p: p["code"], "programme"))


@router.get(
    "/programmes/{code}/ranking",
    response_model=RankingPage,
    responses=errors(400, 401, 403, 404, 422),
    summary="A programme's ranking",
    description="Moderated bids best first, with the running total against the fund "
    "(`programme ranking CODE --json`). Staff only.",
)
def ranking(
    request: Request,
    code: str = CODE,
    category: Optional[str] = Query(
        None,
        max_length=40,
        pattern=r"^[a-z][a-z_]{0,39}$",
        description="Only this category's bids (one of the "
        "programme's, e.g. `shared_arrangement`; "
        "another is refused with 422).",
    ),
    cursor: Optional[str] = paging.CursorQuery,
    limit: int = paging.LimitQuery,
    actor: Actor = Depends(caller),
) -> Response:
    access.require(actor, "ranking")
    rows = programme_ranking(engine_of(request), code, category=category)
    numbered = [{**row, "_rank": n} for n, row in enumerate(rows, start=1)]
    page = paging.page_after(numbered, cursor, limit, lambda r: r["_rank"], "rank")
    for row in page["items"]:
        row["rank"] = row.pop("_rank")
    return json_response(page)


@router.get(
    "/programmes/{code}/360giving",
    response_model=GrantPackage,
    responses=errors(401, 403, 404, 422),
    summary="Awards as 360Giving open data",
    description="A 360Giving data package of the programme's awards (offered and "
    "accepted), validated against the standard's schema. Refused (422) "
    "naming every recipient without an org-id and every grant at fault.",
)
def grants_360(request: Request, code: str = CODE, actor: Actor = Depends(caller)) -> Response:
    access.require(actor, "360giving")
    publication = publish.build(engine_of(request), code)
    text = publish.write(publication, None)
    return Response(text, media_type="application/json")
