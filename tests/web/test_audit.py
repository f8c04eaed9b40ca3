"""An auditor reads a case's history with each row's chain status, verifies, filters and exports."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlalchemy import text

from tests.web.site import bid_in_monitoring, open_return, text_of
from workflow.services import lifecycle


@pytest.fixture
def ref(site):
    return bid_in_monitoring(site.world)


def tamper(engine, ref: str, seq: int, reason: str) -> None:
    """What someone with the database file could do: lift the guard, change a row."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER history_no_update")
        conn.execute(
            text(
                "UPDATE history SET reason = :r WHERE seq = :s AND case_id = "
                "(SELECT id FROM cases WHERE ref = :ref)"
            ),
            {"r": reason, "s": seq, "ref": ref},
        )


def chain_cells(html: str) -> list[str]:
    words = text_of(html)
    return [
        w
        for w in ("✓ Intact", "✗ Does not match its hash", "✗ After a break")
        for _ in range(words.count(w))
    ]


def test_an_auditor_sees_every_row_and_that_the_chain_holds(site, ref):
    rows = lifecycle.case_history(site.engine, ref)

    page = site.as_("audrey").get(f"/audit/{ref}")

    words = text_of(page.text)
    assert page.status_code == 200
    assert f"The chain holds: all {len(rows)} rows match their hashes" in words
    assert words.count("✓ Intact") == len(rows)
    for row in rows:
        assert row["hash"][:12] in page.text


def test_an_altered_row_and_every_row_after_it_are_marked(site, ref):
    total = len(lifecycle.case_history(site.engine, ref))
    tamper(site.engine, ref, 3, "quietly changed")

    page = site.as_("audrey").get(f"/audit/{ref}")
    verified = site.as_("audrey").get("/audit/verify")

    words = text_of(page.text)
    assert "The chain is broken: row 3 does not match its hash" in words
    assert words.count("✓ Intact") == 2
    assert words.count("✗ Does not match its hash") == 1
    assert words.count("✗ After a break: cannot be trusted") == total - 3
    assert f"{ref} row 3 does not match its hash" in text_of(verified.text)
    assert "1 chain broken" in text_of(verified.text)


