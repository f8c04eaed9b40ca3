"""How many durable transitions a second the case service sustains, against the physical limit.

    python bench/transitions.py [--cases N] [--backend sqlite|postgresql|all] [--sync full|normal|both]

Each case is driven through a bid's life by the real case service
(`workflow.services.lifecycle.advance`): submit, check, start_assessment, (two declarations
and two scores through the assessment service, not counted as transitions),
moderate, recommend, offer, decline — each a version-checked state change
with its hash-chained history row, the guards' facts read in the same
transaction, the offer reserving funds and the offer and decline queueing a
rendered email. The offer's grant agreement PDF is drawn before its
transaction (`lifecycle.draw_ahead`, as every face does) and timed apart:
the moves' figures are the `advance` calls, and the drawings are reported
beside them. In the same run the physical limit is measured: the same
kind of rows (version-checked UPDATE, hash-chained history INSERT, outbox
INSERT, one BEGIN IMMEDIATE transaction each) written with the plain sqlite3
module. The last line is one JSON object for other tools to read.

--sync sets SQLite's `synchronous` for both sides of the comparison: casework
through CASEWORK_SQLITE_SYNC, the raw loop and the replay by the same PRAGMA.
FULL (casework's default) waits for the disk at every commit; NORMAL does not,
and can lose the last commits in a power cut. The default, both, runs FULL
and then NORMAL in one run, each ratio against the raw loop at its own setting.

With --floor it also records every statement casework's moves sent to SQLite
(with their parameters) and replays them, in order, through plain sqlite3 on
a copy of the database as it was before the moves: the SQLite work of
casework's own rows with no Python logic at all, which bounds the ratio any
implementation of these moves could reach on this machine. Recording slows
casework's own figure and adds to the peak memory: measure those without it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

# This file is called transitions.py, like the library: run from bench/, it would shadow it.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from sqlalchemy import create_engine, text  # noqa: E402

from workflow.services import programme_files  # noqa: E402

from workflow.services import assessment, diligence, directory, lifecycle  # noqa: E402
from workflow.storage.db import make_engine, resolve_url  # noqa: E402
from workflow.services.setup import init  # noqa: E402

LIFE = ["submit", "check", "start_assessment", "moderate", "recommend", "offer", "decline"]
PG = os.environ.get("CASEWORK_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def bench_programme() -> str:
    """TCA's rules with a fund and counts big enough for every bench case to be offered."""
    name, text_ = next((n, t) for n, t in programme_files.bundled_sources() if n == "tca-2013.toml")
    out = []
    for line in text_.splitlines():
        if line.startswith("code ="):
            line = 'code = "bench-2013"'
        elif line.startswith("fund ="):
            line = 'fund = "900000000000"'
        elif line.startswith("max_count ="):
            line = "max_count = 1000000"
        out.append(line)
    return "\n".join(out) + "\n"


def set_up(engine) -> None:
    init(engine)
    with engine.begin() as conn:
        programme_files.load(conn, bench_programme(), "bench-2013.toml")
        for code in ("E07000026", "E07000028", "E07000029", *LEADS):
            directory.add_org(
                conn, code, name=f"Council {code}", email=f"r@{code.lower()}.example.gov.uk"
            )
        directory.add_user(conn, "carol", roles=["caseworker"], email="carol@example.gov.uk")
        directory.add_user(conn, "ash", roles=["assessor"])
        directory.add_user(conn, "asha", roles=["assessor"])
        directory.add_user(conn, "april", roles=["approver"])
        directory.add_user(conn, "aaron", roles=["approver"])  # countersigns offers


# England had about 350 councils; each bid here is led by one of them in turn, so a council
# leads a handful of bids as in the real round. (One lead for every bid made each submission
# read all the others as its possible duplicates: a cost that grew with the bench's size.)
LEADS = tuple(f"E0{9000000 + i}" for i in range(350))

DOC = {
    "programme": "bench-2013",
    "category": "shared_arrangement",
    "title": "Joint procurement hub",
    "lead": "E07000026",
    "partners": ["E07000028", "E07000029"],
    "amount": "250000",
    "transitional_costs": "120000",
    "annual_savings": "400000",
    "arrangement": "joint_procurement",
    "innovation": "One buying team.",
}


def record_diligence(engine, ref: str) -> None:
    """What a caseworker records before `check` (DESIGN.md section 9): the fraud risk, and a
    pass over the duplicate and register checks these look-alike bids of unregistered
    councils fail. The check itself then runs the automatic checks again (timed)."""
    for c in diligence.show(engine, ref)["checks"]:
        if c["recordable"] and c["status"] not in ("passed", "overridden"):
            diligence.record(
                engine,
                ref,
                c["check"],
                "carol",
                result="pass",
                rating="low" if c["kind"] == "rating" else None,
                evidence="Recorded for the benchmark.",
            )


