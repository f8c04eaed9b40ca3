"""Payments through a year of tranches, and the programme's figures at 100,000 payments.

    python bench/payments.py [--awards 1000] [--payments 100000] [--db DIR]

1. `--awards` bids are opened through the case service and set straight to "award offered"
   (the way there is bench/transitions.py's business), then the year runs through the real
   services: the council accepts (its first tranche falls due), an approver approves and
   finance pays it; its Q2 return is accepted (the second tranche falls due), approved, paid;
   its last return is accepted, the third approved and paid. Each `pay` is timed: it holds
   the case row, checks the award and the fund, writes the payment, its chained history row
   and the lead council's email in one transaction.
2. The payments table is then filled to `--payments` rows (the same programme), and the
   programme's figures (`payments.figures`: the kept paid total and what is recovering) and
   the whole `programme list` summary are timed, 300 times each.

SQLite, durable commits (casework's default). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from sqlalchemy import func, select, update  # noqa: E402

from states import BID, CHECKPOINT  # noqa: E402
from workflow.services import directory, lifecycle, monitoring, payments  # noqa: E402
from workflow.services import programme_files  # noqa: E402
from workflow.services.setup import init  # noqa: E402
from workflow.storage.db import make_engine, reading  # noqa: E402
from workflow.storage.tables import cases, checkpoints  # noqa: E402
from workflow.storage.tables import paid_totals  # noqa: E402
from workflow.storage.tables import payments as payments_t  # noqa: E402

CODE = "bench-2013"
DOC = {
    "programme": CODE,
    "category": "shared_arrangement",
    "title": "Joint procurement hub",
    "lead": "E07000026",
    "partners": ["E07000028"],
    "amount": "250000.01",
    "transitional_costs": "120000",
    "annual_savings": "400000",
    "arrangement": "joint_procurement",
    "innovation": "One buying team.",
}


def bench_programme() -> str:
    name, text = next((n, t) for n, t in programme_files.bundled_sources() if n == "tca-2013.toml")
    lines = []
    for line in text.splitlines():
        if line.startswith("code ="):
            line = f'code = "{CODE}"'
        elif line.startswith("fund ="):
            line = 'fund = "900000000000"'
        elif line.startswith("max_count ="):
            line = "max_count = 1000000"
        lines.append(line)
    return "\n".join(lines) + "\n"


def set_up(engine) -> None:
    init(engine)
    with engine.begin() as conn:
        programme_files.load(conn, bench_programme(), f"{CODE}.toml")
        for code in ("E07000026", "E07000028"):
            directory.add_org(
                conn, code, name=f"Council {code}", email=f"r@{code.lower()}.example.gov.uk"
            )
        directory.add_user(conn, "carol", roles=["caseworker"], email="carol@example.gov.uk")
        directory.add_user(
            conn, "cllr", roles=["council"], org="E07000026", email="cllr@example.gov.uk"
        )
        directory.add_user(conn, "april", roles=["approver"])
        directory.add_user(conn, "fiona", roles=["finance"])


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def accept_return(engine, ref: str) -> None:
    """The return arrives and is accepted: set as submitted (its contents are not the bench's
    business), then the caseworker's real `accept`, whose effect makes the tranche due."""
    with engine.begin() as conn:
        conn.execute(
            update(checkpoints)
            .where(checkpoints.c.ref == ref)
            .values(state=CHECKPOINT.group("to_read")[0], version=checkpoints.c.version + 1)
        )
    monitoring.decide_return(engine, ref, "accept", "carol")


