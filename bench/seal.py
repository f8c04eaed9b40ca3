"""Sealing a million history rows, and verifying them with their seals: time and peak memory.

    python bench/seal.py [--rows 1000000] [--per-case 100] [--keep DIR]

With --keep DIR, a database already built there is used again (and kept).

Builds a SQLite database (casework init, then cases and chained history rows
written straight in, with valid hashes: building is not timed), then runs
each phase in a process of its own so that its peak memory (ru_maxrss) is its
own: `seal` (workflow.services.seals.seal: stream the rows, keep the frontier, sign,
store) and `verify` (what `audit verify` does: every chain, then every seal
against the rows). Targets (issue 17): under 10 s and under 200 MB each.
Then `case`: what the web's page about one case (/audit/REF) checks, for a case in
the middle of the history: its chain, and each of its rows proved against the
newest seal by its inclusion path (seal_check.case_sealing, as `audit proof`),
from the tree kept with the seal. Target: well under 100 ms.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from workflow.storage.db import make_engine  # noqa: E402
from workflow.services.chain import GENESIS, Entry, seal as row_hash  # noqa: E402
from workflow.services.setup import init  # noqa: E402

START = datetime(2014, 1, 6, 9, 0, tzinfo=timezone.utc)


def build(path: Path, rows: int, per_case: int) -> None:
    engine = make_engine(f"sqlite:///{path}")
    init(engine)
    engine.dispose()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    db.execute(
        "INSERT INTO organisations (code, name, email, kind) "
        "VALUES ('E07000026', 'Cambridge', 'r@cambridge.example.gov.uk', 'council')"
    )
    now = START.isoformat()
    n_cases = (rows + per_case - 1) // per_case
    written = 0
    for c in range(1, n_cases + 1):
        ref = f"TCA-2013-{c:04d}" if c < 10_000 else f"TCA-2013-{c}"
        prev, batch = GENESIS, []
        for seq in range(1, min(per_case, rows - written) + 1):
            at = START + timedelta(minutes=seq)
            e = Entry(
                to_state="draft",
                trigger="remind" if seq > 1 else "create",
                actor="carol",
                role="caseworker",
                at=at,
                from_state="draft" if seq > 1 else None,
                payload={"n": seq},
            )
            digest = row_hash(ref, seq, prev, e)
            batch.append(
                (
                    c,
                    seq,
                    e.from_state,
                    e.to_state,
                    e.trigger,
                    e.actor,
                    e.role,
                    at.isoformat(),
                    json.dumps(e.payload),
                    prev,
                    digest,
                )
            )
            prev = digest
        db.execute(
            "INSERT INTO cases (id, ref, kind, programme, state, version, definition_version,"
            " title, lead, partners, application, at_risk, last_seq, last_hash, created_at,"
            " updated_at) VALUES (?, ?, 'bid', 'tca-2013', 'draft', 1, 1, 'A bid', "
            "'E07000026', '[]', '{}', 0, ?, ?, ?, ?)",
            (c, ref, len(batch), prev, now, now),
        )
        db.executemany(
            "INSERT INTO history (case_id, seq, from_state, to_state, trigger, actor,"
            " role, at, payload, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            batch,
        )
        written += len(batch)
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def phase(name: str, path: Path, key_file: Path) -> dict:
    """One phase, in this process: its time and this process's peak memory."""
    from cryptography.hazmat.primitives import serialization
    from workflow.storage.db import reading

    engine = make_engine(f"sqlite:///{path}")
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    started = time.perf_counter()
    if name == "seal":
        from workflow.services.seals import seal

        made = seal(engine, key)
        detail = f"seal {made.number}: {made.tree_size:,} rows"
    elif name == "verify-seals":  # the seals alone: signatures and roots against the rows
        from workflow.services.seal_check import check
        from workflow.services.seals import public_text

        with reading(engine) as conn:
            sealed = check(conn, trusted={public_text(key.public_key())})
        assert not sealed.problems, sealed.problems
        detail = f"{sealed.checked} seal(s), rows 1-{sealed.sealed_rows:,}"
    elif name == "case":  # the web's /audit/REF: one case's chain and its rows' proofs
        from workflow.services.chain import rows_for, verify
        from workflow.services.seal_check import case_sealing
        from workflow.services.seals import record_key, recorded_keys

        with reading(engine) as conn:
            known = recorded_keys(conn)
        if not known:  # the page trusts the keys `audit keygen` recorded (not timed)
            record_key(engine, key.public_key())

        def page() -> tuple[str, list, object]:
            with reading(engine) as conn:
                middle = conn.exec_driver_sql("SELECT max(id) / 2 FROM cases").scalar()
                ref = conn.exec_driver_sql("SELECT ref FROM cases WHERE id = ?", (middle,)).scalar()
                rows = rows_for(conn, middle)
                assert verify(conn, case_id=middle).ok
                return ref, rows, case_sealing(conn, ref, rows)

        first = time.perf_counter()
        page()  # the first in a process also imports cryptography (about 40 ms), once
        first = time.perf_counter() - first
        before = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = before.ru_utime + before.ru_stime
        started = time.perf_counter()
        ref, rows, found = page()
        assert len(found.sealed) == len(rows), (found.not_as_sealed, found.problems)
        detail = (
            f"{ref}: {len(rows)} rows, each proved against seal {found.newest.number} "
            f"(the process's first: {first * 1000:.0f} ms)"
        )
    else:  # what `audit verify` does: every chain, then the seals
        from workflow.services.chain import verify
        from workflow.services.seal_check import check
        from workflow.services.seals import public_text

        with reading(engine) as conn:
            chains = verify(conn)
            sealed = check(conn, trusted={public_text(key.public_key())})
        assert chains.ok and not sealed.problems, (chains.broken, sealed.problems)
        detail = f"{chains.rows:,} rows in {chains.cases:,} chains, {sealed.checked} seal(s)"
    seconds = time.perf_counter() - started
    engine.dispose()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU time too: on a shared machine the wall time says as much about the neighbours.
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    return {
        "phase": name,
        "seconds": round(seconds, 3),
        "cpu": round(cpu, 3),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),
        "detail": detail,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-case", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    parser.add_argument(
        "--phase", choices=("seal", "verify-seals", "verify", "case"), help=argparse.SUPPRESS
    )
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--key", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.db, args.key)))
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="casework-seal-"))
    folder.mkdir(parents=True, exist_ok=True)
    path, key_file = folder / "casework.db", folder / "audit.pem"
    if not path.exists():
        started = time.perf_counter()
        build(path, args.rows, args.per_case)
        print(
            f"built {args.rows:,} history rows in {time.perf_counter() - started:.1f} s (not timed)"
        )
    if not key_file.exists():
        from workflow.services.seals import generate

        generate(key_file)
    for name in ("seal", "verify-seals", "verify", "case"):
        out = subprocess.run(
            [sys.executable, __file__, "--phase", name, "--db", str(path), "--key", str(key_file)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout)
        print(
            f"{r['phase']:<12} {r['seconds']:>7.2f} s wall  {r['cpu']:>7.2f} s CPU  "
            f"peak {r['peak_mb']:>6.1f} MB   {r['detail']}"
        )


if __name__ == "__main__":
    main()
