"""`audit verify` reads the history from the driver (sqlite3, psycopg), not through
SQLAlchemy's rows: it must judge every row exactly as the rows SQLAlchemy reads do
(`first_fault` over `rows_for`, what verify did before), on both databases, for
every form a stored value can take."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from tests.workflow.tamper import case_id, guards_off
from workflow.services import chain
from workflow.services.chain import first_fault, rows_for, seal, verify
from workflow.storage.tables import cases


@pytest.fixture
def w(any_world):
    return any_world.cast()


def _reference(conn) -> dict[str, str]:
    """Every case's verdict from SQLAlchemy's rows, one case at a time."""
    broken = {}
    for h in conn.execute(
        select(cases.c.id, cases.c.ref, cases.c.last_seq, cases.c.last_hash).order_by(cases.c.id)
    ):
        fault = first_fault(h.ref, rows_for(conn, h.id), h.last_hash, h.last_seq)
        if fault:
            broken[h.ref] = fault
    return broken


def _rows(engine, ref: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM history WHERE case_id = :c"), {"c": case_id(conn, ref)}
        ).scalar_one()


def _append(engine, ref: str, stored: dict, *, hash_: str | None = None) -> None:
    """A row written as an administrator could (values in whatever form the column takes),
    hashed from what SQLAlchemy reads back, so the chain holds by SQLAlchemy's reading."""
    pg = engine.dialect.name == "postgresql"
    with guards_off(engine) as conn:
        cid = case_id(conn, ref)
        seq, prev = conn.execute(
            text("SELECT last_seq, last_hash FROM cases WHERE id = :c"), {"c": cid}
        ).one()
        row = {
            "case_id": cid,
            "seq": seq + 1,
            "checkpoint": None,
            "from_state": None,
            "to_state": "submitted",
            "trigger": "note",
            "actor": "carol",
            "role": "caseworker",
            "reason": None,
            "payment": None,
            "prev_hash": prev,
            "hash": "0" * 64,
            **stored,
        }
        at = "CAST(:at AS timestamptz)" if pg else ":at"
        payload = "CAST(:payload AS json)" if pg else ":payload"
        names = [n for n in row if n not in ("at", "payload")]
        conn.execute(
            text(
                f"INSERT INTO history ({', '.join(names)}, at, payload) "
                f"VALUES ({', '.join(':' + n for n in names)}, {at}, {payload})"
            ),
            row,
        )
        back = rows_for(conn, cid)[-1]
        digest = hash_ or seal(ref, back.seq, back.prev_hash, back)
        conn.execute(
            text("UPDATE history SET hash = :h WHERE id = :i"), {"h": digest, "i": back.id}
        )
        conn.execute(
            text("UPDATE cases SET last_seq = :s, last_hash = :h WHERE id = :c"),
            {"s": back.seq, "h": digest, "c": cid},
        )


# (at, payload, other columns) as they may sit in the database.
STORED = [
    ("2014-01-06 09:01:00.000000", '{"n": 1}', {}),
    ("2014-01-06 09:01:00.123456", '{"b": {"z": 1, "a": [1.5, 1e300, -0.0, null, true]}}', {}),
    ("2014-01-06T09:01:00+00:00", "{}", {"checkpoint": "R1", "payment": "P2"}),
    ("2014-01-06T10:01:00.5+01:00", "[]", {"from_state": "draft", "reason": "tab\tnew\nline"}),
    ("2014-01-06 09:01", "null", {"reason": 'quote " back \\ slash é 漢 \U0001f600'}),
    ("2014-01-06T09:01:00.000001+05:30", '"text"', {"actor": "Zoë", "role": "approver"}),
    ("2014-06-30 23:59:59.999999", "[12345678901234567890123, -1]", {}),
    (
        "2014-01-06 09:01:00",
        '{"f": 1E5, "g": 0.1, "h": 1.0, "u": "\\u00e9\\ud83d\\ude00\\u0001"}',
        {},
    ),
    ("2014-01-06 09:01:00", '{"é": "raw é", "a": "\\u2028\\u202e", "k": {"b": 2, "a": 1}}', {}),
]


@pytest.mark.parametrize("at,payload,columns", STORED)
def test_a_stored_value_is_read_as_sqlalchemy_reads_it(w, at, payload, columns):
    ref = w.bid()
    w.advance(ref, "submit")
    _append(w.engine, ref, {"at": at, "payload": payload, **columns})
    _append(w.engine, ref, {"at": at, "payload": payload, **columns})  # and the row after it

    with w.engine.connect() as conn:
        assert _reference(conn) == {}
        result = verify(conn)
    assert result.ok, result.broken
    assert result.rows == _rows(w.engine, ref) and result.cases == 1


