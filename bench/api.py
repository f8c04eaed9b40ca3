"""The JSON API's latency with 100,000 cases, over loopback against `casework serve`.

    .venv/bin/python bench/api.py [--cases 100000] [--requests 1000] [--triggers 500]

Builds a SQLite database in a temporary folder with `--cases` bids in
monitoring (written in bulk: tests/workflow/monitoring_world.bulk_bids), a
caseworker's API token and a council person's, then starts `casework serve
--no-scheduler` in a subprocess and times, one request after another on a
kept-alive connection (after a warm-up):

- list: a page of 50 cases (`GET /api/v1/cases?limit=50`), from a random
  place in the table (a cursor made for a random id);
- list (council): the same, as a council person (cases their organisation
  leads or partners: the filter the API adds for councils), for a council
  that leads 2% of the cases;
- list (council, none): the first page for a council with no case at all
  (the list is walked from the organisation's rows of `case_orgs`, so this
  finds nothing at once rather than looking through the table);
- show: one case (`GET /api/v1/cases/{ref}`), chosen at random;
- trigger: `POST /api/v1/cases/{ref}/advance {"trigger": "suspend", "reason": …}`
  with If-Match, each on a different case: one transaction with the version
  check, the history row and the outbox row (the email is rendered).

Targets: p99 under 20 ms for the reads and under 50 ms for a trigger on
SQLite. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

# First of all: importing bench/py puts the project root in place of bench/ on sys.path.
from _serve import judged, print_figures, serving, summary, timed

import httpx  # noqa: E402

from tests.workflow.monitoring_world import bulk_bids  # noqa: E402
from workflow.services import tokens  # noqa: E402
from workflow.services import directory
from workflow.api import paging  # noqa: E402
from workflow.storage.db import make_engine  # noqa: E402
from workflow.services.setup import init  # noqa: E402

# A suspension needs a reason, on the API as on every face (states/bid.py).
SUSPENDED_BECAUSE = "Second quarter's return not received: payments held pending an audit"

TARGETS_MS = {
    "list": 20.0,
    "list_council": 20.0,
    "list_council_none": 20.0,
    "show": 20.0,
    "trigger": 50.0,
}


def build(folder: Path, n_cases: int) -> tuple[str, str, str, str]:
    """The database, and the API tokens of a caseworker and of two council people."""
    url = f"sqlite:///{folder / 'casework.db'}"
    engine = make_engine(url)
    init(engine)
    started = time.perf_counter()
    # Due dates years ahead: nothing for a sweep to do (the server runs none anyway).
    bulk_bids(engine, n_cases, lambda i, n: date(2030, 1 + 3 * (n - 1), 2))
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        directory.add_user(conn, "cllr", roles=["council"], org="E07000007")
        directory.add_org(conn, "E06000001", name="Hartlepool", email="r@hartlepool.example.org")
        directory.add_user(conn, "quiet", roles=["council"], org="E06000001")
        staff, _ = tokens.create(conn, "carol", now=now)
        council, _ = tokens.create(conn, "cllr", now=now)
        none, _ = tokens.create(conn, "quiet", now=now)
    engine.dispose()
    print(f"built {n_cases:,} cases in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return url, staff, council, none


def run(
    base: str, staff: str, council: str, none: str, n_cases: int, n: int, n_triggers: int
) -> dict:
    rng = random.Random(2013)
    as_staff, as_council, as_none = (
        httpx.Client(
            base_url=base + "/api/v1", timeout=30, headers={"Authorization": f"Bearer {token}"}
        )
        for token in (staff, council, none)
    )

    def page(client):
        def send(_):
            cursor = paging.encode("case", rng.randrange(n_cases - 100))
            return client.get("/cases", params={"limit": 50, "cursor": cursor})

        return send

    def show(_):
        return as_staff.get(f"/cases/TCA-2013-{rng.randrange(1, n_cases + 1):06d}")

    chosen = iter(rng.sample(range(1, n_cases + 1), n_triggers + 20))

    def trigger(_):
        ref = f"TCA-2013-{next(chosen):06d}"
        return as_staff.post(
            f"/cases/{ref}/advance",
            json={"trigger": "suspend", "reason": SUSPENDED_BECAUSE},
            headers={"If-Match": '"10"'},
        )

    def first_page(_):
        return as_none.get("/cases", params={"limit": 50})

    for send in (page(as_staff), page(as_council), first_page, show, trigger):  # warm up
        timed(send, 20)
    results = {
        "list": summary(timed(page(as_staff), n)),
        "list_council": summary(timed(page(as_council), n)),
        "list_council_none": summary(timed(first_page, max(50, n // 10))),
        "show": summary(timed(show, n)),
        "trigger": summary(timed(trigger, n_triggers)),
    }
    return judged(results, TARGETS_MS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--triggers", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="casework-bench-api-") as tmp:
        folder = Path(tmp)
        url, staff, council, none = build(folder, args.cases)
        with serving(url, folder, ready="/api/v1/openapi.json") as base:
            results = run(base, staff, council, none, args.cases, args.requests, args.triggers)
    print_figures(results, width=17)
    print(
        json.dumps(
            {
                "cases": args.cases,
                "server": "casework serve --no-scheduler (uvicorn, one process), SQLite",
                **results,
            }
        )
    )


if __name__ == "__main__":
    main()