def test_verifying_every_chain_says_they_hold(site, ref):
    page = site.as_("carol").get("/audit/verify")
    rows = len(lifecycle.case_history(site.engine, ref))  # its due-diligence rows among them

    assert f"Every chain holds: 1 cases, {rows} rows checked" in text_of(page.text)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_export_downloads_every_row_as_the_command_line_writes_it(site, ref, fmt):
    expected = [{"case": ref, **row} for row in lifecycle.case_history(site.engine, ref)]

    download = site.as_("audrey").get(f"/audit/export?format={fmt}")

    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment; filename=")
    if fmt == "json":
        assert json.loads(download.text) == expected
    else:
        got = list(csv.DictReader(io.StringIO(download.text)))
        assert [r["hash"] for r in got] == [r["hash"] for r in expected]
        assert json.loads(got[0]["payload"]) == expected[0]["payload"]
        assert list(got[0]) == [
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


def test_an_export_in_an_unknown_format_is_refused(site, ref):
    refused = site.as_("audrey").get("/audit/export?format=xml")

    assert refused.status_code == 400
    assert "format: 'xml' is not csv or json" in text_of(refused.text)


def test_the_history_is_filtered_by_what_happened_chosen_by_its_words_not_typed_as_a_code(
    site, ref
):
    page = site.as_("audrey").get("/audit?trigger=offer").text

    assert '<select class="select" id="trigger" name="trigger">' in page
    assert '<option value="offer" selected>Offer the award</option>' in page
    assert (
        '<option value="submit">Submit the bid / Submit the expression of interest / Send' in page
    )
    assert "What happened (code)" not in page


def test_programme_history_filters_by_trigger_person_and_dates(site, ref):
    audrey = site.as_("audrey")

    offers = text_of(audrey.get("/audit?trigger=offer").text)
    by_april = text_of(audrey.get("/audit?actor=april").text)
    none_yet = text_of(audrey.get("/audit?since-day=1&since-month=1&since-year=2014").text)
    to_then = text_of(audrey.get("/audit?until-day=1&until-month=jan&until-year=2014").text)
    before_it = text_of(audrey.get("/audit?until-day=31&until-month=12&until-year=2012").text)

    assert "offer" in offers and "submit" not in offers.split("Filter")[-1]
    assert "april" in by_april
    assert "No history rows match." in none_yet
    assert "No history rows match." not in to_then and "offer" in to_then
    assert "No history rows match." in before_it


def test_an_old_link_with_iso_dates_still_filters_by_them(site, ref):
    audrey = site.as_("audrey")

    moved = audrey.get("/audit?since=2014-01-01&actor=april")
    none_yet = text_of(audrey.get(moved.headers["location"]).text)
    before_it = audrey.get("/audit?until=2012-12-31")
    to_then = text_of(audrey.get(audrey.get("/audit?until=2014-01-01").headers["location"]).text)

    assert moved.status_code == 302
    assert moved.headers["location"] == (
        "/audit?actor=april&since-day=01&since-month=01&since-year=2014"
    )
    assert "No history rows match." in none_yet
    assert 'id="since-year" name="since-year" type="text" inputmode="numeric" value="2014"' in (
        audrey.get(moved.headers["location"]).text
    )
    assert "No history rows match." in text_of(audrey.get(before_it.headers["location"]).text)
    assert "No history rows match." not in to_then and "offer" in to_then


def test_an_old_link_whose_date_is_not_one_is_said_not_ignored(site, ref):
    page = site.as_("audrey").get("/audit?since=last+week")

    assert page.status_code == 400
    assert (
        '<a href="#since-day">From date in this link (&#39;last week&#39;) is not a date: '
        "type it again</a>" in page.text
    )


def test_history_dates_not_dates_are_said_at_their_boxes_kept_as_typed(site, ref):
    malformed = site.as_("audrey").get(
        "/audit?since-day=yesterday&since-month=3&since-year=2014"
        "&until-day=30&until-month=2&until-year=2014&actor=april"
    )
    half = site.as_("audrey").get("/audit?since-day=&since-month=3&since-year=2014")

    assert malformed.status_code == 400
    # Each named as the form labels it ("From", "To"), in GOV.UK's words, at its boxes.
    assert '<a href="#since-day">From date must be a real date</a>' in malformed.text
    assert '<a href="#until-day">To date must be a real date</a>' in malformed.text
    assert re.findall(r'input--error" id="(\w+-\w+)"', malformed.text) == [
        "since-day",
        *("until-day", "until-month", "until-year"),
    ]
    assert 'id="since-day" name="since-day" type="text" inputmode="numeric" value="yesterday"' in (
        malformed.text
    )
    assert 'name="actor" type="text" value="april"' in malformed.text
    assert half.status_code == 400
    assert '<a href="#since-day">From date must include a day</a>' in half.text
    assert 'id="since-error"><span class="visually-hidden">Error:</span> From date must' in (
        half.text
    )


def test_rows_whose_case_was_deleted_are_named_without_a_link_to_a_case(site, ref):
    from tests.workflow import tamper as dba

    dba.delete_case(site.engine, ref)

    page = site.as_("audrey").get("/audit/verify")

    words = text_of(page.text)
    assert "history rows belong to no case" in words and "No case: its row is gone" in words
    assert 'href="/audit/case id' not in page.text


def test_the_verify_page_checks_the_seals_and_says_when_the_history_is_not_what_was_sealed(
    site, ref, tmp_path
):
    from tests.workflow import tamper as dba
    from workflow.services.seals import generate, record_key, seal

    before = text_of(site.as_("audrey").get("/audit/verify").text)
    key = generate(tmp_path / "audit.key")
    record_key(site.engine, key.public_key())
    made = seal(site.engine, key)
    sealed = text_of(site.as_("audrey").get("/audit/verify").text)
    dba.rewrite_row(site.engine, ref, 2)  # every hash after it recomputed: the chains hold
    after = text_of(site.as_("audrey").get("/audit/verify").text)

    assert "Nothing is sealed yet, so the chains alone hold the history" in before
    assert f"1 seal checked: history rows 1-{made.tree_size} are the rows sealed" in sealed
    assert "Every chain holds" in after
    assert "The seals do not hold: the history is not what was sealed." in after
    assert f"{made.label}: rows 1-{made.tree_size} no longer match what the seal signed" in after


def test_a_case_audit_page_names_the_rows_a_seal_no_longer_holds(site, ref, tmp_path):
    """A sealed row rewritten with every hash after it recomputed: the case's chain holds,
    so only the seal shows it. Each row is proved by its inclusion path to the newest seal's
    root, so the page names the rows that are not as sealed (the rewritten one and every
    one after it, whose hashes changed) and says the one before them is sealed. A case
    written after the seal is not among them."""
    from tests.workflow import tamper as dba
    from workflow.services.reads import case_history
    from workflow.services.seals import generate, record_key, seal

    key = generate(tmp_path / "audit.key")
    record_key(site.engine, key.public_key())
    made = seal(site.engine, key)
    later = bid_in_monitoring(site.world)  # after the seal: not sealed yet
    audrey = site.as_("audrey")
    sealed = text_of(audrey.get(f"/audit/{ref}").text)
    dba.rewrite_row(site.engine, ref, 2)  # every hash after it recomputed: the chain holds

    page = audrey.get(f"/audit/{ref}").text
    said = text_of(page)
    other = audrey.get(f"/audit/{later}").text
    rows = len(case_history(site.engine, ref))

    assert "no longer matches" not in sealed and "Not as sealed" not in sealed
    assert (
        f"Checked against the newest seal, {made.label}: it covers history rows "
        f"1-{made.tree_size} (counted in the order written, all cases together)"
    ) in sealed
    assert f"Rows 1-{rows} of this case are in it" in sealed
    assert "The chain holds" in said
    assert "Row 1 of this case is in it" in said
    assert (
        f"Rows 2-{rows} of this case are not as sealed: each matches its hash, but their "
        f"inclusion paths no longer lead to the root {made.label} signed"
    ) in said
    assert page.count("Not as sealed") == rows - 1
    assert "no longer matches" not in text_of(other) and "Not as sealed" not in other


def test_rows_written_after_the_newest_seal_are_said_not_sealed_yet(site, ref, tmp_path, moment):
    """No seal covers a row written after the newest seal, so no seal can say anything about
    it: the page says it is not sealed yet, and checks the case's sealed rows all the same.
    A case written wholly after the seal is only that (a sealed row rewritten elsewhere,
    which the seal shows on that case's page and on /audit/verify, is not this page's).
    Before any seal, every case says so."""
    from tests.workflow import tamper as dba
    from workflow.services.reads import case_history
    from workflow.services.seals import generate, record_key, seal

    nothing_sealed = text_of(site.as_("audrey").get(f"/audit/{ref}").text)
    key = generate(tmp_path / "audit.key")
    record_key(site.engine, key.public_key())
    made = seal(site.engine, key)
    sealed_rows = len(case_history(site.engine, ref))
    later = bid_in_monitoring(site.world)
    open_return(site.world, moment, ref)  # a row of the sealed case after the seal: still checked
    dba.rewrite_row(site.engine, ref, 2)  # every hash after it recomputed: only the seal shows it
    audrey = site.as_("audrey")  # signed in after the clock moved

    sealed_case = audrey.get(f"/audit/{ref}").text
    said = text_of(audrey.get(f"/audit/{later}").text)
    rows = len(case_history(site.engine, later))

    assert "not sealed yet: no seal has been made" in nothing_sealed
    assert len(case_history(site.engine, ref)) > sealed_rows
    total = len(case_history(site.engine, ref))
    assert sealed_case.count("Not as sealed") == sealed_rows - 1  # row 1 is as sealed
    assert sealed_case.count("Not yet sealed") == total - sealed_rows == 1
    assert (
        f"Row {total} of this case is not sealed yet: it was written after the newest seal, "
        f"{made.label}"
    ) in text_of(sealed_case)
    assert (
        f"This case's {rows} rows are not sealed yet: they were written after the newest "
        f"seal, {made.label}, which covers history rows 1-{made.tree_size}"
    ) in said
    assert "The chain holds" in said
    assert "no longer matches" not in said and "Not as sealed" not in said
    assert "The seals have problems of their own" not in said


def test_a_row_sharing_its_block_with_a_changed_row_of_another_case_is_said_so_plainly(
    site, ref, tmp_path, monkeypatch
):
    """Beyond the last few rows the seal keeps only each block's root, so a row elsewhere
    changed fails the proofs of this case's rows in its block: the page names those rows and
    the stretch, and says the seal cannot tell which row of it changed."""
    from tests.workflow import tamper as dba
    from workflow.services import seals
    from workflow.services.reads import case_history

    monkeypatch.setattr(seals, "BLOCK_HEIGHT", 2)  # blocks of 4 rows
    other = bid_in_monitoring(site.world)
    key = seals.generate(tmp_path / "audit.key")
    seals.record_key(site.engine, key.public_key())
    made = seals.seal(site.engine, key)
    with site.engine.connect() as conn:
        ids = list(conn.execute(text("SELECT id FROM history ORDER BY id")).scalars())
        mine = list(
            conn.execute(
                text(
                    "SELECT h.id FROM history h JOIN cases c ON c.id = h.case_id "
                    "WHERE c.ref = :r ORDER BY h.seq"
                ),
                {"r": ref},
            ).scalars()
        )
    dba.rewrite_row(site.engine, other, 1)  # the other case's first row, and all after it
    block = ids.index(mine[-1]) >> 2
    shared = [n + 1 for n, i in enumerate(mine) if ids.index(i) >> 2 == block]

    page = site.as_("audrey").get(f"/audit/{ref}").text
    said = text_of(page)

    rows = len(case_history(site.engine, ref))
    # The other case's first row (changed) follows this case's last in the same block.
    assert ids.index(min(i for i in ids if i not in mine)) >> 2 == block
    assert page.count("Not as sealed") == len(shared)
    assert (
        f"of this case {'is' if len(shared) == 1 else 'are'} not as sealed: "
        f"{'its inclusion path' if len(shared) == 1 else 'their inclusion paths'} no longer "
        f"{'leads' if len(shared) == 1 else 'lead'} to the root {made.label} signed"
    ) in said
    assert f"another row among history rows {(block << 2) + 1}-{(block + 1) << 2}" in said
    assert f"Rows 1-{rows - len(shared)} of this case are in it" in said
