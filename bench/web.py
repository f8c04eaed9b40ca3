"""The web app's latency with 100,000 cases and 400,000 returns, over loopback against `casework serve`.

    .venv/bin/python bench/web.py [--cases 100000] [--requests 500] [--submissions 300]

Builds a SQLite database in a temporary folder: `--cases` bids in monitoring
with four returns each (written in bulk: tests/workflow/monitoring_world.bulk_bids),
each with the 13-row history chain the services leave behind on the way
there (sealed, so `audit verify` passes), and a realistic inbox: returns
submitted, queried, overdue and escalated, bids waiting to be checked,
assessed and decided. Then starts `casework serve --no-scheduler` in a
subprocess, signs in as a caseworker through /sign-in, and times one request
after another on a kept-alive connection (after a warm-up):

- inbox: the caseworker's /inbox (every group counted, the first rows of each);
- case: a case page (/cases/REF, chosen at random): summary, application,
  returns, messages, the history timeline and the buttons this person may press;
- return: a return page (/returns/REF/Qn, at random);
- submission: a return submitted with its figures and a CSV evidence file
  (POST /returns/REF/Qn/submit, multipart), each on a different open return:
  one transaction with the version check and the history row, the file kept
  by its SHA-256.

Targets: p99 under 50 ms for the reads and under 100 ms for a submission on
SQLite. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

# First of all: importing bench/_serve.py puts the project root in place of bench/ on sys.path.
from _serve import judged, print_figures, serving, summary, timed

import httpx  # noqa: E402
from sqlalchemy import bindparam, update  # noqa: E402

from tests.workflow.monitoring_world import bulk_bids  # noqa: E402
from workflow.services import passwords  # noqa: E402
from workflow.storage.db import make_engine  # noqa: E402
from workflow.services.chain import GENESIS, Entry, seal  # noqa: E402
from workflow.storage.tables import cases, checkpoints, history  # noqa: E402
from workflow.services.setup import init  # noqa: E402

PASSWORD = "bench passphrase 2013"
TARGETS_MS = {"inbox": 50.0, "case": 50.0, "return": 50.0, "submission": 100.0}
ACCEPTED = datetime(2013, 10, 1, 9, tzinfo=timezone.utc)
# The way every bulk bid came to be in monitoring: (trigger, from, to, actor, role).
PATH = [
    ("create", None, "draft", "carol", "caseworker"),
    ("submit", "draft", "submitted", "carol", "caseworker"),
    ("check", "submitted", "eligible", "carol", "caseworker"),
    ("start_assessment", "eligible", "under_assessment", "carol", "caseworker"),
    ("declare", "under_assessment", "under_assessment", "ash", "assessor"),
    ("score", "under_assessment", "under_assessment", "ash", "assessor"),
    ("declare", "under_assessment", "under_assessment", "asha", "assessor"),
    ("score", "under_assessment", "under_assessment", "asha", "assessor"),
    ("moderate", "under_assessment", "moderated", "carol", "caseworker"),
    ("recommend", "moderated", "recommended", "carol", "caseworker"),
    ("offer", "recommended", "award_offered", "april", "approver"),
    ("accept", "award_offered", "in_monitoring", "cllr", "council"),
    ("schedule_checkpoints", "in_monitoring", "in_monitoring", "cllr", "council"),
]


def due_of(i: int, n: int) -> date:
    """Returns due every quarter from January 2014; the early ones are the busy ones."""
    return date(2014, 1 + 3 * (n - 1), 2 + i % 20)


def build(folder: Path, n_cases: int, n_open: int) -> str:
    url = f"sqlite:///{folder / 'casework.db'}"
    engine = make_engine(url)
    init(engine)
    started = time.perf_counter()
    bulk_bids(engine, n_cases, due_of, scheduled_at=ACCEPTED)
    _histories(engine, n_cases)
    _inbox(engine, n_cases, n_open)
    passwords.sample_passwords(engine, password=PASSWORD, names=["carol"])
    engine.dispose()
    print(
        f"built {n_cases:,} cases and {4 * n_cases:,} returns in "
        f"{time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return url


def _histories(engine, n_cases: int, chunk: int = 5000) -> None:
    """Each case's chain, sealed as the services seal it, and its head on the case row."""
    move_head = (
        update(cases)
        .where(cases.c.id == bindparam("_id"))
        .values(last_seq=bindparam("_seq"), last_hash=bindparam("_hash"))
    )
    for start in range(1, n_cases + 1, chunk):
        rows, heads = [], []
        for case_id in range(start, min(n_cases, start + chunk - 1) + 1):
            ref, prev = f"TCA-2013-{case_id:06d}", GENESIS
            for seq, (trigger, source, dest, actor, role) in enumerate(PATH, start=1):
                at = ACCEPTED - timedelta(hours=len(PATH) - seq)
                entry = Entry(
                    from_state=source,
                    to_state=dest,
                    trigger=trigger,
                    actor=actor,
                    role=role,
                    at=at,
                    payload={},
                )
                digest = seal(ref, seq, prev, entry)
                rows.append(
                    {
                        "case_id": case_id,
                        "seq": seq,
                        "checkpoint": None,
                        "from_state": source,
                        "to_state": dest,
                        "trigger": trigger,
                        "actor": actor,
                        "role": role,
                        "reason": None,
                        "at": at,
                        "payload": {},
                        "prev_hash": prev,
                        "hash": digest,
                    }
                )
                prev = digest
            heads.append({"_id": case_id, "_seq": len(PATH), "_hash": prev})
        with engine.begin() as conn:
            conn.execute(history.insert(), rows)
            conn.execute(move_head, heads)


