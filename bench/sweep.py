"""The sweep's cost follows what is due, not the size of the checkpoints table.

    .venv/bin/python bench/sweep.py [--cases 100000] [--postgres URL | --no-postgres]

Builds, on SQLite in a temporary folder, `--cases` bids in monitoring with four
checkpoints each (400,000 for 100,000 cases) and a copy with 1% of them, then:

1. idle: the median of 21 sweeps when nothing is due, over the small table and
   the large one (target: large <= 2 x small, and under 50 ms);
2. 100 due: a sweep (at a simulated moment, weeks ago) when 100 returns open;
3. 10,000 due: a sweep now, when 9,500 returns have opened in the last week
   and the first 100 have run the rest of their ladder (reminder, overdue,
   two escalations, suspension of the case: 500 steps, done late, in order).
   Target: at least 2,000 steps/s on SQLite. Each step is a real transition or
   reminder with its history row and, but for the suspension of an already
   suspended case, its outbox row.

Then it prints the query plans of the claim statements and, when PostgreSQL is
reachable, does the 10,000-step backlog there with one `casework serve`
process and with two, checking each step was done exactly once (target: two
at least 1.6 times as fast as one). The last line is JSON.

The rows are written in bulk (tests/workflow/monitoring_world.bulk_bids; the
services would take an hour to open 100,000 bids): what the services leave
behind, a bid in monitoring whose history chain is empty and four scheduled
checkpoints.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ would come first on sys.path, and bench/transitions.py
# would shadow the transitions library: the project root takes its place.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from sqlalchemy import Engine, create_engine, event, func, select, text  # noqa: E402

from states.ladder import LONDON  # noqa: E402
from workflow.services.calendar import next_working_day  # noqa: E402
from workflow.storage.db import make_engine, resolve_url  # noqa: E402
from workflow.storage.tables import checkpoints, history  # noqa: E402
from workflow.services.setup import init  # noqa: E402
from workflow.runtime.sweep import claim_statements, sweep  # noqa: E402
from tests.workflow.monitoring_world import bulk_bids, exactly_once  # noqa: E402

# Dates are laid out around today, so that the `casework serve` processes of
# the PostgreSQL run, which sweep on the real clock, find the same backlog.
TODAY = datetime.now(LONDON).date()
D1 = next_working_day(
    TODAY - timedelta(days=45)
)  # the first 100 returns: their whole ladder is past
D2 = next_working_day(TODAY + timedelta(days=8))  # 9,500 returns: opened in the last week
FAR = TODAY + timedelta(days=120)  # everything else is due long after
FIRST, BACKLOG = 100, 9_500
CASEWORK = str(Path(sys.executable).with_name("casework"))


def at_london(day: date, hour: int = 9, minute: int = 30) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON).astimezone(
        timezone.utc
    )


T_IDLE = at_london(D1 - timedelta(days=20))  # nothing is due
T_100 = at_london(D1 - timedelta(days=14))  # the first 100 returns open


# --- building the tables --------------------------------------------------------
def due_of(i: int, n: int) -> date:
    if n == 1 and i <= FIRST:
        return D1
    if n == 1 and i <= FIRST + BACKLOG:
        return D2
    return next_working_day(FAR + timedelta(days=91 * (n - 1) + i % 60))


def build(engine: Engine, n_cases: int) -> None:
    init(engine)
    bulk_bids(engine, n_cases, due_of)


# --- measuring --------------------------------------------------------------------
def idle_ms(engine: Engine, runs: int = 21) -> float:
    """The median of whole `sweep()` calls finding nothing due (its record in `meta` included)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        report = sweep(engine, T_IDLE)
        times.append((time.perf_counter() - started) * 1000)
        assert report.total == 0, report
    return statistics.median(times)


def timed_sweep(engine: Engine, now: datetime | None) -> dict:
    report = sweep(engine, now)
    assert not report.errors, report.errors
    return {
        "steps": report.total,
        "seconds": round(report.seconds, 3),
        "steps_per_second": round(report.total / report.seconds) if report.seconds else None,
        "late": report.late,
        "by_step": dict(report.steps),
    }


