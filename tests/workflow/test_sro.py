"""The senior responsible owner (DESIGN section 9) and programme files in the admin log."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from tests.workflow.awarding import load_programme, offer, recommended, small_programme
from workflow.errors import PersonNotFound, RuleViolation
from workflow.runtime.status import status
from workflow.services import admin_log, sro
from workflow.services import programme_files as store
from workflow.services.admin_log import Admin
from workflow.storage.tables import admin_log as admin_log_t, programmes

AT = datetime(2013, 6, 3, 10, tzinfo=timezone.utc)
BY = Admin("root", "operator")


def log_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(admin_log_t)).scalar_one()


def appoint(engine, code: str, name: str) -> dict:
    with engine.begin() as conn:
        return sro.appoint(conn, code, name, BY, at=AT)


def test_the_bundled_programmes_name_no_sro_and_say_so(any_world):
    with any_world.engine.connect() as conn:
        assert sro.sro_of(conn, "tca-2013") is None
        assert sro.without_sro(conn) == ["pstn-2013", "tca-2013"]
        with pytest.raises(RuleViolation) as refused:
            sro.require_sro(conn, "tca-2013", "a high fraud risk cannot be countersigned")
    assert str(refused.value) == (
        "Programme tca-2013 has no senior responsible owner, so a high fraud risk cannot be "
        "countersigned: an admin names one (a person with role approver) on the Programmes "
        "page of the admin area, or with `casework programme sro tca-2013 NAME`."
    )
    assert status(any_world.engine)["programmes_without_sro"] == ["pstn-2013", "tca-2013"]


def test_an_approver_is_named_in_one_row_of_the_admin_log(any_world):
    any_world.cast()
    before = log_rows(any_world.engine)

    found = appoint(any_world.engine, "tca-2013", "april")

    assert found["changed"] is True
    with any_world.engine.connect() as conn:
        assert sro.sro_of(conn, "tca-2013") == "april"
        assert sro.require_sro(conn, "tca-2013", "x").name == "april"
        rows = admin_log.rows(conn, action="programme_sro")
        assert admin_log.verify(conn).problems == []
    assert log_rows(any_world.engine) == before + 1
    assert rows[-1]["target"] == "tca-2013"
    assert rows[-1]["before"] == {"sro": None} and rows[-1]["after"] == {"sro": "april"}
    assert rows[-1]["actor"] == "root" and rows[-1]["role"] == "operator"
    assert status(any_world.engine)["programmes_without_sro"] == ["pstn-2013"]

    appoint(any_world.engine, "tca-2013", "aaron")
    with any_world.engine.connect() as conn:
        last = admin_log.rows(conn)[-1]
    assert (last["before"], last["after"]) == ({"sro": "april"}, {"sro": "aaron"})
    assert appoint(any_world.engine, "tca-2013", "aaron")["changed"] is False  # no row
    assert log_rows(any_world.engine) == before + 2


@pytest.mark.parametrize(
    "name, why",
    [
        (
            "carol",
            "carol cannot be the senior responsible owner of tca-2013: the senior "
            "responsible owner must be a person with role approver, and carol is caseworker.",
        ),
        (
            "audrey",
            "audrey cannot be the senior responsible owner of tca-2013: the senior "
            "responsible owner must be a person with role approver, and audrey is auditor.",
        ),
    ],
)
def test_someone_who_is_not_an_approver_is_refused_and_nothing_is_written(world, name, why):
    world.cast()
    before = log_rows(world.engine)

    with pytest.raises(RuleViolation) as refused:
        appoint(world.engine, "tca-2013", name)

    assert str(refused.value) == why
    assert log_rows(world.engine) == before
    with world.engine.connect() as conn:
        assert sro.sro_of(conn, "tca-2013") is None


def test_an_unknown_person_is_refused(world):
    world.cast()
    with pytest.raises(PersonNotFound):
        appoint(world.engine, "tca-2013", "nobody")


def test_a_programme_file_names_its_sro_and_a_non_approver_is_refused(world):
    world.cast()
    text = small_programme("tca-2099").replace(
        'fund = "1000000"', 'fund = "1000000"\nsro = "april"'
    )
    load_programme(world, text)
    with world.engine.connect() as conn:
        assert sro.sro_of(conn, "tca-2099") == "april"

    before = log_rows(world.engine)
    bad = text.replace('sro = "april"', 'sro = "carol"')
    with pytest.raises(RuleViolation, match="carol cannot be the senior responsible owner"):
        load_programme(world, bad)
    assert log_rows(world.engine) == before

    # A file that names none keeps the programme's SRO.
    load_programme(world, text.replace('sro = "april"\n', "").replace('"1000000"', '"1200000"'))
    with world.engine.connect() as conn:
        assert sro.sro_of(conn, "tca-2099") == "april"


def test_the_admin_log_says_the_sro_a_file_replaced_not_only_the_files_own_line(world):
    """An admin named aaron; a file then names april: the row says aaron was the SRO before
    (the earlier file named none), and a file naming none again keeps april, said so."""
    world.cast()
    text = small_programme("tca-2099")
    load_programme(world, text)
    appoint(world.engine, "tca-2099", "aaron")

    load_programme(world, text.replace('fund = "1000000"', 'fund = "1000000"\nsro = "april"'))
    load_programme(world, text)

    with world.engine.connect() as conn:
        named, kept = admin_log.rows(conn, action="programme_load", target="tca-2099")[-2:]
    assert admin_log.side_text(named["before"]) == (
        "senior responsible owner aaron (the file names none)"
    )
    assert admin_log.side_text(named["after"]) == "senior responsible owner april"
    assert admin_log.side_text(kept["before"]) == "senior responsible owner april"
    assert admin_log.side_text(kept["after"]) == (
        "senior responsible owner april (the file names none)"
    )


def test_a_changed_file_is_one_row_with_the_values_before_and_after(any_world):
    any_world.cast()
    text = small_programme("tca-2099")
    load_programme(any_world, text)
    before = log_rows(any_world.engine)

    with any_world.engine.begin() as conn:
        same = store.apply_file(conn, text, "test.toml", by=BY, at=AT)
    assert same["changed"] is False and log_rows(any_world.engine) == before

    changed = text.replace('fund = "1000000"', 'fund = "2000000"').replace(
        'max = "500000"', 'max = "400000"'
    )
    with any_world.engine.begin() as conn:
        found = store.apply_file(conn, changed, "test.toml", by=BY, at=AT)
        row = admin_log.rows(conn)[-1]
    assert found["changed"] is True and log_rows(any_world.engine) == before + 1
    assert row["action"] == "programme_load" and row["target"] == "tca-2099"
    assert row["before"]["values"] == {
        "fund": "1000000",
        "categories.shared_arrangement.max": "500000",
    }
    assert row["after"]["values"] == {
        "fund": "2000000",
        "categories.shared_arrangement.max": "400000",
    }
    assert row["before"]["sha256"] != row["after"]["sha256"]


def test_a_file_that_would_break_the_rules_for_submitted_cases_is_refused_naming_them(world):
    world.cast()
    text = small_programme("tca-2099", fund="1000000")
    code = load_programme(world, text)
    from tests.workflow import awarding

    first = recommended(world, programme=code, amount="300000")
    offer(world, first)
    second = awarding.under_assessment(world, programme=code, amount="200000")
    before = log_rows(world.engine)
    with world.engine.connect() as conn:
        source = conn.execute(
            select(programmes.c.source).where(programmes.c.code == code)
        ).scalar_one()

    lower_band = text.replace('max = "500000"', 'max = "250000"')
    with pytest.raises(RuleViolation) as refused:
        load_programme(world, lower_band)
    assert f"{first}: asks for £300,000, above the new band's £250,000" in str(refused.value)
    assert second not in str(refused.value)

    small_fund = text.replace('fund = "1000000"', 'fund = "100000"')
    with pytest.raises(RuleViolation) as refused:
        load_programme(world, small_fund)
    assert (
        f"fund: £100,000 is below the £300,000 that offers already commit ({first} (£300,000))"
    ) in str(refused.value)

    with world.engine.connect() as conn:
        assert (
            conn.execute(select(programmes.c.source).where(programmes.c.code == code)).scalar_one()
            == source
        )
    assert log_rows(world.engine) == before


def test_a_file_allowing_fewer_offers_than_stand_is_refused_naming_them(world):
    world.cast()
    text = small_programme("tca-2099", fund="1000000", max_count=5)
    code = load_programme(world, text)
    refs = [recommended(world, programme=code, amount="200000") for _ in range(2)]
    for ref in refs:
        offer(world, ref)
    before = log_rows(world.engine)

    with pytest.raises(RuleViolation) as refused:
        load_programme(world, text.replace("max_count = 5", "max_count = 1"))

    assert f"Shared arrangement would allow 1 offers, and 2 stand ({', '.join(refs)})" in str(
        refused.value
    )
    assert log_rows(world.engine) == before
    load_programme(world, text.replace("max_count = 5", "max_count = 2"))
    assert log_rows(world.engine) == before + 1
