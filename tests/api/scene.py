"""A programme year far enough along for every endpoint: bids, an award, returns open.

Everything is built through the real services (cases, assessment, the sweep);
the API is then called at `AFTER_OPENING`, on the project's own simulated
clock, when each monitored bid's first return is open.
"""

from __future__ import annotations

from datetime import datetime, timezone

from tests.api.conftest import Api
from tests.workflow.monitoring_world import bid_in_monitoring
from workflow.runtime.sweep import sweep

ACCEPTED_AT = datetime(2013, 10, 1, 10, 0, tzinfo=timezone.utc)
AFTER_OPENING = datetime(2013, 12, 20, 12, 0, tzinfo=timezone.utc)  # Q1 due 2014-01-02

# Who calls, as a role: the person whose token is used.
ROLES = {
    "caseworker": "carol",
    "assessor": "ash",
    "approver": "april",
    "auditor": "audrey",
    "admin": "adam",
    "lead council": "cllr",
    "partner council": "pat",
    "other council": "olly",
}


def cast(api: Api) -> None:
    """Everyone a role test needs besides the usual cast: an admin, two more councils' people."""
    if not _has(api, "adam"):
        api.world.person("adam", "admin")
        api.world.person("pat", "council", org="E07000028")
        api.world.person("olly", "council", org="E06000047")


def _has(api: Api, name: str) -> bool:
    from sqlalchemy import select
    from workflow.storage.tables import people

    with api.engine.connect() as conn:
        return conn.execute(select(people.c.name).where(people.c.name == name)).first() is not None


def monitored_bids(api: Api, count: int = 1) -> list[str]:
    """`count` bids led by E07000026 with awards accepted and their first return open."""
    cast(api)
    refs = [bid_in_monitoring(api.world, ACCEPTED_AT) for _ in range(count)]
    sweep(api.engine, AFTER_OPENING)
    return refs
