"""The audit history is append-only, chained, and checked."""

from datetime import timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from workflow.services import lifecycle
from workflow.services.chain import stream, verify


@pytest.fixture
def w(any_world):
    return any_world.cast()


def _bid_with_history(w):
    ref = w.bid()
    w.advance(ref, "submit", "check", "start_assessment")
    return ref


def test_the_database_refuses_to_change_or_remove_a_history_row(w):
    _bid_with_history(w)

    for sql in (
        "UPDATE history SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM history WHERE seq = 2",
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            with w.engine.begin() as conn:
                conn.execute(text(sql))

    with w.engine.connect() as conn:
        assert verify(conn).ok


def _tamper(engine, sql):
    """Alter history the way an attacker with the database file could: guards off."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE history DISABLE TRIGGER USER"))
            conn.execute(text(sql))
            conn.execute(text("ALTER TABLE history ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER history_no_update"))
            conn.execute(text("DROP TRIGGER history_no_delete"))
            conn.execute(text(sql))


@pytest.mark.parametrize(
    "sql,problem",
    [
        ("UPDATE history SET actor = 'mallory' WHERE seq = 3", "row 3 does not match its hash"),
        ("DELETE FROM history WHERE seq = 2", "row 2 is missing"),
        ("DELETE FROM history WHERE seq = 4", "row 4 is missing"),
    ],
)
def test_a_row_altered_behind_the_databases_back_is_found(w, sql, problem):
    ref = _bid_with_history(w)
    intact = w.bid()

    _tamper(
        w.engine,
        sql.replace("WHERE", f"WHERE case_id = (SELECT id FROM cases WHERE ref = '{ref}') AND"),
    )

    with w.engine.connect() as conn:
        result = verify(conn)
    assert result.broken == {ref: problem}
    assert intact not in result.broken
    assert result.summary() == "2 cases, {} rows checked, 1 broken".format(result.rows)


def test_export_streams_every_row_with_its_case(w):
    ref = _bid_with_history(w)
    other = w.bid()

    with w.engine.connect() as conn:
        rows = list(stream(conn))
        last = lifecycle.load_case(conn, ref).last_seq
    assert last > 4  # its due-diligence rows among them
    assert [(r["case"], r["seq"]) for r in rows] == [
        *[(ref, n) for n in range(1, last + 1)],
        (other, 1),
    ]
    assert rows[0]["at"].endswith("+00:00")
    assert rows[1]["prev_hash"] == rows[0]["hash"]


def test_history_times_come_from_the_one_clock(w):
    from freezegun import freeze_time

    with freeze_time("2013-03-22 10:30:00"):
        ref = w.bid()
    assert lifecycle.case_history(w.engine, ref)[0]["at"] == "2013-03-22T10:30:00+00:00"


_texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_texts, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    ref=_texts,
    seq=st.integers(1, 10**9),
    prev=_texts,
    actor=_texts,
    role=_texts,
    to_state=_texts,
    trigger=_texts,
    checkpoint=st.none() | _texts,
    from_state=st.none() | _texts,
    reason=st.none() | _texts,
    payload=st.dictionaries(_texts, _json, max_size=4),
    at=st.datetimes(timezones=st.just(timezone.utc)),
)
def test_the_canonical_text_of_a_row_is_exactly_its_sorted_compact_json(
    ref, seq, prev, actor, role, to_state, trigger, checkpoint, from_state, reason, payload, at
):
    import json

    from workflow.services.chain import Entry, canonical, moment

    e = Entry(
        to_state=to_state,
        trigger=trigger,
        actor=actor,
        role=role,
        at=at,
        from_state=from_state,
        checkpoint=checkpoint,
        reason=reason,
        payload=payload,
    )
    body = {
        "case": ref,
        "seq": seq,
        "checkpoint": checkpoint,
        "from_state": from_state,
        "to_state": to_state,
        "trigger": trigger,
        "actor": actor,
        "role": role,
        "reason": reason,
        "at": moment(at),
        "payload": payload,
        "prev_hash": prev,
    }

    assert canonical(ref, seq, prev, e) == json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
