"""Seals hold against the database's own administrator (DESIGN section 11)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from tests.workflow import tamper
from workflow.storage.db import reading
from workflow.errors import SetupError
from workflow.services.chain import verify as verify_chains
from workflow.storage.tables import history, seals as seals_t
from workflow.services.seal_check import CHANGED, check
from workflow.services.seals import public_text, record_key, seal


@pytest.fixture
def w(any_world):
    return any_world.cast()


@pytest.fixture
def key(w):
    k = Ed25519PrivateKey.generate()
    record_key(w.engine, k.public_key())
    return k


def _history(w, bids: int = 3) -> list[str]:
    refs = []
    for _ in range(bids):
        ref = w.bid()
        w.advance(ref, "submit", "check", "start_assessment")
        refs.append(ref)
    return refs


def _rows(w) -> int:
    """History rows so far (a bid's count depends on its due-diligence rows)."""
    with reading(w.engine) as conn:
        return conn.execute(select(func.count()).select_from(history)).scalar()


def _audit(engine, **kw):
    with reading(engine) as conn:
        return verify_chains(conn), check(conn, **kw)


def test_sealed_history_verifies(w, key):
    _history(w)
    rows = _rows(w)

    made = seal(w.engine, key)
    chains, seals = _audit(w.engine)

    assert made.tree_size == rows == chains.rows and made.number == 1
    assert chains.ok and seals.problems == []
    assert (seals.checked, seals.sealed_rows) == (1, rows)


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param(lambda e, ref: tamper.rewrite_row(e, ref, 2), id="rewritten-row"),
        pytest.param(lambda e, ref: tamper.delete_row(e, ref, 2), id="deleted-row-relinked"),
        pytest.param(lambda e, ref: tamper.insert_row(e, ref, 2), id="inserted-row"),
        pytest.param(lambda e, ref: tamper.replace_row(e, ref, 3), id="replaced-row"),
    ],
)
def test_a_sealed_row_changed_with_recomputed_hashes_is_named(w, key, attack):
    first, middle, last = _history(w)
    made = seal(w.engine, key)

    attack(w.engine, middle)
    chains, seals = _audit(w.engine)

    assert chains.ok, "the chain alone cannot see it: every hash was recomputed"
    [problem] = seals.problems
    assert problem.startswith(f"{made.label}: rows 1-{made.tree_size} no longer match")


def test_an_earlier_seal_that_still_matches_narrows_the_rows(w, key):
    first, second = _history(w, 2)
    earlier = seal(w.engine, key)
    third = _history(w, 1)[0]
    later = seal(w.engine, key)

    tamper.rewrite_row(w.engine, third, 3)
    _, seals = _audit(w.engine)

    assert seals.problems == [
        f"{later.label}: rows {earlier.tree_size + 1}-{later.tree_size} no longer match" + CHANGED
    ]


def test_a_deleted_case_leaves_rows_that_verify_names(w, key):
    (keep,) = _history(w, 1)
    kept = _rows(w)
    (gone,) = _history(w, 1)
    rows = _rows(w)
    seal(w.engine, key)

    tamper.delete_case(w.engine, gone)
    chains, seals = _audit(w.engine)

    assert list(chains.broken.values()) == [
        f"{rows - kept} history rows belong to no case (row ids {kept + 1}-{rows})"
    ]
    assert chains.rows == rows and chains.cases == 1
    assert seals.problems == []  # the rows themselves are untouched


def test_before_any_seal_the_chain_still_catches_what_it_can(w):
    intact, altered, gone = _history(w)

    tamper.replace_row(w.engine, altered, 3)  # content changed, hashes recomputed ...
    with tamper.guards_off(w.engine) as conn:  # ... then a row changed without them
        conn.execute(
            text("UPDATE history SET reason = 'x' WHERE case_id = :c AND seq = 2"),
            {"c": tamper.case_id(conn, altered)},
        )
    tamper.delete_case(w.engine, gone)
    chains, seals = _audit(w.engine)

    assert chains.broken[altered] == "row 2 does not match its hash"
    assert any(k.startswith("case id") for k in chains.broken)
    assert seals.problems == [] and seals.checked == 0


def test_a_seal_signed_by_another_key_is_refused(w, key):
    _history(w, 1)
    seal(w.engine, key)

    forged = seal(w.engine, Ed25519PrivateKey.generate(), previous_key=key)  # endorsed, but ...
    _, seals = _audit(w.engine, trusted={public_text(Ed25519PrivateKey.generate().public_key())})

    assert "no seal is signed by a trusted key" in seals.problems[-1]
    assert forged.number == 2