def _inbox(engine, n_cases: int, n_open: int) -> None:
    """A working inbox: returns in every state a caseworker deals with, bids at every stage."""
    rng = random.Random(2013)
    picked = rng.sample(range(1, n_cases + 1), n_open + 8000)
    opened, rest = picked[:n_open], picked[n_open:]
    groups = {
        "submitted": rest[:2000],
        "queried": rest[2000:3000],
        "overdue": rest[3000:6000],
        "escalated": rest[6000:8000],
    }
    with engine.begin() as conn:
        for state, ids in {"open": opened, **groups}.items():
            level = 0
            for i, case_id in enumerate(ids):
                if state == "escalated":
                    level = 1 if i % 4 else 2
                conn.execute(
                    update(checkpoints)
                    .where(checkpoints.c.case_id == case_id, checkpoints.c.n == 1)
                    .values(state=state, level=level, next_step_at=None, version=2)
                )
        for state, count in (
            ("submitted", 300),
            ("eligible", 200),
            ("under_assessment", 400),
            ("moderated", 100),
            ("recommended", 50),
            ("suspended", 500),
        ):
            ids = rng.sample(range(1, n_cases + 1), count)
            conn.execute(
                update(cases)
                .where(cases.c.id.in_(ids), ~cases.c.id.in_(opened))
                .values(state=state)
            )
    (Path(engine.url.database).parent / "open.json").write_text(json.dumps(sorted(opened)))


def signed_in(base: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").text).group(1)
    answer = client.post(
        "/sign-in", data={"csrf_token": token, "name": "carol", "password": PASSWORD}
    )
    if answer.status_code != 303:
        raise SystemExit(f"could not sign in: {answer.status_code}")
    page = client.get("/inbox").text
    return client, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def run(base: str, folder: Path, n_cases: int, n: int, n_submissions: int) -> dict:
    rng = random.Random(2014)
    client, token = signed_in(base)
    opened = iter(json.loads((folder / "open.json").read_text()))
    evidence = b"quarter,spend,savings\nQ1,125000.00,40000.50\n" * 20

    def case(_):
        return client.get(f"/cases/TCA-2013-{rng.randrange(1, n_cases + 1):06d}")

    def return_page(_):
        return client.get(
            f"/returns/TCA-2013-{rng.randrange(1, n_cases + 1):06d}/Q{rng.randrange(1, 5)}"
        )

    def submission(_):
        ref = f"TCA-2013-{next(opened):06d}/Q1"
        return client.post(
            f"/returns/{ref}/submit",
            data={
                "csrf_token": token,
                "version": "2",
                "spend_to_date": "125000",
                "savings_to_date": "40000.50",
                "progress": "On track.",
                "risks": "Staff turnover.",
            },
            files={"evidence": ("Q1 figures.csv", evidence, "text/csv")},
        )

    inbox = lambda _: client.get("/inbox")  # noqa: E731
    for send, expect in ((inbox, 200), (case, 200), (return_page, 200), (submission, 303)):
        timed(send, 30, expect)  # warm up
    results = {
        "inbox": summary(timed(inbox, n, 200)),
        "case": summary(timed(case, n, 200)),
        "return": summary(timed(return_page, n, 200)),
        "submission": summary(timed(submission, n_submissions, 303)),
    }
    return judged(results, TARGETS_MS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--submissions", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="casework-bench-web-") as tmp:
        folder = Path(tmp)
        url = build(folder, args.cases, args.submissions + 30)
        with serving(url, folder, ready="/healthz") as base:
            results = run(base, folder, args.cases, args.requests, args.submissions)
    print_figures(results, width=11)
    print(
        json.dumps(
            {
                "cases": args.cases,
                "returns": 4 * args.cases,
                "server": "casework serve --no-scheduler (uvicorn, one process), SQLite",
                **results,
            }
        )
    )


if __name__ == "__main__":
    main()
