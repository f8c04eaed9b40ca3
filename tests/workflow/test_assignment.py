"""Handing a case to another caseworker: recorded, told by email, refused cleanly."""

import threading

import pytest
from sqlalchemy import select

from workflow.services import assignment, lifecycle
from workflow.errors import (
    CaseNotFound,
    ConflictError,
    PermissionDenied,
    PersonNotFound,
    RuleViolation,
)
from workflow.services.chain import verify
from workflow.storage.tables import outbox


@pytest.fixture
def w(world):
    world.cast()
    world.person("cath", "caseworker")
    return world


def _chain_is_whole(w):
    with w.engine.connect() as conn:
        assert verify(conn).ok


def _caseworker(w, ref):
    return lifecycle.show(w.engine, ref)["caseworker"]


def _messages(w, kind):
    with w.engine.connect() as conn:
        return conn.execute(
            select(outbox.c.kind, outbox.c.to_addrs, outbox.c.subject, outbox.c.body_text).where(
                outbox.c.kind == kind
            )
        ).all()


def test_a_caseworker_hands_a_case_on_and_the_history_says_who_to_whom(w):
    ref = w.bid(by="carol")
    w.advance(ref, "submit")

    done = assignment.assign(w.engine, ref, "cath", "carol", reason="Carol is on leave in May.")

    assert (done["caseworker"], done["state"], done["version"]) == ("cath", "submitted", 3)
    row = lifecycle.case_history(w.engine, ref)[-1]
    assert (row["trigger"], row["from_state"], row["to_state"]) == (
        "assign",
        "submitted",
        "submitted",
    )
    assert (row["actor"], row["role"], row["reason"]) == (
        "carol",
        "caseworker",
        "Carol is on leave in May.",
    )
    assert row["payload"] == {"caseworker": "cath", "previous": "carol"}
    _chain_is_whole(w)


def test_the_new_caseworker_is_told_by_email_and_gets_the_case_emails_from_then_on(w):
    ref = w.bid(by="carol")
    w.advance(ref, "submit")
    assignment.assign(w.engine, ref, "cath", "carol", reason="Carol is on leave in May.")

    [told] = _messages(w, "case.assigned")
    assert told.to_addrs == ["cath@casework.example.gov.uk"]
    assert told.subject.startswith(f"{ref} is now yours")
    assert "Carol is on leave in May." in told.body_text

    w.advance(ref, "declare_ineligible", by="cath", reason="Not one of the ESG councils.")
    [notice] = _messages(w, "bid.ineligible")
    with w.engine.connect() as conn:
        cc = conn.execute(
            select(outbox.c.cc_addrs).where(outbox.c.kind == "bid.ineligible")
        ).scalar()
    assert cc == ["cath@casework.example.gov.uk"]


def test_a_case_a_council_opened_can_be_given_a_caseworker_before_anyone_acts(w):
    ref = w.bid(by="cllr")
    assert _caseworker(w, ref) is None

    assignment.assign(w.engine, ref, "cath", "carol")

    assert _caseworker(w, ref) == "cath"
    assert lifecycle.case_history(w.engine, ref)[-1]["payload"] == {
        "caseworker": "cath",
        "previous": None,
    }


@pytest.mark.parametrize(
    "to, by, error, says",
    [
        ("cath", "ash", PermissionDenied, "only a caseworker may"),
        ("cath", "cllr", PermissionDenied, "only a caseworker may"),
        ("cath", "audrey", PermissionDenied, "only a caseworker may"),
        ("ash", "carol", RuleViolation, "ash is not a caseworker"),
        ("carol", "carol", RuleViolation, "already assigned to carol"),
        ("nobody", "carol", PersonNotFound, "nobody"),
        ("cath", "nobody", PersonNotFound, "nobody"),
    ],
)
def test_a_refused_hand_over_says_why_and_changes_nothing(w, to, by, error, says):
    ref = w.bid(by="carol")
    before = (w.snapshot(), _caseworker(w, ref))

    with pytest.raises(error, match=says):
        assignment.assign(w.engine, ref, to, by)

    assert (w.snapshot(), _caseworker(w, ref)) == before


def test_a_finished_case_keeps_its_caseworker(w):
    ref = w.bid(by="carol")
    w.advance(ref, "withdraw", reason="The councils have merged the service already.")
    before = w.snapshot()

    with pytest.raises(RuleViolation, match="withdrawn: a finished case keeps"):
        assignment.assign(w.engine, ref, "cath", "carol")

    assert w.snapshot() == before


def test_an_unknown_case_is_named(w):
    with pytest.raises(CaseNotFound, match="TCA-2013-0099"):
        assignment.assign(w.engine, "TCA-2013-0099", "cath", "carol")


def test_a_hand_over_from_a_stale_page_is_a_conflict(w):
    ref = w.bid(by="carol")
    w.advance(ref, "submit")
    before = w.snapshot()

    with pytest.raises(ConflictError, match="has changed since you looked at it"):
        assignment.assign(w.engine, ref, "cath", "carol", expected_version=1)

    assert w.snapshot() == before


def test_two_hand_overs_at_once_leave_one_chain_and_one_caseworker(w):
    w.person("cody", "caseworker")
    ref = w.bid(by="carol")
    results: list = []
    gate = threading.Barrier(2)

    def hand_to(name):
        gate.wait()
        try:
            results.append(assignment.assign(w.engine, ref, name, "carol")["caseworker"])
        except (ConflictError, RuleViolation) as err:
            results.append(type(err).__name__)

    threads = [threading.Thread(target=hand_to, args=(n,)) for n in ("cath", "cody")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assigned = [r for r in results if r in ("cath", "cody")]
    rows = [r for r in lifecycle.case_history(w.engine, ref) if r["trigger"] == "assign"]
    # On SQLite writers take turns, so the second hand-over also succeeds, after the
    # first; whatever the order, the case ends with the last one and each is in history.
    assert _caseworker(w, ref) == rows[-1]["payload"]["caseworker"]
    assert len(rows) == len(assigned) >= 1
    _chain_is_whole(w)


def test_a_hand_over_is_one_log_line_naming_the_case_and_who_but_not_the_reason(w, caplog):
    ref = w.bid(by="carol")
    w.advance(ref, "submit")

    with caplog.at_level("INFO", logger="casework"):
        assignment.assign(w.engine, ref, "cath", "carol", reason="Carol is on leave in May.")

    [line] = [
        r for r in caplog.records if getattr(r, "casework", {}).get("event") == "case.assigned"
    ]
    assert line.casework["case"] == ref and line.casework["person"] == "carol"
    assert "leave" not in line.getMessage()
