"""/cases/REF/application?version=N: any version of a case's application, field by field
beside the version before it (or `&since=M`, beside version M), the changed fields marked
(DESIGN section 10); and what the newest round of amendments changed, for the case page
(`latest_changes`)."""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from states import DEFINITIONS
from workflow.errors import Malformed
from workflow.services import applications, reads
from workflow.services.unit_of_work import UnitOfWork
from workflow.storage.records import CaseRecord
from workflow.storage.tables import history
from workflow.web import queries
from workflow.web.auth import viewer
from workflow.web.forms import version_asked
from workflow.web.pages import page, paragraphs, words

__all__ = ["ROUTES", "latest_changes", "compared_rows"]


def _shown(field: str, value: Any, names: dict[str, str], category: Callable[[str], str]) -> Any:
    """One field's value as people read it (as the case page's application shows it)."""
    from workflow.web.cases import application_rows

    if value is None or value == [] or value == "":
        return "Not given"
    if field == "title":
        return paragraphs(value)
    if field == "lead":
        return f"{names.get(value, value)} ({value})"
    if field == "programme":  # its name is in `names`, beside the organisations'
        return names.get(value, value)
    if field == "evidence" and isinstance(value, list):
        return "\n".join(str(f.get("name", "")) for f in value if isinstance(f, dict))
    rows = application_rows({field: value}, names, category)
    return rows[0][1] if rows else value


def compared_rows(
    fields: list[dict[str, Any]], names: dict[str, str], category: Callable[[str], str]
) -> list[dict[str, Any]]:
    """`applications.compare`'s fields as a table's rows: label, before, after, changed."""
    return [
        {
            "field": f["field"],
            "label": words(f["field"]).capitalize(),
            "before": _shown(f["field"], f["before"], names, category),
            "after": _shown(f["field"], f["after"], names, category),
            "changed": f["changed"],
        }
        for f in fields
    ]


def _codes(*documents: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for d in documents:
        out.append(str(d.get("lead") or ""))
        out.extend(p for p in d.get("partners") or () if isinstance(p, str))
    return out


def latest_changes(
    uow: UnitOfWork, case: CaseRecord, category: Callable[[str], str]
) -> dict[str, Any] | None:
    """What the council's newest round of amendments changed (None when the application was
    never amended since it was sent, or the round left every field as it was): the
    application as it stood when the case came into the state the newest amendment was
    made in (asked a question, say) beside the newest version. A council answering a
    question may change its answers one at a time, each a version of its own: those who
    read the case see every field the round changed, not only the last one saved.
    `{"version", "since", "rows" (the changed fields only), "labels"}`."""
    latest = applications.latest_version(uow.conn, case.id)
    since = _round_began(uow, case) if latest >= 2 else None
    if since is None or since >= latest:
        return None
    compared = applications.compare(uow, case.ref, since, latest)
    before = {f["field"]: f["before"] for f in compared["fields"]}
    after = {f["field"]: f["after"] for f in compared["fields"]}
    names = queries.org_names(uow.conn, _codes(before, after))
    names[case.programme] = uow.spec(case.programme).name
    rows = [r for r in compared_rows(compared["fields"], names, category) if r["changed"]]
    if not rows:
        return None
    return {
        "version": latest,
        "since": since,
        "rows": rows,
        "labels": {r["label"] for r in rows},
    }


def _round_began(uow: UnitOfWork, case: CaseRecord) -> int | None:
    """The application version the newest round of amendments started from: the version
    before the first amendment made since the case last came into the state the newest
    amendment was made in. None when the newest was saved while the council still wrote
    its draft (before it was sent): the answers it gave as it went, not an amendment for
    those who read it."""
    conn = uow.conn
    newest = conn.execute(
        select(history.c.seq, history.c.from_state)
        .where(history.c.case_id == case.id, history.c.trigger == "amend")
        .order_by(history.c.seq.desc())
        .limit(1)
    ).first()
    if newest is None or newest.from_state in DEFINITIONS[case.kind].groups.get("lead_only", ()):
        return None
    # The move that brought the case into that state (a return's or a payment's rows
    # carry their own states, not the case's).
    came_in = conn.execute(
        select(func.max(history.c.seq)).where(
            history.c.case_id == case.id,
            history.c.seq < newest.seq,
            history.c.checkpoint.is_(None),
            history.c.payment.is_(None),
            history.c.from_state != history.c.to_state,
        )
    ).scalar()
    payloads = conn.execute(
        select(history.c.payload)
        .where(
            history.c.case_id == case.id,
            history.c.trigger == "amend",
            history.c.seq > (came_in or 0),
            history.c.seq <= newest.seq,
        )
        .order_by(history.c.seq)
    ).scalars()
    first = next(
        (
            p["application_version"]
            for p in payloads
            if isinstance(p, dict) and isinstance(p.get("application_version"), int)
        ),
        None,
    )
    return None if first is None else first - 1


def application_page(request: Request) -> Response:
    who = viewer(request)
    number = version_asked(request)
    since = version_asked(request, "since")  # the version to compare with (else the one before)
    with UnitOfWork(request.app.state.engine, read_only=True) as uow:
        row = reads.load_case(uow.conn, request.path_params["ref"])
        who.check_sees(row.ref, row.lead, row.partners, row.state)
        listed = applications.versions(uow, row.ref)
        shown = applications.version_of(uow, row.ref, number)
        spec = uow.spec(row.programme)
        before = since if since is not None else shown["version"] - 1
        if before >= shown["version"]:
            raise Malformed(
                f"The comparison with version {before}",
                [
                    f"version {shown['version']} is compared with an earlier one, 1 to "
                    f"{shown['version'] - 1}"
                    if shown["version"] > 1
                    else "version 1 is the first: there is none before it"
                ],
            )
        if before >= 1:
            fields = applications.compare(uow, row.ref, before, shown["version"])["fields"]
        else:
            fields = [
                {"field": f, "before": None, "after": v, "changed": False}
                for f, v in shown["document"].items()
            ]
        names = queries.org_names(
            uow.conn,
            _codes(
                {f["field"]: f["before"] for f in fields}, {f["field"]: f["after"] for f in fields}
            ),
        )
        names[row.programme] = spec.name
        rows = compared_rows(fields, names, spec.category_label)
    return page(
        request,
        "application.html",
        case=row,
        versions=listed,
        shown=shown,
        before=before,
        changed=sum(1 for r in rows if r["changed"]),
        rows=rows,
        names=names,
    )


ROUTES = [Route("/cases/{ref}/application", application_page, methods=["GET"])]
