"""Staff reads over HTTP: the outbox, the history export, and awards as 360Giving data."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from decimal import Decimal

from freezegun import freeze_time

from tests.workflow.awarding import offer, recommended
from workflow.services import publish
from workflow.services.chain import verify
from workflow.storage.tables import outbox

OUTBOX_KEYS = {"id", "kind", "state", "to", "cc", "subject", "key", "attempts", "last_error"}


def awards(api, count: int) -> list[str]:
    refs = [recommended(api.world) for _ in range(count)]
    for ref in refs:
        offer(api.world, ref)
    return refs


# --- the outbox -----------------------------------------------------------------------------
def test_the_outbox_lists_messages_as_outbox_list_json_oldest_first_by_page(api):
    refs = awards(api, 3)  # each submission and each offer queues one email to the council

    first = api.get("/outbox", params={"limit": 4}).json()
    rest = api.get("/outbox", params={"limit": 4, "cursor": first["next_cursor"]}).json()

    messages = first["items"] + rest["items"]
    assert [m["kind"] for m in messages] == ["case.submitted"] * 3 + ["bid.award_offered"] * 3
    assert [m["key"].split(":")[0] for m in messages] == refs * 2
    assert OUTBOX_KEYS <= set(messages[0]) and rest["next_cursor"] is None
    assert messages[0]["to"] == ["returns@e07000026.example.gov.uk"]


def test_the_outbox_is_filtered_by_state(api):
    awards(api, 2)
    with api.engine.begin() as conn:
        conn.execute(
            outbox.update().where(outbox.c.id == 1).values(state="dead", last_error="550 no")
        )

    dead = api.get("/outbox", params={"state": "dead"}).json()["items"]
    unknown = api.get("/outbox", params={"state": "lost"})

    assert [(m["id"], m["last_error"]) for m in dead] == [(1, "550 no")]
    assert unknown.status_code == 400
    assert (
        "query parameter state: input should be 'queued', 'sent' or 'dead'"
        in unknown.json()["detail"]
    )


# --- the history export -----------------------------------------------------------------------
def test_the_export_is_every_history_row_with_its_case_as_audit_export(api):
    first, second = api.world.bid(), api.world.bid()
    api.world.advance(first, "submit")

    rows = api.get("/audit/export", who="audrey").json()

    assert [(r["case"], r["seq"], r["trigger"]) for r in rows] == [
        (first, 1, "create"),
        (first, 2, "submit"),
        *[(first, n, "diligence") for n in (3, 4, 5)],  # the checks run at submission
        (second, 1, "create"),
    ]
    assert rows[1]["prev_hash"] == rows[0]["hash"]


def test_the_export_as_csv_has_the_same_columns_and_json_payloads(api):
    ref = api.world.bid()

    answer = api.get("/audit/export", who="audrey", params={"format": "csv", "case": ref})

    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="history.csv"' in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert list(rows[0]) == [
        "case",
        "seq",
        "checkpoint",
        "from_state",
        "to_state",
        "trigger",
        "actor",
        "role",
        "reason",
        "at",
        "payload",
        "hash",
        "prev_hash",
        "payment",
    ]
    assert json.loads(rows[0]["payload"]) == {"definition_version": 1}


def test_the_export_takes_rows_since_a_moment(api):
    with freeze_time(datetime(2013, 6, 1, tzinfo=timezone.utc)):
        ref = api.world.bid()
    with freeze_time(datetime(2013, 7, 1, tzinfo=timezone.utc)):
        api.world.advance(ref, "submit")

    rows = api.get("/audit/export", who="audrey", params={"since": "2013-06-15"}).json()
    bad = api.get("/audit/export", who="audrey", params={"since": "June"})

    assert [r["trigger"] for r in rows] == ["submit", *["diligence"] * 3]
    assert bad.status_code == 400 and "since: 'June' is not an ISO 8601 time" in bad.text


def test_exporting_the_history_leaves_every_chain_intact(api):
    awards(api, 2)

    api.get("/audit/export", who="audrey", params={"format": "csv"})

    with api.engine.connect() as conn:
        assert verify(conn).ok


# --- 360Giving -------------------------------------------------------------------------------
def test_the_programmes_awards_are_served_as_a_valid_360giving_package(api):
    refs = awards(api, 2)

    answer = api.get("/programmes/tca-2013/360giving", who="cllr")

    assert answer.status_code == 200
    package = json.loads(answer.text, parse_float=Decimal)
    assert publish.validate(package) == []
    assert [g["id"].rsplit("-", 3)[-3:] for g in package["grants"]] == [r.split("-") for r in refs]
    assert package["grants"][0]["recipientOrganization"][0]["id"] == "GB-LAE-ALL"
    assert package["grants"][0]["amountAwarded"] == 250000


def test_a_publication_stopped_by_an_unknown_organisation_is_422_naming_it(api):
    # A council the register does not know by that name (due diligence let it through on a
    # caseworker's word: org_in_register is overridable).
    api.world.org("E09000099", name="Nowhere Borough Council")
    ref = recommended(
        api.world, category="shared_arrangement", lead="E09000099", partners=["E07000026"]
    )
    offer(api.world, ref)

    answer = api.get("/programmes/tca-2013/360giving")

    assert answer.status_code == 422
    assert answer.json()["violations"] == [
        f"{ref}: E09000099 (Nowhere Borough Council) has no 360Giving org-id and no English "
        f"council of that name is in the register; record its org-id with --org-id"
    ]


# --- the admin log ----------------------------------------------------------------------------
def test_an_auditor_reads_the_admin_log_in_order_by_page_as_audit_admin_json(api):
    from workflow.services import admin_log, administration, directory
    from workflow.services.admin_log import Admin
    from workflow.storage.db import reading

    with api.engine.begin() as conn:
        by = Admin.operator("ops")
        directory.add_user(conn, "cody", roles=["caseworker"], by=by)
        administration.set_disabled(
            conn, "cody", True, by, at=datetime(2013, 6, 3, tzinfo=timezone.utc)
        )
    with reading(api.engine) as conn:
        every = admin_log.rows(conn)

    first = api.get("/audit/admin-log", who="audrey", params={"limit": 2}).json()
    rest = api.get(
        "/audit/admin-log", who="audrey", params={"limit": 500, "cursor": first["next_cursor"]}
    ).json()
    only = api.get(
        "/audit/admin-log", who="audrey", params={"action": "user_disable", "target": "cody"}
    ).json()

    assert first["items"] + rest["items"] == json.loads(json.dumps(every))
    assert rest["next_cursor"] is None
    assert [
        (r["action"], r["target"], r["actor"], r["after"]["disabled_at"][:10])
        for r in only["items"]
    ] == [("user_disable", "cody", "ops", "2013-06-03")]


def test_the_admin_log_is_for_auditors_and_refuses_an_unknown_action(api):
    assert api.get("/audit/admin-log", who="carol").status_code == 403
    assert api.get("/audit/admin-log", who=None).status_code == 401
    assert (
        api.get("/audit/admin-log", who="audrey", params={"action": "user_delete"}).status_code
        == 400
    )
    # A target that names nothing is refused; one that exists is answered with its rows.
    typo = api.get("/audit/admin-log", who="audrey", params={"target": "unknown"})
    assert typo.status_code == 404 and "'unknown'" in typo.json()["detail"], typo.text
    known = api.get("/audit/admin-log", who="audrey", params={"target": "carol"})
    assert known.status_code == 200, known.text