def test_a_seal_by_a_new_key_without_the_old_keys_endorsement_is_refused(w, key):
    _history(w, 1)
    seal(w.engine, key)
    stranger = Ed25519PrivateKey.generate()

    with pytest.raises(SetupError, match="signed by the old one too"):
        seal(w.engine, stranger)
    with tamper.guards_off(w.engine) as conn:  # written straight into the table instead
        from workflow.services.seals import canonical, digest, latest

        last = latest(conn)
        statement = {
            **last.statement,
            "seal": 2,
            "previous": digest(last.statement),
            "key": public_text(stranger.public_key()),
        }
        import base64

        conn.execute(
            seals_t.insert().values(
                number=2,
                statement=canonical(statement).decode(),
                signature=base64.b64encode(stranger.sign(canonical(statement))).decode(),
            )
        )
    _, seals = _audit(w.engine)

    assert seals.problems == [
        f"seal 2 ({statement['sealed_at'][:10]}): signed by a new key "
        f"that the previous key did not endorse ({statement['key']})"
    ]


def test_a_rotated_key_is_endorsed_and_verifies(w, key):
    _history(w, 1)
    seal(w.engine, key)
    new = Ed25519PrivateKey.generate()
    record_key(w.engine, new.public_key())

    seal(w.engine, new, previous_key=key)
    _history(w, 1)
    seal(w.engine, new)

    assert _audit(w.engine, trusted={public_text(new.public_key())})[1].problems == []
    assert _audit(w.engine, trusted={public_text(key.public_key())})[1].problems == []


def test_an_edited_seal_is_refused(w, key):
    _history(w, 1)
    made = seal(w.engine, key)

    tamper.edit_seal(w.engine, made.number, tree_size=3)
    _, seals = _audit(w.engine)

    assert f"{made.label}: its signature does not hold" in seals.problems[0]


def test_the_database_refuses_to_change_remove_or_replace_a_seal(w, key):
    made = seal(w.engine, key)

    for sql in ("UPDATE seals SET signature = 'x'", "DELETE FROM seals"):
        with pytest.raises(DatabaseError, match="append-only"):
            with w.engine.begin() as conn:
                conn.execute(text(sql))
    with reading(w.engine) as conn:
        assert conn.execute(select(func.count()).select_from(seals_t)).scalar() == 1
    assert made.number == 1


def test_sqlite_refuses_insert_or_replace_over_history_and_cases(db):
    from tests.builders import World

    w = World(db).cast()
    ref = w.bid()
    w.advance(ref, "submit")

    refused = [
        "INSERT OR REPLACE INTO history SELECT * FROM history WHERE seq = 1",
        "REPLACE INTO cases SELECT * FROM cases",
        "DELETE FROM cases",
    ]
    for sql in refused:
        with pytest.raises(DatabaseError, match="append-only|never deleted"):
            with db.begin() as conn:
                conn.execute(text(sql))

    with reading(db) as conn:
        assert verify_chains(conn).ok and verify_chains(conn).rows == _rows(w)


@pytest.mark.postgres
def test_postgres_refuses_to_delete_a_case(pg_db):
    from tests.builders import World

    ref = World(pg_db).cast().bid()

    for sql in ("DELETE FROM cases", "TRUNCATE cases CASCADE"):
        with pytest.raises(DatabaseError, match="never deleted"):
            with pg_db.begin() as conn:
                conn.execute(text(sql))
    assert ref


def test_copies_kept_elsewhere_show_a_rewrite_hidden_by_removing_the_newest_seal(w, key, tmp_path):
    from workflow.services.seals import write_copy

    _history(w, 1)
    first = seal(w.engine, key)
    later = _history(w, 1)[0]
    second = seal(w.engine, key)
    for made in (first, second):
        write_copy(made, tmp_path)

    tamper.rewrite_row(w.engine, later, 2)  # the second bid's rows, sealed only by seal 2 ...
    with tamper.guards_off(w.engine) as conn:  # ... which is then removed
        conn.execute(text("DELETE FROM seals WHERE number = 2"))
    alone = _audit(w.engine)[1]
    kept = _audit(w.engine, copies=tmp_path)[1]

    assert alone.problems == []  # the database alone no longer shows it
    assert kept.problems == [
        f"{second.label}: kept in {tmp_path} but missing from the database",
        f"{second.label}: rows {first.tree_size + 1}-{second.tree_size} no longer match" + CHANGED,
    ]
