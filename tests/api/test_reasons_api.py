"""On the API, an action that cannot be undone needs its `reason` (DESIGN.md section 12), as on
the command line and the web: refused as a problem document, 422 `reason-required`."""

from __future__ import annotations

import pytest

from tests.irreversible import MOVES, ready
from workflow.services import lifecycle


@pytest.mark.parametrize("move", MOVES, ids=lambda m: m.id)
def test_advance_refuses_it_without_a_reason_and_does_it_with_one(api, move):
    ref = ready(api.world, move)
    etag = api.get(f"/cases/{ref}").headers["etag"]
    before = api.world.snapshot()

    refused = api.advance(ref, move.trigger, who=move.by, headers={"If-Match": etag})
    blank = api.advance(ref, move.trigger, who=move.by, reason="  ")

    for answer in (refused, blank):
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["type"] == "urn:casework:problem:reason-required"
        assert problem["detail"] == f"'{move.words}' on {ref} needs a reason: say why."
    assert api.world.snapshot() == before

    done = api.advance(
        ref, move.trigger, who=move.by, reason=move.reason, headers={"If-Match": etag}
    )

    assert done.status_code == 200 and done.headers["etag"] != etag
    [row] = [h for h in lifecycle.case_history(api.engine, ref) if h["trigger"] == move.trigger]
    assert (row["actor"], row["reason"]) == (move.by, move.reason)
