"""/audit: the tamper-evident history, for auditors and caseworkers.

/audit/REF shows a case's rows, each with its own chain status (recomputed
here from the rows, as `audit verify` does); /audit lists history across a
programme with filters; /audit/verify checks every chain; /audit/export
streams CSV or JSON as `casework audit export` writes it; /audit/admin shows the
admin log (what administrators changed), its chain checked as `audit verify` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from workflow import clock
from states import DEFINITIONS
from states.words import EVENT_WORDS, admin_label, event_label
from workflow.services import admin_log, reads
from workflow.services import programme_files as programme_store
from workflow.services.lifecycle import load_case
from workflow.storage.db import reading
from workflow.errors import Malformed
from workflow.services.export import FORMATS, streamed
from workflow.services.chain import GENESIS, Entry, as_dict, rows_for, seal, verify
from workflow.storage.tables import cases, history, programmes
from workflow.web.auth import AUDIT_ROLES, require
from states.dates import LONDON
from workflow.web.forms import DATE_PARTS, DateTyped, date_typed
from workflow.web.pages import page

STATUS_WORDS = {
    "intact": "Intact",
    "altered": "Does not match its hash",
    "does_not_follow": "Does not follow the row before",
    "out_of_order": "Out of sequence: a row is missing before it",
    "after_break": "After a break: cannot be trusted",
}


@dataclass(frozen=True)
class Checked:
    row: dict[str, Any]
    status: str

    @property
    def ok(self) -> bool:
        return self.status == "intact"


def check_rows(ref: str, rows: list[Any]) -> list[Checked]:
    """Each row's own standing in its chain: intact, or how the chain breaks there."""
    out, prev, broken = [], GENESIS, False
    for expected, row in enumerate(rows, start=1):
        entry = Entry(
            checkpoint=row.checkpoint,
            from_state=row.from_state,
            to_state=row.to_state,
            trigger=row.trigger,
            actor=row.actor,
            role=row.role,
            reason=row.reason,
            at=row.at,
            payload=row.payload,
            payment=getattr(row, "payment", None),
        )
        if broken:
            status = "after_break"
        elif row.seq != expected:
            status = "out_of_order"
        elif row.prev_hash != prev:
            status = "does_not_follow"
        elif seal(ref, row.seq, row.prev_hash, entry) != row.hash:
            status = "altered"
        else:
            status = "intact"
        broken = broken or status != "intact"
        prev = row.hash
        out.append(Checked(as_dict(row), status))
    return out


def case_audit(request: Request) -> Response:
    require(request, *AUDIT_ROLES, doing="read the audit history")
    from workflow.services.seal_check import case_sealing, unmatched_for_case

    with reading(request.app.state.engine) as conn:
        case = load_case(conn, request.path_params["ref"])
        rows = rows_for(conn, case.id)
        result = verify(conn, case_id=case.id)
        # The seals too, for this case's rows only: a row rewritten with every hash after it
        # recomputed leaves this chain whole, and only a seal shows it. Each sealed row is
        # proved by its inclusion path to the newest seal's root (as `audit proof`), so the
        # page reads this case's rows and the tree kept with the seal, not every case's rows.
        sealing = case_sealing(conn, case.ref, rows, copies=_seal_copies())
        unmatched = unmatched_for_case(conn, sealing.whole, case.id) if sealing.whole else []
        checks = programme_store.spec_for(conn, case.programme).diligence
    checked = check_rows(case.ref, rows)
    return page(
        request,
        "audit_case.html",
        case=case,
        rows=checked,
        check_labels={code: c.label for code, c in checks.items()},
        fault=result.broken.get(case.ref),
        words=STATUS_WORDS,
        sealing=sealing,
        unmatched=unmatched,
        not_as_sealed=set(sealing.not_as_sealed) | {n for u in unmatched for n in u.seqs},
        seal_problems=bool(sealing.problems) or bool(sealing.whole and not unmatched),
        sealed_text=rows_text(sealing.sealed),
        not_as_sealed_lines=not_as_sealed_lines(sealing),
        not_yet_text=rows_text(sealing.not_yet),
    )


