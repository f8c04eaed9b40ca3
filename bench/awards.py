"""Assessment, ranking and offers: how fast, and never past the fund under contention.

    .venv/bin/python bench/awards.py [--bids 1000] [--db URL] [--threads 4]

Builds a round of `--bids` bids in a temporary SQLite file (or the empty
database `--db` names, after `casework init`), takes every one through the
real services (declare and score by two assessors, moderate, recommend) and
times:
  - scoring: declare + score, per second;
  - ranking the whole round (`programme ranking`), in milliseconds;
  - offers one after another, per second;
  - offers from `--threads` approvers at once against a fund that holds only
    part of them, per second, checking the ledger never passes the fund.
Targets: ranking 1,000 bids in under 250 ms; at least 100 offers a second
one after another on SQLite. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this folder comes first on sys.path, and bench/transitions.py
# would shadow the transitions library: put the project root there instead.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from workflow.services import programme_files  # noqa: E402

from workflow.services import assessment, directory, lifecycle  # noqa: E402
from workflow.storage.db import make_engine  # noqa: E402
from workflow.errors import GuardFailed  # noqa: E402
from workflow.services.ranking import ranking  # noqa: E402
from workflow.services.setup import init  # noqa: E402

ROUND = """
code = "{code}"
name = "Benchmark round"
kind = "bids"
fund = "{fund}"
[categories.shared_arrangement]
min = "50000"
max = "500000"
max_count = 100000
"""


def cast(engine) -> None:
    with engine.begin() as conn:
        for code in ("E07000026", "E07000028", "E07000029"):
            directory.add_org(
                conn, code, name=f"Council {code}", email=f"r@{code.lower()}.example.org"
            )
        for name, role in (
            ("carol", "caseworker"),
            ("ash", "assessor"),
            ("asha", "assessor"),
            ("april", "approver"),
            ("aaron", "approver"),
        ):
            directory.add_user(conn, name, roles=[role], email=f"{name}@example.org")


def load_round(engine, code: str, fund: str) -> None:
    with engine.begin() as conn:
        programme_files.load(conn, ROUND.format(code=code, fund=fund), "bench.toml")


def open_bids(engine, code: str, n: int) -> list[str]:
    doc = {
        "programme": code,
        "category": "shared_arrangement",
        "title": "Shared IT",
        "lead": "E07000026",
        "partners": ["E07000028", "E07000029"],
        "amount": "100000",
        "transitional_costs": "1000",
        "annual_savings": "2000",
        "arrangement": "linked_it",
        "innovation": "One estate.",
    }
    refs = []
    for _ in range(n):
        ref = lifecycle.open_case(engine, "bid", doc, "carol")["ref"]
        for t in ("submit", "check", "start_assessment"):
            lifecycle.advance(engine, ref, t, "carol")
        refs.append(ref)
    return refs


def score_all(engine, refs: list[str]) -> float:
    start = time.perf_counter()
    for i, ref in enumerate(refs):
        for who in ("ash", "asha"):
            assessment.declare(engine, ref, who, conflict=False)
            assessment.score(engine, ref, who, innovation=i % 6, costs=3, savings=(i * 7) % 6)
    return time.perf_counter() - start


def recommend_all(engine, refs: list[str]) -> None:
    for ref in refs:
        lifecycle.advance(engine, ref, "moderate", "carol")
        lifecycle.advance(engine, ref, "recommend", "carol")


def offer_all(engine, refs: list[str], threads: int) -> tuple[float, int, int]:
    def one(pair):
        n, ref = pair
        try:
            lifecycle.advance(engine, ref, "offer", ("april", "aaron")[n % 2])
            return 1
        except GuardFailed:
            return 0

    start = time.perf_counter()
    if threads <= 1:
        won = sum(one(p) for p in enumerate(refs))
    else:
        with ThreadPoolExecutor(threads) as pool:
            won = sum(pool.map(one, enumerate(refs)))
    return time.perf_counter() - start, won, len(refs) - won


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bids", type=int, default=1000)
    parser.add_argument("--db")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(args.db or f"sqlite:///{tmp}/bench.db")
        init(engine)
        cast(engine)
        n = args.bids
        load_round(engine, "bench-rank", "1000000000")
        refs = open_bids(engine, "bench-rank", n)
        scoring = score_all(engine, refs)
        recommend_all(engine, refs)
        ranking(engine, "bench-rank")  # warm the programme cache
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            rows = ranking(engine, "bench-rank")
            runs.append(time.perf_counter() - start)
        assert len(rows) == n
        sequential, won, _ = offer_all(engine, refs[: n // 2], 1)

        # Contention: a fund that holds a third of the remaining bids.
        race = refs[n // 2 :]
        load_round(engine, "bench-race", str(len(race) // 3 * 100000))
        contended_refs = open_bids(engine, "bench-race", len(race))
        score_all(engine, contended_refs)
        recommend_all(engine, contended_refs)
        contended, raced_won, raced_refused = offer_all(engine, contended_refs, args.threads)
        with engine.connect() as conn:
            committed = programme_files.committed_pence(conn, "bench-race")
            fund = programme_files.spec_for(conn, "bench-race").fund_pence
        assert committed <= fund, "the ledger passed the fund"
        engine.dispose()
    result = {
        "bids": n,
        "scores_per_second": round(2 * n / scoring, 1),
        "ranking_ms_median": round(sorted(runs)[len(runs) // 2] * 1000, 1),
        "offers_per_second": round(won / sequential, 1),
        "contended_offers_per_second": round(len(contended_refs) / contended, 1),
        "contended_won": raced_won,
        "contended_refused": raced_refused,
        "fund_respected": committed <= fund,
    }
    print(f"scoring (declare + score): {result['scores_per_second']} a second")
    print(f"ranking {n} bids: {result['ranking_ms_median']} ms (median of 5; target < 250)")
    print(f"offers one after another: {result['offers_per_second']} a second (target >= 100)")
    print(
        f"offers from {args.threads} approvers at once: "
        f"{result['contended_offers_per_second']} a second, {raced_won} made, "
        f"{raced_refused} refused, ledger within the fund: {result['fund_respected']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