def run_casework(
    engine, n: int, recorder: "_Recorder | None" = None, before: Path | None = None
) -> dict:
    latencies: list[float] = []
    by_move: dict[str, list[float]] = {t: [] for t in LIFE}
    offers: list[float] = []  # the offer's move (its transaction), the PDF drawn before it
    drawings: list[float] = []  # drawing the offer's PDF, outside any write transaction
    moves: list[tuple[int, int]] = []
    refs = [
        lifecycle.open_case(engine, "bid", {**DOC, "lead": LEADS[i % len(LEADS)]}, "carol")["ref"]
        for i in range(n)
    ]
    if recorder is not None:
        source = sqlite3.connect(engine.url.database, isolation_level=None)
        source.execute("VACUUM INTO ?", (str(before),))  # the database before the moves
        source.close()
        recorder.on = True
    started = time.perf_counter()
    for ref in refs:
        for trigger in LIFE:
            if trigger == "moderate":
                for who in ("ash", "asha"):
                    assessment.declare(engine, ref, who, conflict=False)
                    assessment.score(engine, ref, who, innovation=4, costs=3, savings=4)
            if trigger == "check":  # the caseworker's due diligence first, not timed
                record_diligence(engine, ref)
            if trigger == "offer":  # a second approver's countersignature, not timed
                lifecycle.advance(engine, ref, "countersign", "aaron")
            by = "april" if trigger == "offer" else "carol"
            drawn = None
            if trigger == "offer":  # its agreement's PDF, drawn before the transaction
                t0 = time.perf_counter()
                drawn = lifecycle.draw_ahead(engine, ref, trigger)
                drawings.append(time.perf_counter() - t0)
            first = len(recorder.log) if recorder else 0
            t0 = time.perf_counter()
            lifecycle.advance(engine, ref, trigger, by, drawn=drawn)
            latencies.append(time.perf_counter() - t0)
            by_move[trigger].append(latencies[-1])
            if trigger == "offer":
                offers.append(latencies[-1])
            if recorder:
                moves.append((first, len(recorder.log)))
    wall = time.perf_counter() - started
    busy = sum(latencies)
    rest = sorted(set(latencies) - set(offers)) if offers else sorted(latencies)
    latencies.sort()
    if recorder is not None:
        recorder.on = False
    return {
        "transitions": len(latencies),
        "seconds": busy,
        "wall": wall,
        "moves": moves,
        "per_s": len(latencies) / busy,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "offer_p50_ms": statistics.median(offers) * 1000 if offers else 0.0,
        "drawing_p50_ms": statistics.median(drawings) * 1000 if drawings else 0.0,
        "per_s_with_drawing": len(latencies) / (busy + sum(drawings)),
        "move_p50_ms": {t: round(statistics.median(v) * 1000, 3) for t, v in by_move.items() if v},
        "others_per_s": len(rest) / sum(rest),
        "others_p99_ms": rest[max(int(len(rest) * 0.99) - 1, 0)] * 1000,
    }


