"""Personal API tokens: shown once, kept hashed, acting as their person until revoked or expired."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.cli.conftest import Cli
from workflow import clock
from workflow.services import tokens
from workflow.errors import Malformed, PersonNotFound

NOW = datetime(2013, 10, 1, 9, 0, tzinfo=timezone.utc)


def test_the_stored_value_is_not_the_token_but_its_sha256(api):
    token = api.token("carol")

    with api.engine.connect() as conn:
        stored = conn.execute(select(tokens.tokens.c.token_hash)).scalars().all()

    assert token not in stored
    assert stored == [tokens.digest(token)]
    assert len(token) >= 40 and token.startswith("cw_")


def test_a_token_reads_as_its_person(api):
    ref = api.world.bid()

    answer = api.get(f"/cases/{ref}", who="cllr")

    assert answer.status_code == 200
    assert answer.json()["allowed_triggers"] == ["submit", "withdraw"]


def test_every_change_a_token_makes_is_in_the_history_under_its_person(api):
    ref = api.world.bid(by="cllr")

    assert api.advance(ref, "submit", who="cllr").status_code == 200

    items = api.get(f"/cases/{ref}/history", who="audrey").json()["items"]
    moved = [i for i in items if i["trigger"] != "diligence"][-1]  # not casework's own checks
    assert (moved["trigger"], moved["actor"], moved["role"]) == ("submit", "cllr", "council")


def test_a_request_without_a_token_is_refused_with_401_and_changes_nothing(api):
    ref = api.world.bid()
    before = api.world.snapshot()

    answer = api.advance(ref, "submit", who=None)

    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "needs an API token" in answer.json()["detail"]
    assert api.world.snapshot() == before


@pytest.mark.parametrize(
    "header",
    ["Bearer cw_not-a-token-anyone-was-given", "Basic Y2Fyb2w6eA==", "Bearer", "cw_no-scheme"],
)
def test_an_unknown_token_or_another_scheme_is_refused(api, header):
    answer = api.client.get("/api/v1/cases", headers={"Authorization": header})

    assert answer.status_code == 401
    assert answer.json()["type"].endswith(":unauthenticated")


def test_a_revoked_token_is_refused(api):
    ref = api.world.bid()
    token = api.token("carol")
    with api.engine.begin() as conn:
        token_id = tokens.list_tokens(conn)[0]["id"]
        tokens.revoke(conn, token_id, now=clock.now())
    before = api.world.snapshot()

    answer = api.client.post(
        f"/api/v1/cases/{ref}/advance",
        json={"trigger": "submit"},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert answer.status_code == 401
    assert f"API token {token_id} was revoked" in answer.json()["detail"]
    assert api.world.snapshot() == before


def test_an_expired_token_is_refused_from_the_moment_it_expires(api):
    with clock.simulate(NOW):
        token = api.token("carol", expires_days=30)
    headers = {"Authorization": f"Bearer {token}"}

    with clock.simulate(NOW + timedelta(days=30) - timedelta(seconds=1)):
        still = api.client.get("/api/v1/cases", headers=headers)
    with clock.simulate(NOW + timedelta(days=30)):
        expired = api.client.get("/api/v1/cases", headers=headers)

    assert still.status_code == 200
    assert expired.status_code == 401
    assert "expired on 2013-10-31 09:00 UTC" in expired.json()["detail"]


def test_revoking_twice_changes_nothing_the_second_time(api):
    api.token("carol")
    with api.engine.begin() as conn:
        first = tokens.revoke(conn, 1, now=NOW)
        second = tokens.revoke(conn, 1, now=NOW + timedelta(days=1))

    assert first == second
    assert first["revoked"] is True and first["revoked_at"] == NOW.isoformat()


def test_a_token_is_only_for_a_person_who_exists(api):
    with api.engine.begin() as conn:
        with pytest.raises(PersonNotFound):
            tokens.create(conn, "nobody", now=NOW)
        with pytest.raises(Malformed, match="'system' is the sweep"):
            tokens.create(conn, "system", now=NOW)
        with pytest.raises(Malformed, match="expires: 0 is not a number of days"):
            tokens.create(conn, "carol", now=NOW, expires_days=0)


# --- the commands, in a real subprocess --------------------------------------------------------
@pytest.fixture
def cli(sqlite_template, tmp_path) -> Cli:
    path = tmp_path / "casework.db"
    shutil.copy(sqlite_template, path)
    return Cli(f"sqlite:///{path}", tmp_path)


@pytest.mark.slow
def test_token_create_prints_only_the_token_and_list_never_shows_it(cli):
    cli.ok("org", "add", "E07000026", "--name", "Allerdale", "--email", "r@allerdale.example.org")
    cli.ok("user", "add", "cllr", "--role", "council", "--org", "E07000026")

    created = cli.ok("token", "create", "cllr", "--expires", "90")
    listed = cli.ok("token", "list", "--json").json()

    token = created.out.strip()
    assert created.out == token + "\n" and token.startswith("cw_")
    assert len(listed) == 1 and token not in cli.ok("token", "list").out
    assert set(listed[0]) >= {"id", "name", "created", "expires", "revoked"}
    assert (listed[0]["name"], listed[0]["revoked"]) == ("cllr", False)
    created_at = datetime.fromisoformat(listed[0]["created"])
    assert datetime.fromisoformat(listed[0]["expires"]) - created_at == timedelta(days=90)


@pytest.mark.slow
def test_token_revoke_and_the_refusals_of_the_token_commands(cli):
    cli.ok("user", "add", "carol", "--role", "caseworker")
    cli.ok("token", "create", "carol")

    revoked = cli.ok("token", "revoke", "1")
    unknown = cli("token", "revoke", "7")
    nobody = cli("token", "create", "nobody")
    bad_days = cli("token", "create", "carol", "--expires", "-1")

    assert "token 1 (carol) revoked" in revoked.out
    assert cli.ok("token", "list", "--json").json()[0]["revoked"] is True
    table = cli.ok("token", "list").out  # times in words, as every table; no Python booleans
    assert "never" in table and "T" not in table.split("\n")[2] and "True" not in table
    assert re.search(
        r"(\d{1,2}(:\d\d)?(am|pm)|midday|midnight), \d{1,2} [A-Z][a-z]+ 20\d\d", table
    ), table
    assert (unknown.code, unknown.err.strip()) == (
        1,
        "There is no API token 7. `casework token list` shows them.",
    )
    assert nobody.code == 1 and "There is no person called 'nobody'" in nobody.err
    assert bad_days.code == 1 and "expires: -1 is not a number of days" in bad_days.err
    assert len(cli.ok("token", "list", "--json").json()) == 1
