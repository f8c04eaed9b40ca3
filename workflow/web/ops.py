"""/healthz and /metrics, for monitoring (no sign-in; expose them to monitoring only).

/metrics reads the outbox's depth and the last good nightly backup from the
database at each scrape, so every node reports them, whichever node took the
backup and however recently this one started.

/healthz answers 200 when the database answers and, where this process runs
the scheduler, the last sweep finished less than three intervals ago; 503
otherwise, saying which check failed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from workflow import clock
from workflow.runtime import status
from workflow.runtime.backup_schedule import last_backup
from workflow.storage.db import reading
from workflow.runtime.metrics import LAST_BACKUP, OUTBOX_DEPTH, REGISTRY


def last_sweep_at(conn: Any) -> datetime | None:
    """When the last sweep finished, from the sweep's own record (`workflow.runtime.status`)."""
    record = status.last_sweep(conn)
    when = record.get("finished_at") or record.get("at")
    return datetime.fromisoformat(when) if when else None


def health(engine: Any, scheduler_every: float | None, now: datetime) -> tuple[bool, dict]:
    report: dict[str, Any] = {}
    try:
        with reading(engine) as conn:
            conn.exec_driver_sql("SELECT 1")
            swept = last_sweep_at(conn) if scheduler_every is not None else None
        report["database"] = "ok"
    except Exception as err:  # any failure to reach the database is the answer
        report["database"] = f"unreachable ({type(err).__name__})"
        return False, report
    if scheduler_every is None:
        report["sweep"] = "not checked: this process runs no scheduler"
        return True, report
    limit = status.STALE_AFTER_INTERVALS * scheduler_every
    if swept is None:
        report["sweep"] = {
            "ok": False,
            "last": None,
            "limit_seconds": limit,
            "problem": "no sweep has run yet",
        }
        return False, report
    age = (now - swept).total_seconds()
    ok = age <= limit
    report["sweep"] = {
        "ok": ok,
        "last": swept.isoformat(),
        "age_seconds": round(age, 1),
        "limit_seconds": limit,
    }
    if not ok:
        report["sweep"]["problem"] = (
            f"the last sweep finished {round(age)} seconds ago, "
            f"more than three intervals ({round(limit)} seconds)"
        )
    return ok, report


def healthz(request: Request) -> Response:
    ok, report = health(request.app.state.engine, request.app.state.scheduler_every, clock.now())
    return JSONResponse(
        {"status": "ok" if ok else "failing", **report},
        status_code=200 if ok else 503,
        headers={"Cache-Control": "no-store"},
    )


def metrics(request: Request) -> Response:
    try:
        with reading(request.app.state.engine) as conn:
            depth = status.outbox_counts(conn, clock.now())
            backed_up = last_backup(conn).get("last_ok_at")
        for state in ("queued", "retrying", "dead", "sent"):
            OUTBOX_DEPTH.labels(state).set(depth.get(state, 0))
        # From the record every node shares, not this process's memory: after a restart,
        # or where a --no-web worker took the backup, the gauge still says when the last
        # good one was (0 would set off a "backup too old" alert until the next night's).
        if backed_up:
            LAST_BACKUP.set(datetime.fromisoformat(backed_up).timestamp())
    except Exception:  # the database is down: still serve what is known
        pass
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
