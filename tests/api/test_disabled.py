"""A disabled person's API token is refused (401) and changes nothing; enabled again, it works."""

from __future__ import annotations

from workflow import clock
from workflow.services import administration
from workflow.services.admin_log import Admin


def _standing(api, name: str, disabled: bool) -> None:
    with api.engine.begin() as conn:
        administration.set_disabled(conn, name, disabled, Admin("root", "operator"), at=clock.now())


def test_a_disabled_persons_token_is_refused_and_changes_nothing(api):
    ref = api.world.bid(by="cllr")
    api.token("cllr")
    _standing(api, "cllr", True)
    before = api.world.snapshot()

    read = api.get(f"/cases/{ref}", who="cllr")
    moved = api.advance(ref, "submit", who="cllr")

    assert read.status_code == moved.status_code == 401
    assert "who is disabled" in moved.json()["detail"]
    assert api.world.snapshot() == before

    _standing(api, "cllr", False)
    assert api.advance(ref, "submit", who="cllr").status_code == 200