def year(engine, n: int) -> dict:
    refs = [lifecycle.open_case(engine, "bid", DOC, "carol")["ref"] for _ in range(n)]
    with engine.begin() as conn:
        conn.execute(
            update(cases)
            .where(cases.c.programme == CODE)
            .values(state=BID.group("to_offer")[0], version=cases.c.version + 1)
        )
    pays: list[float] = []
    started = time.perf_counter()
    for ref in refs:
        lifecycle.advance(engine, ref, "offer", "april")
        lifecycle.advance(engine, ref, "accept", "cllr")
        for n_, event in ((1, None), (2, "Q2"), (3, "Q4")):
            if event:
                accept_return(engine, f"{ref}/{event}")
            payments.move(engine, f"{ref}/P{n_}", "approve", "april")
            t0 = time.perf_counter()
            payments.move(engine, f"{ref}/P{n_}", "pay", "fiona", reference=f"BACS {ref}/{n_}")
            pays.append(time.perf_counter() - t0)
    wall = time.perf_counter() - started
    with reading(engine) as conn:
        paid = payments.figures(conn, CODE)["paid_pence"]
    assert paid == 25_000_001 * n, (paid, n)  # every award paid to the penny
    return {
        "awards": n,
        "payments": len(pays),
        "year_seconds": round(wall, 2),
        "pay_per_second": round(len(pays) / sum(pays), 1),
        "pay_p50_ms": round(pct(pays, 0.50), 2),
        "pay_p99_ms": round(pct(pays, 0.99), 2),
    }


def fill(engine, total: int) -> int:
    """Payment rows up to `total` (paid, due and approved), spread over the awards."""
    with engine.begin() as conn:
        have = conn.execute(select(func.count()).select_from(payments_t)).scalar()
        case_ids = list(
            conn.execute(select(cases.c.id, cases.c.ref).where(cases.c.programme == CODE))
        )
        states = ("paid", "paid", "due", "approved")
        rows, n = [], 0
        now = datetime(2014, 7, 1, tzinfo=timezone.utc)
        per_case = (total - have) // max(1, len(case_ids)) + 1
        for cid, ref in case_ids:
            for k in range(per_case):
                if have + n >= total:
                    break
                p = 10 + k
                rows.append(
                    {
                        "ref": f"{ref}/P{p}",
                        "case_id": cid,
                        "programme": CODE,
                        "n": p,
                        "tranche": p,
                        "event": "Q2",
                        "state": states[n % 4],
                        "version": 1,
                        "amount_pence": 1000,
                        "due_on": date(2014, 1, 6),
                        "held_with_case": False,
                        "created_at": now,
                        "paid_at": now if states[n % 4] == "paid" else None,
                    }
                )
                n += 1
        for i in range(0, len(rows), 5000):
            conn.execute(payments_t.insert(), rows[i : i + 5000])
        # The kept total moves with each `pay`; rows put in directly are added to it here.
        conn.execute(
            update(paid_totals)
            .where(paid_totals.c.programme == CODE)
            .values(paid_pence=payments.paid_by_rows(conn, CODE))
        )
        return have + n


def figures(engine, rounds: int = 300) -> dict:
    quick, whole = [], []
    with reading(engine) as conn:
        for _ in range(rounds):
            t0 = time.perf_counter()
            payments.figures(conn, CODE)
            quick.append(time.perf_counter() - t0)
        for _ in range(rounds):
            t0 = time.perf_counter()
            programme_files.summaries(conn)
            whole.append(time.perf_counter() - t0)
    return {
        "figures_p50_ms": round(pct(quick, 0.5), 2),
        "figures_p99_ms": round(pct(quick, 0.99), 2),
        "summary_p50_ms": round(pct(whole, 0.5), 2),
        "summary_p99_ms": round(pct(whole, 0.99), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--awards", type=int, default=1000)
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=None, help="folder for the database")
    args = parser.parse_args()
    folder = args.db or Path(tempfile.mkdtemp(prefix="bench-payments-"))
    folder.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{folder / 'payments.db'}")
    try:
        set_up(engine)
        out = year(engine, args.awards)
        print(
            f"{out['payments']:,} payments of {out['awards']:,} awards through a year: "
            f"pay {out['pay_per_second']:,}/s, p50 {out['pay_p50_ms']} ms, "
            f"p99 {out['pay_p99_ms']} ms ({out['year_seconds']} s for the whole year)"
        )
        rows = fill(engine, args.payments)
        fig = figures(engine)
        out.update(rows=rows, **fig, load=os.getloadavg()[0])
        print(
            f"programme figures at {rows:,} payments: p50 {fig['figures_p50_ms']} ms, "
            f"p99 {fig['figures_p99_ms']} ms; the whole programme list "
            f"p99 {fig['summary_p99_ms']} ms (load average {out['load']:.1f})"
        )
        print(json.dumps(out))
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