def not_as_sealed_lines(sealing: Any) -> list[str]:
    """What the page says of this case's rows the newest seal does not hold, a line for
    each reason (and each stretch of rows one shares), every row named."""
    from workflow.services.seal_check import ALTERED

    label = sealing.newest.label if sealing.newest else ""
    groups: dict[tuple[str, tuple[int, int] | None], list[int]] = {}
    for seq, (why, near) in sorted(sealing.not_as_sealed.items()):
        groups.setdefault((why, near), []).append(seq)
    lines = []
    for (why, near), seqs in groups.items():
        rows = rows_text(seqs)
        one = len(seqs) == 1
        said = f"{rows[:1].upper()}{rows[1:]} of this case {'is' if one else 'are'} not as sealed: "
        if why == ALTERED:
            said += (
                f"what {'it' if one else 'each'} says no longer matches "
                f"{'its' if one else 'its own'} hash (the chain shows it too), so "
                f"{'it is not the row' if one else 'none is a row'} {label} signed."
            )
        elif near is None:
            said += (
                f"{'it matches its hash' if one else 'each matches its hash'}, but "
                f"{'its inclusion path' if one else 'their inclusion paths'} no longer "
                f"{'leads' if one else 'lead'} to the root {label} signed, so "
                f"{'it is not the row' if one else 'none is a row'} the seal signed: "
                f"{'it was' if one else 'each was'} changed after it with "
                f"{'its hash' if one else 'their hashes'} recomputed (a row rewritten changes "
                f"the hash of every later row of its case, as each carries the hash before "
                f"it), or put among the sealed rows."
            )
        else:
            said += (
                f"{'its inclusion path' if one else 'their inclusion paths'} no longer "
                f"{'leads' if one else 'lead'} to the root {label} signed, so "
                f"{'it' if one else 'one of them'}, or another row among history rows "
                f"{near[0]:,}-{near[1]:,} (counted in the order written, all cases "
                f"together), was changed, removed or inserted after the seal was signed; "
                f"the seal kept that stretch whole, so it cannot say which."
            )
        lines.append(said)
    return lines


def rows_text(seqs: list[int]) -> str:
    """A case's rows as people read them: `row 3`, `rows 1-18`, `rows 1, 3 and 5-9`."""
    if not seqs:
        return ""
    runs: list[list[int]] = []
    for n in seqs:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    said = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs]
    text = said[-1] if len(said) < 2 else ", ".join(said[:-1]) + " and " + said[-1]
    return ("row " if len(seqs) == 1 else "rows ") + text


def _seal_copies() -> Path | None:
    """The folder of the seals' copies (CASEWORK_SEAL_DIR), when there is one."""
    from workflow.services.seals import seal_dir

    copies = seal_dir()
    return copies if copies is not None and copies.is_dir() else None


def _day(iso: str | None, *, end: bool = False) -> datetime | None:
    """A date from a filter, as the start (or end) of that day in England, in UTC."""
    if iso is None:
        return None
    day = date.fromisoformat(iso)
    local = datetime.combine(day, time.max if end else time.min, tzinfo=LONDON)
    return local.astimezone(timezone.utc)


# The filters' dates as links before the GOV.UK date boxes wrote them (?since=2014-03-31).
OLD_DATES = {"since": "From date", "until": "To date"}
_ISO_DAY = re.compile(r"\s*([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})\s*")


def _old_dates(p: Any) -> tuple[str | None, list[DateTyped]]:
    """An old link's `since=`/`until=` (YYYY-MM-DD) as the query the date boxes write now,
    so a bookmarked or emailed link still filters: (that query, None's when the link has
    none), or the dates it names that are not dates, each an error at its boxes."""
    old = [d for d in OLD_DATES if d in p and not any(f"{d}-{part}" in p for part in DATE_PARTS)]
    if not old:
        return None, []
    query = [(k, v) for k, v in p.multi_items() if k not in old]
    wrong = []
    for d in old:
        found = _ISO_DAY.fullmatch(p[d])
        if found is None:
            shown = p[d].strip()[:20]
            wrong.append(
                DateTyped(
                    d,
                    dict.fromkeys(DATE_PARTS, ""),
                    error=f"{OLD_DATES[d]} in this link ('{shown}') is not a date: type it again",
                    parts=DATE_PARTS,
                )
            )
            continue
        year, month, day = found.groups()
        query += [(f"{d}-day", day), (f"{d}-month", month), (f"{d}-year", year)]
    return ("/audit?" + urlencode(query)) if not wrong else None, wrong


