"""Prepared statements store and read exactly what SQLAlchemy itself would."""

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, literal, select, update
from sqlalchemy.exc import IntegrityError

from workflow.storage.tables import cases, checkpoints, history, people
from workflow.storage.prepared import Prepared
from tests.workflow.monitoring_world import bid_in_monitoring

CASE_BY_REF = Prepared(select(cases).where(cases.c.ref == bindparam("ref")))
CHECKPOINT_BY_REF = Prepared(select(checkpoints).where(checkpoints.c.ref == bindparam("ref")))


@pytest.fixture
def w(any_world):
    return any_world.cast()


def test_a_case_read_through_the_driver_equals_the_one_sqlalchemy_reads(w):
    ref = w.bid()
    w.advance(ref, "submit")
    with w.engine.connect() as conn:
        ours = CASE_BY_REF.first(conn, {"ref": ref})
        theirs = conn.execute(CASE_BY_REF.stmt, {"ref": ref}).one()
    assert tuple(ours) == tuple(theirs)
    assert ours._mapping == dict(theirs._mapping)
    assert ours.created_at.tzinfo is not None and ours.application == theirs.application


def test_an_unknown_row_reads_as_none(w):
    with w.engine.connect() as conn:
        assert CASE_BY_REF.first(conn, {"ref": "TCA-2013-9999"}) is None
        assert CASE_BY_REF.all(conn, {"ref": "TCA-2013-9999"}) == []


def test_a_checkpoint_read_through_the_driver_equals_the_one_sqlalchemy_reads(any_world):
    ref = bid_in_monitoring(any_world, datetime(2013, 7, 1, 9, tzinfo=timezone.utc))
    with any_world.engine.connect() as conn:
        cp = (
            conn.execute(
                select(checkpoints.c.ref)
                .where(checkpoints.c.ref.like(f"{ref}/%"))
                .order_by(checkpoints.c.n)
            )
            .scalars()
            .first()
        )
        ours = CHECKPOINT_BY_REF.first(conn, {"ref": cp})
        theirs = conn.execute(CHECKPOINT_BY_REF.stmt, {"ref": cp}).one()
    assert tuple(ours) == tuple(theirs)
    assert isinstance(ours.due, date) and isinstance(ours.steps_done, list)


def test_a_version_checked_update_touches_one_row_then_none(w):
    ref = w.bid()
    move = Prepared(
        update(cases)
        .where(cases.c.ref == bindparam("_ref"), cases.c.version == bindparam("_v"))
        .values(version=bindparam("_v") + 1, updated_at=bindparam("at"))
    )
    at = datetime(2013, 6, 3, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    with w.engine.begin() as conn:
        assert move.rowcount(conn, {"_ref": ref, "_v": 1, "at": at}) == 1
        assert move.rowcount(conn, {"_ref": ref, "_v": 1, "at": at}) == 0
    with w.engine.connect() as conn:
        row = conn.execute(
            select(cases.c.version, cases.c.updated_at).where(cases.c.ref == ref)
        ).one()
    assert row.version == 2
    assert row.updated_at == at and row.updated_at.utcoffset() == timedelta(0)


def test_values_written_into_the_statement_and_in_lists_of_literals_are_bound(w):
    ref = w.bid()
    flag = Prepared(update(cases).where(cases.c.ref == bindparam("ref")).values(at_risk=True))
    among = Prepared(
        select(cases.c.ref).where(
            cases.c.ref == bindparam("ref"), cases.c.state.in_([literal("draft"), literal("x")])
        )
    )
    with w.engine.begin() as conn:
        assert flag.rowcount(conn, {"ref": ref}) == 1
        assert among.scalar(conn, {"ref": ref}) == ref
    with w.engine.connect() as conn:
        assert conn.execute(select(cases.c.at_risk).where(cases.c.ref == ref)).scalar() is True


def test_an_in_list_parameter_is_refused_when_the_statement_is_first_run(w):
    stmt = Prepared(
        select(people.c.name).where(people.c.name.in_(bindparam("names", expanding=True)))
    )
    with w.engine.connect() as conn, pytest.raises(ValueError, match="IN list"):
        stmt.all(conn, {"names": ["carol"]})


def test_a_database_refusal_is_raised_as_sqlalchemy_raises_it(w):
    ref = w.bid()
    duplicate = Prepared(
        history.insert().values(
            {
                c: bindparam(c)
                for c in (
                    "case_id",
                    "seq",
                    "to_state",
                    "trigger",
                    "actor",
                    "role",
                    "at",
                    "payload",
                    "prev_hash",
                    "hash",
                )
            }
        )
    )
    with w.engine.connect() as conn:
        case_id = conn.execute(select(cases.c.id).where(cases.c.ref == ref)).scalar()
    with pytest.raises(IntegrityError):
        with w.engine.begin() as conn:
            duplicate.rowcount(
                conn,
                {
                    "case_id": case_id,
                    "seq": 1,
                    "to_state": "draft",
                    "trigger": "create",
                    "actor": "carol",
                    "role": "caseworker",
                    "at": datetime.now(timezone.utc),
                    "payload": {},
                    "prev_hash": "0" * 64,
                    "hash": "f" * 64,
                },
            )


def test_on_sqlite_a_time_and_a_day_are_stored_as_the_same_text_sqlalchemy_writes(world):
    world.cast()
    first, second = world.bid(), world.bid()
    at = datetime(2014, 3, 30, 1, 59, 59, 123456, tzinfo=timezone(timedelta(hours=-5)))
    stamp = update(cases).where(cases.c.ref == bindparam("_ref")).values(updated_at=bindparam("at"))
    with world.engine.begin() as conn:
        Prepared(stamp).rowcount(conn, {"_ref": first, "at": at})
        conn.execute(stamp, {"_ref": second, "at": at})
        stored = (
            conn.exec_driver_sql(
                "SELECT updated_at FROM cases WHERE ref IN (?, ?)", (first, second)
            )
            .scalars()
            .all()
        )
    assert stored[0] == stored[1] == "2014-03-30 06:59:59.123456"
    day = Prepared(select(literal(date(2014, 4, 4))))
    with world.engine.connect() as conn:
        assert day.scalar(conn) == date(2014, 4, 4)


def test_a_time_without_a_zone_is_refused(world):
    world.cast()
    ref = world.bid()
    stamp = Prepared(
        update(cases).where(cases.c.ref == bindparam("_ref")).values(updated_at=bindparam("at"))
    )
    with world.engine.begin() as conn, pytest.raises(ValueError, match="naive"):
        stamp.rowcount(conn, {"_ref": ref, "at": datetime(2014, 4, 4, 9)})
