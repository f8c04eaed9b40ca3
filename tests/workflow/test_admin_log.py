"""Administration that leaves a trace (DESIGN section 10): the admin log and what writes it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from tests.workflow import tamper
from workflow.errors import (
    Malformed,
    OrganisationNotFound,
    PermissionDenied,
    PersonNotFound,
    RuleViolation,
    TokenRefused,
)
from workflow.services import admin_log, administration, directory, lifecycle, reads, sro, tokens
from workflow.services.admin_log import Admin
from workflow.services.seal_check import CHANGED, check
from workflow.services.seals import canonical, record_key, seal
from workflow.storage.db import reading
from workflow.storage.tables import admin_log as admin_log_t, meta, organisations, people

AT = datetime(2013, 6, 3, 10, tzinfo=timezone.utc)
OPERATOR = Admin("root", "operator")
ADA = Admin("ada", "admin")


@pytest.fixture
def w(any_world):
    any_world.cast()
    any_world.person("ada", "admin")
    return any_world


def everything(engine) -> dict:
    """Every row a refusal must leave as it was."""
    with engine.connect() as conn:
        return {
            "log": conn.execute(select(admin_log_t).order_by(admin_log_t.c.id)).all(),
            "head": conn.execute(select(meta.c.value).where(meta.c.key == "admin_log")).scalar(),
            "people": conn.execute(select(people).order_by(people.c.name)).all(),
            "orgs": conn.execute(select(organisations).order_by(organisations.c.code)).all(),
        }


def last_row(engine) -> dict:
    with engine.connect() as conn:
        return admin_log.rows(conn)[-1]


def do(engine, fn, *args, **kw):
    with engine.begin() as conn:
        return fn(conn, *args, at=AT, **kw)


# --- each command writes one row, before and after -------------------------------------
@pytest.mark.parametrize(
    "change, action, target, before, after",
    [
        (
            lambda e: do(
                e,
                administration.update_org,
                "E07000026",
                OPERATOR,
                esg_allocation="12000",
                escalation_email="s151@allerdale.gov.uk",
            ),
            "org_update",
            "E07000026",
            {
                "esg_allocation": None,
                "escalation_email": "chief.executive@e07000026.example.gov.uk",
            },
            {"esg_allocation": "12000.00", "escalation_email": "s151@allerdale.gov.uk"},
        ),
        (
            lambda e: do(
                e,
                administration.update_org,
                "E07000026",
                OPERATOR,
                name="Allerdale",
                email="returns@allerdale.gov.uk",
                org_id="GB-LAE-ALL",
            ),
            "org_update",
            "E07000026",
            {
                "name": "Council E07000026",
                "email": "returns@e07000026.example.gov.uk",
                "org_id": None,
            },
            {"name": "Allerdale", "email": "returns@allerdale.gov.uk", "org_id": "GB-LAE-ALL"},
        ),
        (
            lambda e: do(e, administration.set_disabled, "carol", True, ADA),
            "user_disable",
            "carol",
            {"disabled_at": None},
            {"disabled_at": AT.isoformat()},
        ),
        (
            lambda e: do(
                e,
                administration.change_roles,
                "carol",
                ADA,
                add=["approver"],
                remove=["caseworker"],
            ),
            "user_roles",
            "carol",
            {"roles": ["caseworker"]},
            {"roles": ["approver"]},
        ),
        (
            lambda e: do(e, sro.appoint, "tca-2013", "april", ADA),
            "programme_sro",
            "tca-2013",
            {"sro": None},
            {"sro": "april"},
        ),
    ],
    ids=["org-esg", "org-names", "disable", "roles", "sro"],
)
def test_each_change_is_one_row_with_before_and_after(w, change, action, target, before, after):
    count = len(everything(w.engine)["log"])

    change(w.engine)

    assert len(everything(w.engine)["log"]) == count + 1
    row = last_row(w.engine)
    assert (row["action"], row["target"], row["before"], row["after"]) == (
        action,
        target,
        before,
        after,
    )
    with reading(w.engine) as conn:
        assert admin_log.verify(conn).problems == []


def test_enabling_again_is_a_row_and_the_same_change_twice_writes_none(w):
    do(w.engine, administration.set_disabled, "carol", True, ADA)
    count = len(everything(w.engine)["log"])

    assert do(w.engine, administration.set_disabled, "carol", True, ADA)["changed"] is False
    assert len(everything(w.engine)["log"]) == count
    do(w.engine, administration.set_disabled, "carol", False, OPERATOR)

    row = last_row(w.engine)
    assert (row["action"], row["before"], row["after"], row["actor"], row["role"]) == (
        "user_enable",
        {"disabled_at": AT.isoformat()},
        {"disabled_at": None},
        "root",
        "operator",
    )
    assert (
        do(w.engine, administration.change_roles, "carol", ADA, add=["caseworker"])["changed"]
        is False
    )
    assert len(everything(w.engine)["log"]) == count + 1


def test_adding_people_and_organisations_is_logged_too(w):
    with reading(w.engine) as conn:
        added = admin_log.rows(conn, action="user_add", target="ada")
        org = admin_log.rows(conn, action="org_add", target="E07000026")
    assert added[0]["after"] == {
        "name": "ada",
        "roles": ["admin"],
        "email": "ada@casework.example.gov.uk",
        "org": None,
    }
    assert org[0]["before"] is None and org[0]["after"]["code"] == "E07000026"


# --- refusals: nothing written -------------------------------------------------------------
@pytest.mark.parametrize(
    "change, refusal, words",
    [
        (
            lambda e: do(e, administration.update_org, "E99999999", OPERATOR, name="Nowhere"),
            OrganisationNotFound,
            "E99999999",
        ),
        (
            lambda e: do(
                e, administration.update_org, "E07000026", OPERATOR, email="not an address"
            ),
            Malformed,
            "email: 'not an address' is not an email address",
        ),
        (
            lambda e: do(e, administration.update_org, "E07000026", OPERATOR),
            Malformed,
            "give at least one of",
        ),
        (
            lambda e: do(e, administration.set_disabled, "ada", True, OPERATOR),
            RuleViolation,
            "ada is the last admin who can act, so they cannot be disabled",
        ),
        (
            lambda e: do(e, administration.change_roles, "ada", OPERATOR, remove=["admin"]),
            RuleViolation,
            "ada is the last admin who can act, so the role admin cannot be taken",
        ),
        (
            lambda e: do(e, administration.set_disabled, "nobody", True, OPERATOR),
            PersonNotFound,
            "nobody",
        ),
        (
            lambda e: do(e, administration.change_roles, "carol", OPERATOR, add=["emperor"]),
            Malformed,
            "role: 'emperor' is not one of",
        ),
        (
            lambda e: do(e, administration.change_roles, "carol", OPERATOR, remove=["caseworker"]),
            RuleViolation,
            "carol would have no role left",
        ),
        (
            lambda e: do(e, administration.change_roles, "carol", OPERATOR, add=["council"]),
            RuleViolation,
            "carol belongs to no organisation",
        ),
        (
            lambda e: do(e, sro.appoint, "tca-2013", "carol", OPERATOR),
            RuleViolation,
            "must be a person with role approver, and carol is caseworker",
        ),
    ],
    ids=[
        "unknown-org",
        "bad-email",
        "nothing-given",
        "last-admin-disabled",
        "last-admin-role",
        "unknown-person",
        "unknown-role",
        "no-role-left",
        "council-no-org",
        "sro-not-approver",
    ],
)
def test_refusals_name_why_and_write_nothing(w, change, refusal, words):
    before = everything(w.engine)

    with pytest.raises(refusal) as refused:
        change(w.engine)

    assert words in str(refused.value)
    assert everything(w.engine) == before


def test_the_sro_keeps_role_approver_and_cannot_be_disabled(w):
    do(w.engine, sro.appoint, "tca-2013", "april", OPERATOR)
    before = everything(w.engine)

    with pytest.raises(RuleViolation, match="april is the senior responsible owner of tca-2013"):
        do(w.engine, administration.set_disabled, "april", True, ADA)
    with pytest.raises(RuleViolation, match="who must be an approver: name another first"):
        do(w.engine, administration.change_roles, "april", ADA, remove=["approver"])
    assert everything(w.engine) == before


def test_an_admin_cannot_disable_themselves_on_the_web_and_a_second_admin_can(w):
    w.person("adam", "admin")
    with pytest.raises(RuleViolation, match="ada cannot disable themselves"):
        do(w.engine, administration.set_disabled, "ada", True, ADA)
    do(w.engine, administration.set_disabled, "ada", True, Admin("adam", "admin"))
    with pytest.raises(RuleViolation, match="adam is the last admin who can act"):
        do(w.engine, administration.set_disabled, "adam", True, OPERATOR)


def test_a_lower_esg_allocation_under_a_submitted_top_up_is_refused_naming_it(w):
    from tests.workflow.awarding import open_bid

    do(w.engine, administration.update_org, "E07000026", OPERATOR, esg_allocation="400000")
    ref = open_bid(w, "esg_top_up", amount="100000")
    w.advance(ref, "submit")
    before = everything(w.engine)

    with pytest.raises(RuleViolation) as refused:
        do(w.engine, administration.update_org, "E07000026", OPERATOR, esg_allocation="200000")

    assert f"{ref} asks for £100,000, above £50,000 (25% of £200,000)" in str(refused.value)
    assert everything(w.engine) == before
    do(w.engine, administration.update_org, "E07000026", OPERATOR, esg_allocation="500000")


def test_only_an_admin_may_use_the_admin_area(w):
    april = directory_actor(w, "april")
    with pytest.raises(
        PermissionDenied, match="april may not change people's roles: only an admin may"
    ):
        administration.require_admin(april, "change people's roles")
    assert administration.require_admin(directory_actor(w, "ada"), "x") == ADA


def directory_actor(w, name):
    with w.engine.connect() as conn:
        return directory.actor(conn, name)


# --- a disabled person ----------------------------------------------------------------------
def test_a_disabled_person_cannot_act_or_use_a_token_and_their_history_stays(w):
    ref = w.bid()
    with w.engine.begin() as conn:
        token, _ = tokens.create(conn, "carol", now=AT)
    do(w.engine, administration.set_disabled, "carol", True, ADA)
    before = w.snapshot()

    with pytest.raises(
        PermissionDenied, match="carol is disabled, so they cannot sign in, use an API token or act"
    ):
        lifecycle.advance(w.engine, ref, "submit", "carol")
    with pytest.raises(PermissionDenied):
        w.bid()
    with w.engine.connect() as conn, pytest.raises(TokenRefused, match="carol, who is disabled"):
        tokens.authenticate(conn, token, now=AT)
    assert w.snapshot() == before
    assert [r["actor"] for r in reads.case_history(w.engine, ref)] == ["carol"]

    do(w.engine, administration.set_disabled, "carol", False, ADA)
    lifecycle.advance(w.engine, ref, "submit", "carol")
    with w.engine.connect() as conn:
        assert tokens.authenticate(conn, token, now=AT).name == "carol"


# --- the database refuses to change the log ---------------------------------------------------
def test_the_database_refuses_update_delete_and_replace_on_the_admin_log(w):
    do(w.engine, administration.set_disabled, "carol", True, ADA)
    statements = [
        "UPDATE admin_log SET actor = 'mallory' WHERE id = 1",
        "DELETE FROM admin_log WHERE id = 1",
    ]
    if w.engine.dialect.name == "sqlite":
        statements.append(
            "INSERT OR REPLACE INTO admin_log (id, at, actor, role, action, "
            "target, prev_hash, hash) SELECT id, at, 'mallory', role, action, "
            "target, prev_hash, hash FROM admin_log WHERE id = 1"
        )
    else:
        statements.append("TRUNCATE admin_log")
    before = everything(w.engine)
    for sql in statements:
        with pytest.raises(DatabaseError, match="admin_log rows are append-only"):
            with w.engine.begin() as conn:
                conn.execute(text(sql))
    assert everything(w.engine) == before


# --- audit verify and the seals find a tampered row ---------------------------------------------
def test_a_rewritten_row_is_found_by_the_chain_and_a_recomputed_one_by_the_seals(w):
    key = Ed25519PrivateKey.generate()
    record_key(w.engine, key.public_key())
    do(w.engine, administration.change_roles, "carol", ADA, add=["approver"])
    made = seal(w.engine, key)
    with reading(w.engine) as conn:
        rows = admin_log.count(conn)
        assert made.statement["admin_tree_size"] == rows
        assert check(conn).problems == [] and admin_log.verify(conn).problems == []

    target = rows  # the roles change: its actor rewritten, hashes left as they were
    tamper.rewrite_admin_row(w.engine, target, rechain=False)
    with reading(w.engine) as conn:
        assert admin_log.verify(conn).problems == [
            f"admin log: row {target} does not match its hash"
        ]

    tamper.rewrite_admin_row(w.engine, target)  # and now every hash recomputed
    with reading(w.engine) as conn:
        assert admin_log.verify(conn).problems == []  # the chain alone shows nothing...
        assert check(conn).problems == [  # ...but the seal does
            f"{made.label}: admin log rows {target}-{target} no longer match" + CHANGED
            if target == 1
            else f"{made.label}: admin log rows 1-{target} no longer match" + CHANGED
        ]


def test_a_row_removed_from_the_end_is_found(w):
    do(w.engine, administration.set_disabled, "carol", True, ADA)
    with reading(w.engine) as conn:
        last = admin_log.count(conn)
    with tamper.guards_off(w.engine) as conn:
        conn.execute(text("DELETE FROM admin_log WHERE id = :i"), {"i": last})
    with reading(w.engine) as conn:
        assert admin_log.verify(conn).problems == [
            f"admin log: row {last} is missing (the log ends at row {last})"
        ]


def test_seals_made_before_the_admin_log_keep_their_statement_bytes():
    old = {
        "seal": 1,
        "tree_size": 4,
        "root": "ab" * 32,
        "sealed_at": "2027-03-01T02:00:00+00:00",
        "previous": None,
        "key": "k",
    }
    assert canonical(old) == (
        b'{"key":"k","previous":null,"root":"'
        + b"ab" * 32
        + b'","seal":1,"sealed_at":"2027-03-01T02:00:00+00:00",'
        b'"tree_size":4}'
    )
    assert b'"admin_root":"r","admin_tree_size":0' in canonical(
        {**old, "admin_tree_size": 0, "admin_root": "r"}
    )


def test_concurrent_changes_never_fork_the_log(w):
    """Two changes at once: each reads the head under its lock, so the chain stays one line."""
    from concurrent.futures import ThreadPoolExecutor

    names = [f"p{i}" for i in range(8)]
    for n in names:
        w.person(n, "caseworker")

    def change(name):
        do(w.engine, administration.change_roles, name, ADA, add=["assessor"])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(change, names))
    with reading(w.engine) as conn:
        assert admin_log.verify(conn).problems == []
        assert len(admin_log.rows(conn, action="user_roles")) == 8
        assert (
            conn.execute(select(func.count()).select_from(admin_log_t)).scalar_one()
            == admin_log.rows(conn)[-1]["id"]
        )