def programme_history(request: Request) -> Response:
    require(request, *AUDIT_ROLES, doing="read the audit history")
    p = request.query_params
    moved, old_wrong = _old_dates(p)
    if moved is not None:
        return RedirectResponse(moved, status_code=302)
    size = request.app.state.settings.page_size
    number = int(p["page"]) if p.get("page", "").isdigit() and 0 < int(p["page"]) < 100_000 else 1
    filters = {
        k: p.get(k, "").strip()[:80]
        for k in (
            "programme",
            "case",
            "trigger",
            "actor",
            *(f"{d}-{part}" for d in ("since", "until") for part in DATE_PARTS),
        )
    }
    # The dates typed in the GOV.UK date input's boxes, each error at its date in its words.
    typed = [
        date_typed(d, label, *(filters[f"{d}-{part}"] for part in DATE_PARTS))
        for d, label in (("since", "From date"), ("until", "To date"))
    ]
    typed += old_wrong
    errors = [problem for t in typed if (problem := t.problem()) is not None]
    since, until = (None, None) if errors else (_day(typed[0].iso), _day(typed[1].iso, end=True))
    q = (
        select(history, cases.c.ref.label("case_ref"), cases.c.programme, cases.c.kind)
        .join(cases, cases.c.id == history.c.case_id)
        .order_by(history.c.at.desc(), history.c.id.desc())
    )
    if filters["programme"]:
        q = q.where(cases.c.programme == filters["programme"].lower())
    if filters["case"]:
        q = q.where(cases.c.ref == filters["case"].upper())
    if filters["trigger"]:
        q = q.where(history.c.trigger == filters["trigger"])
    if filters["actor"]:
        q = q.where(history.c.actor == filters["actor"])
    if since is not None:
        q = q.where(history.c.at >= since)
    if until is not None:
        q = q.where(history.c.at <= until)
    with reading(request.app.state.engine) as conn:
        found = list(conn.execute(q.offset((number - 1) * size).limit(size + 1)))
        if not found and filters["programme"]:
            # A mistyped code must not look like a programme with no history (as /cases).
            reads.refuse_unknown(conn, programme=filters["programme"])
        codes = list(conn.execute(select(programmes.c.code).order_by(programmes.c.code)).scalars())
    rows = [{**as_dict(r, r.case_ref), "kind": r.kind} for r in found[:size]]
    params = urlencode([(k, v) for k, v in filters.items() if v])
    return page(
        request,
        "audit.html",
        status=400 if errors else 200,
        errors=errors,
        rows=rows,
        filters=filters,
        programmes=codes,
        page_number=number,
        more=len(found) > size,
        params=params,
        happened=WHAT_HAPPENED,
    )


def _what_happened() -> list[tuple[str, str]]:
    """Every kind of history row as the filter offers it: (code, its words), by the words; a
    code two definitions share shows both their labels ("Submit the bid / Send the return")."""
    said: dict[str, list[str]] = {}
    for definition in DEFINITIONS.values():
        for trigger in definition.triggers:
            label = definition.trigger_label(trigger)
            if label not in said.setdefault(trigger, []):
                said[trigger].append(label)
    for code in EVENT_WORDS:
        said.setdefault(code, [event_label(code)])
    return sorted(((c, " / ".join(words)) for c, words in said.items()), key=lambda o: o[1].lower())


WHAT_HAPPENED = _what_happened()


def verify_all(request: Request) -> Response:
    require(request, *AUDIT_ROLES, doing="verify the audit history")
    started = clock.now()
    from workflow.services.seal_check import check

    with reading(request.app.state.engine) as conn:
        result = verify(conn)
        admin = admin_log.verify(conn)
        # The seals too, as `audit verify` checks them: a row rewritten with every hash
        # after it recomputed leaves the chains whole, and only a seal shows it.
        sealed = check(conn, copies=_seal_copies())
    return page(request, "audit_verify.html", result=result, at=started, admin=admin, sealed=sealed)


def admin_changes(request: Request) -> Response:
    """/audit/admin: the admin log, newest first, each row's chain checked as verify does."""
    require(request, *AUDIT_ROLES, doing="read the admin log")
    p = request.query_params
    size = request.app.state.settings.page_size
    number = int(p["page"]) if p.get("page", "").isdigit() and 0 < int(p["page"]) < 100_000 else 1
    target = p.get("target", "").strip()[:80]
    with reading(request.app.state.engine) as conn:
        checked = admin_log.verify(conn)
        found = admin_log.rows(
            conn, target=target or None, newest_first=True, limit=number * size + 1
        )
    rows = [
        {
            **r,
            "label": admin_label(r["action"]),
            "before_text": admin_log.side_text(r["before"]),
            "after_text": admin_log.side_text(r["after"]),
        }
        for r in found[(number - 1) * size : number * size]
    ]
    params = urlencode([("target", target)] if target else [])
    return page(
        request,
        "audit_admin.html",
        rows=rows,
        checked=checked,
        target=target,
        page_number=number,
        more=len(found) > number * size,
        params=params,
    )


def export(request: Request) -> Response:
    require(request, *AUDIT_ROLES, doing="export the audit history")
    p = request.query_params
    fmt = p.get("format", "")
    if fmt not in FORMATS:
        raise Malformed("The export", [f"format: '{fmt}' is not csv or json"])
    since = None
    if p.get("since"):
        try:
            since = clock.parse_moment(p["since"])
        except ValueError:
            raise Malformed(
                "The export", [f"since: '{p['since']}' is not an ISO 8601 time"]
            ) from None
    engine = request.app.state.engine
    case_id = None
    if p.get("case"):
        with reading(engine) as conn:
            case_id = load_case(conn, p["case"]).id
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    body = streamed(engine, fmt, case_id, since)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return StreamingResponse(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="casework-history-{stamp}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


ROUTES = [
    Route("/audit", programme_history, methods=["GET"]),
    Route("/audit/verify", verify_all, methods=["GET"]),
    Route("/audit/export", export, methods=["GET"]),
    Route("/audit/admin", admin_changes, methods=["GET"]),
    Route("/audit/{ref}", case_audit, methods=["GET"]),
]