def plans(engine: Engine) -> list[str]:
    """EXPLAIN of each claim statement, exactly as the driver receives it."""
    claim, claim_excluding, _ = claim_statements(engine)
    now = datetime.now(timezone.utc)
    out = []
    for name, stmt, params in (
        ("claim", claim, {"now": now}),
        ("claim, leaving out failed checkpoints", claim_excluding, {"now": now, "failed": [1, 2]}),
    ):
        seen: list = []

        def capture(conn, cursor, statement, parameters, context, executemany, seen=seen):
            seen.append((statement, parameters))

        with engine.connect() as conn:
            event.listen(conn, "before_cursor_execute", capture)
            with conn.begin():
                conn.execute(getattr(stmt, "stmt", stmt), params).all()  # a Prepared's own
                event.remove(conn, "before_cursor_execute", capture)
                sql, bound = seen[-1]
                prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
                rows = conn.exec_driver_sql(prefix + sql, bound).all()
        lines = [r[-1] for r in rows] if engine.dialect.name == "sqlite" else [r[0] for r in rows]
        out.append(f"-- {name} ({engine.dialect.name})\n{sql}\n" + "\n".join(lines))
    return out


# --- PostgreSQL: one `casework serve` and two ------------------------------------
def pg_database(admin_url: str, name: str) -> str:
    admin = create_engine(resolve_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(resolve_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def serve_backlog(url: str, workers: int, folder: Path) -> dict:
    """Start `workers` serve processes on a database holding the backlog; time the steps.

    The time is from the first step any worker did to the last, read from the
    history rows (each stamped when its step was done), so process start-up
    is not counted.
    """
    env = {**os.environ, "CASEWORK_DB": url, "CASEWORK_MAIL": f"file:{folder / 'mail'}"}
    engine = make_engine(url)
    sweep(engine, T_100)  # the first 100 returns open, as on SQLite
    before = datetime.now(timezone.utc)
    procs = [
        subprocess.Popen(
            [CASEWORK, "serve", "--no-web", "--every", "60"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                left = conn.execute(
                    select(func.count())
                    .select_from(checkpoints)
                    .where(checkpoints.c.next_step_at <= datetime.now(timezone.utc))
                ).scalar()
            if left == 0:
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    with engine.connect() as conn:
        first, last, n = conn.execute(
            select(func.min(history.c.at), func.max(history.c.at), func.count()).where(
                history.c.actor == "system", history.c.at >= before
            )
        ).one()
    seconds = (last - first).total_seconds()
    result = {
        "workers": workers,
        "steps": n,
        "seconds": round(seconds, 3),
        "steps_per_second": round(n / seconds) if seconds else None,
        "exactly_once": exactly_once(engine),
    }
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CASEWORK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    assert args.cases >= FIRST + BACKLOG, "the 10,000-step backlog needs at least 9,600 cases"
    figures: dict = {"cases": args.cases, "checkpoints": 4 * args.cases}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small = make_engine(f"sqlite:///{folder / 'small.db'}")
        big = make_engine(f"sqlite:///{folder / 'big.db'}")
        t = time.perf_counter()
        build(small, max(1, args.cases // 100))
        build(big, args.cases)
        print(
            f"built {args.cases:,} cases and {4 * args.cases:,} checkpoints "
            f"(and a 1% copy) in {time.perf_counter() - t:.1f} s",
            flush=True,
        )
        idle_small, idle_big = idle_ms(small), idle_ms(big)
        figures["sqlite"] = {
            "idle_ms_small": round(idle_small, 2),
            "idle_ms_large": round(idle_big, 2),
            "idle_ratio": round(idle_big / idle_small, 2),
            "due_100": timed_sweep(big, T_100),
            "due_10000": timed_sweep(big, None),
            "exactly_once": exactly_once(big),
        }
        print(json.dumps(figures["sqlite"], indent=2), flush=True)
        for plan in plans(big):
            print(plan, flush=True)
        if not args.no_postgres:
            figures["postgresql"] = postgres(args, folder)
    print(json.dumps(figures))


def postgres(args, folder: Path) -> dict:
    out = {}
    try:
        for workers in (1, 2):
            url = pg_database(args.postgres, f"cw_bench_sweep_{workers}")
            engine = make_engine(url)
            build(engine, args.cases)
            if workers == 1:
                for plan in plans(engine):
                    print(plan, flush=True)
            engine.dispose()
            out[f"workers_{workers}"] = serve_backlog(url, workers, folder)
            print(json.dumps(out[f"workers_{workers}"]), flush=True)
            drop_database(args.postgres, f"cw_bench_sweep_{workers}")
    except Exception as err:  # a bench without PostgreSQL still reports SQLite
        out["error"] = f"{type(err).__name__}: {err}"
    if "workers_1" in out and "workers_2" in out:
        out["speedup"] = round(out["workers_1"]["seconds"] / out["workers_2"]["seconds"], 2)
    return out


if __name__ == "__main__":
    main()