def test_every_fault_is_named_as_sqlalchemys_rows_name_it(w):
    refs = [w.bid() for _ in range(6)]
    for ref in refs:
        w.advance(ref, "submit")
        _append(
            w.engine,
            ref,
            {"at": "2014-01-06T10:01:00+01:00", "payload": '{"b": 1, "a": [2]}', "reason": "é"},
        )
        _append(w.engine, ref, {"at": "2014-01-06 09:02:00.000000", "payload": "{}"})
    altered, missing, unlinked, headless, short, _intact = refs
    n = _rows(w.engine, altered)  # each case's last two rows are n - 1 and n
    with guards_off(w.engine) as conn:
        conn.execute(
            text(
                'UPDATE history SET payload = \'{"b": 1, "a": [3]}\' '
                "WHERE case_id = :c AND seq = :s"
            ),
            {"c": case_id(conn, altered), "s": n - 1},
        )
        conn.execute(
            text("DELETE FROM history WHERE case_id = :c AND seq = 2"),
            {"c": case_id(conn, missing)},
        )
        conn.execute(
            text("UPDATE history SET prev_hash = :p WHERE case_id = :c AND seq = :s"),
            {"p": "1" * 64, "c": case_id(conn, unlinked), "s": n},
        )
        conn.execute(
            text("UPDATE cases SET last_hash = :h WHERE id = :c"),
            {"h": "2" * 64, "c": case_id(conn, headless)},
        )
        conn.execute(
            text("UPDATE cases SET last_seq = :s WHERE id = :c"),
            {"s": n + 1, "c": case_id(conn, short)},
        )

    with w.engine.connect() as conn:
        expected = _reference(conn)
        result = verify(conn)
        one = verify(conn, case_id=case_id(conn, altered))
    assert expected == {
        altered: f"row {n - 1} does not match its hash",
        missing: "row 2 is missing",
        unlinked: f"row {n} does not follow row {n - 1}",
        headless: f"row {n} is not where the case says its history ends",
        short: f"row {n + 1} is missing",
    }
    assert result.broken == expected
    assert list(result.broken) == list(expected)  # in the cases' order, as printed
    assert result.rows == n * 6 - 1 and result.cases == 6
    assert one.broken == {altered: f"row {n - 1} does not match its hash"} and one.rows == n


def test_payloads_met_again_are_not_decoded_again_but_judged_the_same(w, monkeypatch):
    ref = w.bid()
    w.advance(ref, "submit")
    for _ in range(3):
        _append(w.engine, ref, {"at": "2014-01-06 09:01:00.000000", "payload": '{"n": 1}'})
    n = _rows(w.engine, ref)
    with guards_off(w.engine) as conn:  # the last row's payload changed after it was hashed
        conn.execute(
            text("UPDATE history SET payload = '{\"n\": 2}' WHERE case_id = :c AND seq = :s"),
            {"c": case_id(conn, ref), "s": n},
        )
    decoded, loads = [], json.loads
    monkeypatch.setattr(chain.json, "loads", lambda raw: decoded.append(raw) or loads(raw))

    with w.engine.connect() as conn:
        result = verify(conn)
    assert result.broken == {ref: f"row {n} does not match its hash"}
    assert decoded.count('{"n": 1}') == 1 and '{"n": 2}' in decoded


def test_a_value_no_row_is_written_with_is_named_not_a_crash(w):
    """SQLite keeps a payload that looks like a number as a number (the column's affinity),
    and takes any text as a time: SQLAlchemy's rows cannot even be read then."""
    ref, other = w.bid(), w.bid()
    n = _rows(w.engine, ref)
    with guards_off(w.engine) as conn:
        conn.execute(
            text("UPDATE history SET payload = '12345' WHERE case_id = :c AND seq = 1"),
            {"c": case_id(conn, ref)},
        )
        if w.engine.dialect.name == "sqlite":
            conn.execute(
                text("UPDATE history SET at = 'yesterday' WHERE case_id = :c AND seq = :s"),
                {"c": case_id(conn, other), "s": n},
            )

    with w.engine.connect() as conn:
        result = verify(conn)
    assert result.broken[ref] == "row 1 does not match its hash"
    if w.engine.dialect.name == "sqlite":
        assert result.broken[other] == f"row {n} does not match its hash"
