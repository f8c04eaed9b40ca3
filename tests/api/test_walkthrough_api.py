"""What a council's own system trips on when it first calls the API."""

from __future__ import annotations

from workflow.api import MOUNT


def test_a_change_without_if_match_says_where_the_etag_comes_from_not_a_version_of_its_own(api):
    """The 428 said to send If-Match 'as the ETag (`"7"`) that GET ... gave', which read as
    if "7" were this case's version: the example is now said to be an example."""
    made = api.post("/cases", "cllr", json=api.world.bid_document())
    ref = made.json()["ref"]
    missing = api.client.put(
        f"{MOUNT}/cases/{ref}/application",
        json=api.world.bid_document(),
        headers=api.headers("cllr"),
    )
    assert missing.status_code == 428
    detail = missing.json()["detail"]
    assert f"the ETag that GET /cases/{ref} or GET /cases/{ref}/application gave" in detail
    assert 'the version in quotes, such as "7"' in detail and '(`"7"`)' not in detail