def run_raw(path: Path, transitions: int, sync: str = "FULL") -> dict:
    """The same rows written with plain sqlite3: the physical limit on this machine."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA synchronous={sync}")
    db.executescript("""
        PRAGMA journal_mode=WAL;
        CREATE TABLE cases (id INTEGER PRIMARY KEY, state TEXT, version INTEGER,
                            last_seq INTEGER, last_hash TEXT);
        CREATE TABLE history (id INTEGER PRIMARY KEY, case_id INTEGER, seq INTEGER, from_state TEXT,
                              to_state TEXT, trigger TEXT, actor TEXT, at TEXT, payload TEXT,
                              prev_hash TEXT, hash TEXT, UNIQUE (case_id, seq));
        CREATE TABLE outbox (id INTEGER PRIMARY KEY, key TEXT UNIQUE, kind TEXT, body TEXT);
    """)
    n_cases = max(1, transitions // len(LIFE))
    db.executemany(
        "INSERT INTO cases VALUES (?, 'draft', 1, 0, ?)",
        [(i, "0" * 64) for i in range(1, n_cases + 1)],
    )
    started = time.perf_counter()
    done = 0
    for case_id in range(1, n_cases + 1):
        for trigger in LIFE:
            db.execute("BEGIN IMMEDIATE")
            state, version, seq, prev = db.execute(
                "SELECT state, version, last_seq, last_hash FROM cases WHERE id = ?", (case_id,)
            ).fetchone()
            at = "2013-03-22T09:00:00+00:00"
            digest = hashlib.sha256(
                json.dumps(
                    [case_id, seq + 1, state, trigger, trigger, "carol", at, {}, prev],
                    separators=(",", ":"),
                ).encode()
            ).hexdigest()
            db.execute(
                "UPDATE cases SET state = ?, version = ?, last_seq = ?, last_hash = ? "
                "WHERE id = ? AND version = ?",
                (trigger, version + 1, seq + 1, digest, case_id, version),
            )
            db.execute(
                "INSERT INTO history (case_id, seq, from_state, to_state, trigger, actor, at, payload, "
                "prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (case_id, seq + 1, state, trigger, trigger, "carol", at, "{}", prev, digest),
            )
            db.execute(
                "INSERT INTO outbox (key, kind, body) VALUES (?, ?, ?)",
                (f"{case_id}:{trigger}:{seq + 1}", "bid.event", "x" * 400),
            )
            db.execute("COMMIT")
            done += 1
    seconds = time.perf_counter() - started
    db.close()
    return {"transitions": done, "seconds": seconds, "per_s": done / seconds}


class _Many(list):
    """The parameters of one executemany, as the recorder keeps them."""


class _Recorder:
    """Every statement the driver is given while `on`, with its parameters, in order.

    Installed as the sqlite3 connection class of the engine's connections
    (through sqlite3.connect's `factory`), so it sees what SQLAlchemy's cursors
    and casework's prepared statements send alike.
    """

    def __init__(self) -> None:
        self.on, self.log = False, []
        recorder = self

        class Cursor(sqlite3.Cursor):
            def execute(self, sql, params=()):
                if recorder.on:
                    recorder.log.append((sql, params))
                return super().execute(sql, params)

            def executemany(self, sql, seq_of_params):
                seq_of_params = list(seq_of_params)
                if recorder.on:  # replayed as one executemany (the due-diligence rows)
                    recorder.log.append((sql, _Many(seq_of_params)))
                return super().executemany(sql, seq_of_params)

        class Connection(sqlite3.Connection):
            def cursor(self, factory=Cursor):
                return super().cursor(factory)

            def execute(self, sql, params=()):
                if recorder.on:
                    recorder.log.append((sql, params))
                return super().execute(sql, params)

            # SQLAlchemy ends a transaction through these, not through a statement.
            def commit(self):
                if recorder.on and self.in_transaction:
                    recorder.log.append(("COMMIT", ()))
                return super().commit()

            def rollback(self):
                if recorder.on and self.in_transaction:
                    recorder.log.append(("ROLLBACK", ()))
                return super().rollback()

        self.connection_class = Connection

    def install(self) -> None:
        connect = sqlite3.connect

        def recording_connect(*args, **kwargs):
            kwargs.setdefault("factory", self.connection_class)
            return connect(*args, **kwargs)

        sqlite3.connect = sqlite3.dbapi2.connect = recording_connect


def replay(
    path: Path, log: list, moves: list[tuple[int, int]], sync: str = "FULL"
) -> tuple[float, list[float]]:
    """Run `log` on the database at `path` with plain sqlite3; seconds spent on the moves,
    and on each move (in `moves`' order)."""
    db = sqlite3.connect(path, isolation_level=None, factory=sqlite3.Connection)
    for pragma in (
        "journal_mode=WAL",
        f"synchronous={sync}",
        "wal_autocheckpoint=8000",
        "foreign_keys=ON",
    ):
        db.execute(f"PRAGMA {pragma}")
    move_of = [-1] * len(log)
    for m, (start, end) in enumerate(moves):
        move_of[start:end] = [m] * (end - start)
    each = [0.0] * len(moves)
    for i, (sql, params) in enumerate(log):
        if sql.startswith("PRAGMA wal_checkpoint"):  # the checkpoint thread's, not a move's
            continue
        t0 = time.perf_counter()
        if isinstance(params, _Many):
            db.executemany(sql, params)
        else:
            db.execute(sql, params).fetchall()
        if move_of[i] >= 0:
            each[move_of[i]] += time.perf_counter() - t0
    db.close()
    return sum(each), each


def sqlite_engine(folder: Path):
    return make_engine(f"sqlite:///{folder / 'bench.db'}")


def postgres_engine():
    admin = create_engine(resolve_url(PG), isolation_level="AUTOCOMMIT")
    name = f"cw_bench_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_engine(resolve_url(PG).rsplit("/", 1)[0] + "/" + name)


def _one_setting(args, backends: list[str], recorder, sync: str) -> dict:
    """Raw loop and casework at one `synchronous` setting; the summary of the first backend."""
    summary = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        raw = run_raw(folder / "raw.db", args.cases * len(LIFE), sync)
        print(
            f"raw sqlite3:        {raw['per_s']:>9,.0f} transitions/s "
            f"({raw['transitions']:,} in {raw['seconds']:.2f} s)"
        )
        for backend in backends:
            engine = sqlite_engine(folder) if backend == "sqlite" else postgres_engine()
            set_up(engine)
            floor = recorder if backend == "sqlite" else None
            if floor:
                floor.log.clear()  # the previous setting's statements
            result = run_casework(engine, args.cases, floor, folder / "before.db")
            ratio = result["per_s"] / raw["per_s"]
            print(
                f"casework {backend:<10} {result['per_s']:>9,.0f} transitions/s, "
                f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
                f"{ratio:.2f} of raw sqlite3"
            )
            print(
                f"  the offer's move p50 {result['offer_p50_ms']:.2f} ms, its agreement PDF "
                f"drawn before the transaction p50 {result['drawing_p50_ms']:.2f} ms "
                f"(with the drawings counted: {result['per_s_with_drawing']:,.0f} "
                f"transitions/s); every other move: "
                f"{result['others_per_s']:,.0f}/s, p99 {result['others_p99_ms']:.2f} ms, "
                f"{result['others_per_s'] / raw['per_s']:.2f} of raw sqlite3"
            )
            print(
                "  p50 by move: "
                + ", ".join(f"{t} {ms:.2f} ms" for t, ms in result["move_p50_ms"].items())
            )
            if floor:
                spent, each = replay(folder / "before.db", floor.log, result["moves"], sync)
                per_s = result["transitions"] / spent
                statements = sum(b - a for a, b in result["moves"]) / result["transitions"]
                print(
                    f"  its statements replayed in plain sqlite3: {per_s:,.0f} transitions/s "
                    f"({statements:.1f} statements a move, BEGIN and COMMIT included, an "
                    f"executemany counted once), "
                    f"{per_s / raw['per_s']:.2f} of raw: the ceiling of the ratio"
                )
                # Moves were recorded case by case in LIFE's order.
                floor_by = {t: each[i :: len(LIFE)] for i, t in enumerate(LIFE)}
                print(
                    "  replayed, p50 by move: "
                    + ", ".join(
                        f"{t} {statistics.median(v) * 1000:.2f} ms" for t, v in floor_by.items()
                    )
                )
                result["floor_ratio"] = per_s / raw["per_s"]
            if summary is None:
                summary = {
                    "peer": "casework",
                    "backend": backend,
                    "cases": args.cases,
                    "sync": sync.lower(),
                    "transitions": result["transitions"],
                    "seconds": round(result["seconds"], 3),
                    "per_s": round(result["per_s"], 1),
                    "p50_ms": round(result["p50_ms"], 3),
                    "p99_ms": round(result["p99_ms"], 3),
                    "ratio_to_raw": round(ratio, 3),
                    "raw_per_s": round(raw["per_s"], 1),
                    "offer_p50_ms": round(result["offer_p50_ms"], 3),
                    "drawing_p50_ms": round(result["drawing_p50_ms"], 3),
                    "per_s_with_drawing": round(result["per_s_with_drawing"], 1),
                    "others_p99_ms": round(result["others_p99_ms"], 3),
                    "others_ratio_to_raw": round(result["others_per_s"] / raw["per_s"], 3),
                    "move_p50_ms": result["move_p50_ms"],
                }
                if "floor_ratio" in result:
                    summary["floor_ratio"] = round(result["floor_ratio"], 3)
            engine.dispose()
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="sqlite")
    ap.add_argument(
        "--sync",
        choices=["full", "normal", "both"],
        default="both",
        help="SQLite synchronous setting for casework and the raw loop alike (default both)",
    )
    ap.add_argument(
        "--floor",
        action="store_true",
        help="also replay casework's own statements through plain sqlite3 (SQLite)",
    )
    args = ap.parse_args()
    recorder = _Recorder() if args.floor else None
    if recorder:
        recorder.install()
    os.environ.setdefault("CASEWORK_MAIL", "file:/dev/null")
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    settings = ["full", "normal"] if args.sync == "both" else [args.sync]
    summary = None
    for sync in settings:
        os.environ["CASEWORK_SQLITE_SYNC"] = sync  # what casework's engine reads
        print(f"-- synchronous={sync.upper()} (casework and raw sqlite3 alike)")
        result = _one_setting(args, backends, recorder, sync.upper())
        summary = summary or result
        summary.setdefault("by_sync", {})[sync] = {
            "per_s": result["per_s"],
            "raw_per_s": result["raw_per_s"],
            "ratio_to_raw": result["ratio_to_raw"],
            "p99_ms": result["p99_ms"],
        }
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak_mb:.0f} MB")
    summary["peak_mb"] = round(peak_mb, 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
