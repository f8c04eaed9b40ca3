"""Submitting, accepting, querying and waiving returns; every refusal changes nothing."""

import hashlib
import io
import zipfile
from datetime import datetime, timezone

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from tests.workflow.monitoring_world import bid_in_monitoring, ladder_history
from workflow.services import attachments, lifecycle, monitoring
from workflow.errors import (
    CheckpointNotFound,
    ConflictError,
    GuardFailed,
    InvalidTransition,
    Malformed,
    PermissionDenied,
    ReasonRequired,
    RuleViolation,
)
from workflow.storage.tables import checkpoints
from workflow.runtime.sweep import sweep

UTC = timezone.utc
ACCEPTED = datetime(2013, 10, 1, 10, tzinfo=UTC)
OPENED = datetime(2013, 12, 19, 9, 30, tzinfo=UTC)  # Q1 (due 2 January 2014) is open
DURING = datetime(2013, 12, 20, 11, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
FIGURES = {
    "spend_to_date": "120000.50",
    "savings_to_date": "40000",
    "progress": "On track",
    "risks": "Recruitment",
}


@pytest.fixture
def files(tmp_path, monkeypatch):
    folder = tmp_path / "files"
    monkeypatch.setenv("CASEWORK_FILES", str(folder))
    return folder


@pytest.fixture
def q1(world, files):
    """TCA-2013-0001/Q1, open for its return, on 20 December 2013."""
    world.cast()
    world.person("pat", "council", org="E07000028")  # a partner council's person
    ref = bid_in_monitoring(world, ACCEPTED)
    with freeze_time(OPENED):
        sweep(world.engine)
    with freeze_time(DURING):
        yield f"{ref}/Q1"


def snapshot(world, files) -> dict:
    """The world's snapshot, the checkpoint rows and the stored files."""
    with world.engine.connect() as conn:
        rows = [
            tuple(r)
            for r in conn.execute(
                select(
                    checkpoints.c.ref,
                    checkpoints.c.state,
                    checkpoints.c.version,
                    checkpoints.c.figures,
                    checkpoints.c.attachment_sha256,
                    checkpoints.c.next_step_at,
                ).order_by(checkpoints.c.id)
            )
        ]
    stored = sorted(p.name for p in files.rglob("*") if p.is_file()) if files.exists() else []
    return {**world.snapshot(), "checkpoints": rows, "files": stored}


# --- submitting ------------------------------------------------------------------
def test_a_person_of_the_lead_council_submits_the_return_and_its_figures_are_kept(world, q1):
    done = monitoring.submit_return(world.engine, q1, "cllr", figures=FIGURES)

    assert done["state"] == "submitted"
    assert done["figures"] == {
        "spend_to_date": "120000.50",
        "savings_to_date": "40000.00",
        "progress": "On track",
        "risks": "Recruitment",
    }
    with world.engine.connect() as conn:
        stored = conn.execute(select(checkpoints.c.figures).where(checkpoints.c.ref == q1)).scalar()
    assert stored["spend_to_date"] == 12_000_050  # whole pence, never a float
    row = monitoring.get_checkpoint(world.engine, q1)["history"][-1]
    assert (row["trigger"], row["from_state"], row["to_state"], row["actor"], row["role"]) == (
        "submit",
        "open",
        "submitted",
        "cllr",
        "council",
    )


def test_submitting_the_return_stops_the_ladder_at_once(world, q1):
    monitoring.submit_return(world.engine, q1, "cllr", figures=FIGURES)

    with freeze_time(datetime(2014, 3, 1, 9, 30, tzinfo=UTC)):  # past every Q1 step
        report = sweep(world.engine)

    assert "overdue" not in report.steps and "suspended" not in report.steps
    assert [
        h.payload["step"] for h in ladder_history(world, q1.split("/")[0]) if h.checkpoint == "Q1"
    ] == ["opened"]
    assert lifecycle.show(world.engine, q1.split("/")[0])["state"] == "in_monitoring"


def test_a_caseworker_may_submit_a_return_on_the_councils_behalf(world, q1):
    done = monitoring.submit_return(world.engine, q1, "carol", figures=FIGURES)

    assert done["state"] == "submitted"
    assert done["allowed_triggers"] == ["accept", "query", "waive"]  # read as carol


def test_a_person_of_a_partner_council_cannot_submit_the_return(world, q1, files):
    before = snapshot(world, files)

    with pytest.raises(PermissionDenied, match="not a person of E07000026"):
        monitoring.submit_return(world.engine, q1, "pat", figures=FIGURES)

    assert snapshot(world, files) == before


def test_an_amount_written_with_a_pound_sign_is_refused_naming_the_field(world, q1, files):
    before = snapshot(world, files)

    with pytest.raises(Malformed, match="spend_to_date") as refused:
        monitoring.submit_return(
            world.engine, q1, "cllr", figures={**FIGURES, "spend_to_date": "£120,000"}
        )

    assert "return for TCA-2013-0001/Q1" in str(refused.value)
    assert snapshot(world, files) == before


def test_a_field_the_programme_does_not_ask_for_is_refused(world, q1, files):
    before = snapshot(world, files)

    with pytest.raises(Malformed, match="headcount: not a field of a tca-2013 return"):
        monitoring.submit_return(world.engine, q1, "cllr", figures={"headcount": "12"})

    assert snapshot(world, files) == before


def test_a_field_the_programme_requires_must_be_given(world, files):
    world.cast()  # the bundled TCA file requires progress and spend
    ref = bid_in_monitoring(world, ACCEPTED)
    with freeze_time(OPENED):
        sweep(world.engine)
    before = snapshot(world, files)

    with (
        freeze_time(DURING),
        pytest.raises(GuardFailed, match=r"Progress \(progress\) is required"),
    ):
        monitoring.submit_return(
            world.engine, f"{ref}/Q1", "cllr", figures={"spend_to_date": "1000", "progress": "  "}
        )

    assert snapshot(world, files) == before


def test_an_empty_return_is_refused_so_it_can_never_be_accepted(world, q1, files):
    before = snapshot(world, files)

    with freeze_time(DURING), pytest.raises(GuardFailed, match="the return is empty"):
        monitoring.submit_return(world.engine, q1, "cllr", figures={"risks": "   "})

    assert snapshot(world, files) == before
    with pytest.raises(InvalidTransition):  # nothing was submitted, so nothing to accept
        monitoring.decide_return(world.engine, q1, "accept", "carol")


def test_a_return_cannot_be_submitted_before_it_opens(world, q1, files):
    q2 = q1.replace("Q1", "Q2")
    before = snapshot(world, files)

    with pytest.raises(
        InvalidTransition, match="Q2 is Not open yet, so it cannot be 'Send the return'"
    ):
        monitoring.submit_return(world.engine, q2, "cllr", figures=FIGURES)

    assert snapshot(world, files) == before


def test_a_return_changed_since_it_was_read_is_refused(world, q1, files):
    seen = monitoring.get_checkpoint(world.engine, q1)["version"]
    monitoring.submit_return(world.engine, q1, "cllr", figures=FIGURES)
    before = snapshot(world, files)

    with pytest.raises(ConflictError, match="has changed since you looked at it"):
        monitoring.decide_return(world.engine, q1, "accept", "carol", expected_version=seen)

    assert snapshot(world, files) == before


def test_an_unknown_return_is_named_in_the_refusal(world, q1):
    with pytest.raises(CheckpointNotFound, match="There is no monitoring return TCA-2013-0001/Q9"):
        monitoring.get_checkpoint(world.engine, "TCA-2013-0001/Q9")


# --- evidence files --------------------------------------------------------------
def test_an_evidence_file_is_stored_once_under_its_sha256(world, q1, files):
    done = monitoring.submit_return(
        world.engine, q1, "cllr", figures=FIGURES, attachment=("C:\\returns\\q1-evidence.pdf", PDF)
    )

    digest = hashlib.sha256(PDF).hexdigest()
    assert done["attachment"] == {
        "name": "q1-evidence.pdf",
        "sha256": digest,
        "media_type": "application/pdf",
    }
    assert attachments.read(digest, files) == PDF
    row = monitoring.get_checkpoint(world.engine, q1)["history"][-1]
    assert row["payload"]["attachment"]["sha256"] == digest


def test_the_same_file_attached_twice_is_kept_once(world, q1, files):
    monitoring.submit_return(world.engine, q1, "cllr", figures=FIGURES, attachment=("a.pdf", PDF))
    monitoring.decide_return(world.engine, q1, "query", "carol", reason="Which quarter?")

    monitoring.submit_return(world.engine, q1, "cllr", figures=FIGURES, attachment=("b.pdf", PDF))

    assert len([p for p in files.rglob("*") if p.is_file()]) == 1


@pytest.mark.parametrize(
    "name, data, why",
    [
        ("evidence.exe", b"MZ\x90\x00", "evidence.exe is not a type we accept"),
        ("evidence.pdf", b"MZ\x90\x00 not a pdf", "named as a PDF but its contents are not one"),
        ("evidence.xlsx", b"just text", "named as an Excel workbook but its contents are not one"),
        ("evidence.pdf", b"", "evidence.pdf is empty"),
        ("evidence.pdf", b"%PDF-" + b"0" * attachments.MAX_BYTES, "the limit is 10 MB"),
    ],
)
def test_a_refused_file_is_refused_with_a_reason_and_nothing_is_stored(
    world, q1, files, name, data, why
):
    before = snapshot(world, files)

    with pytest.raises(Malformed, match=why):
        monitoring.submit_return(world.engine, q1, "cllr", figures=FIGURES, attachment=(name, data))

    assert snapshot(world, files) == before


def test_a_good_file_sent_by_someone_who_may_not_submit_is_not_stored(world, q1, files):
    before = snapshot(world, files)

    with pytest.raises(PermissionDenied):
        monitoring.submit_return(
            world.engine, q1, "pat", figures=FIGURES, attachment=("evidence.pdf", PDF)
        )

    assert snapshot(world, files) == before


def test_a_spreadsheet_and_a_csv_are_accepted(world, q1, files):
    workbook = io.BytesIO()
    with zipfile.ZipFile(workbook, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")

    assert attachments.problems("figures.xlsx", workbook.getvalue()) == []
    assert attachments.problems("figures.csv", "quarter,spend\nQ1,120000\n".encode()) == []


# --- deciding ----------------------------------------------------------------------
def test_a_caseworker_accepts_a_submitted_return(world, q1):
    monitoring.submit_return(world.engine, q1, "cllr", figures=FIGURES)

    done = monitoring.decide_return(world.engine, q1, "accept", "carol")

    assert done["state"] == "accepted"
    assert done["next_step"] is None


def test_a_council_cannot_accept_its_own_return(world, q1, files):
    monitoring.submit_return(world.engine, q1, "cllr", figures=FIGURES)
    before = snapshot(world, files)

    with pytest.raises(PermissionDenied, match="only a caseworker may"):
        monitoring.decide_return(world.engine, q1, "accept", "cllr")

    assert snapshot(world, files) == before


@pytest.mark.parametrize("trigger", ["query", "waive"])
def test_a_query_or_a_waiver_needs_a_reason(world, q1, files, trigger):
    monitoring.submit_return(world.engine, q1, "cllr", figures=FIGURES)
    before = snapshot(world, files)

    with pytest.raises(ReasonRequired, match="on TCA-2013-0001/Q1 needs a reason"):
        monitoring.decide_return(world.engine, q1, trigger, "carol", reason="   ")

    assert snapshot(world, files) == before


def test_a_queried_return_can_be_submitted_again(world, q1):
    monitoring.submit_return(
        world.engine, q1, "cllr", figures={"spend_to_date": "0", "progress": "Nothing yet"}
    )
    monitoring.decide_return(world.engine, q1, "query", "carol", reason="No figures given")

    done = monitoring.submit_return(world.engine, q1, "cllr", figures=FIGURES)

    assert done["state"] == "submitted"
    queried = [h for h in done_history(world, q1) if h["trigger"] == "query"][0]
    assert queried["reason"] == "No figures given"


def done_history(world, ref):
    return monitoring.get_checkpoint(world.engine, ref)["history"]


def test_a_return_not_yet_submitted_can_be_waived_and_is_no_longer_chased(world, q1):
    done = monitoring.decide_return(
        world.engine, q1, "waive", "carol", reason="Merged into the Q2 return by agreement"
    )

    with freeze_time(datetime(2014, 3, 1, 9, 30, tzinfo=UTC)):
        report = sweep(world.engine)

    assert done["state"] == "waived"
    assert "overdue" not in report.steps


def test_a_decision_that_is_not_a_caseworkers_says_what_is_allowed(world, q1, files):
    before = snapshot(world, files)

    with pytest.raises(InvalidTransition, match="Allowed now: Waive the return"):
        monitoring.decide_return(world.engine, q1, "open", "carol")

    assert snapshot(world, files) == before


# --- the case around the return -------------------------------------------------------
def test_returns_of_a_terminated_award_are_no_longer_collected_or_chased(world, q1, files):
    ref = q1.split("/")[0]
    world.advance(ref, "suspend", reason="Fraud investigation")
    world.advance(ref, "terminate", by="april", reason="Fraud found")
    before = snapshot(world, files)

    with pytest.raises(
        RuleViolation,
        match="TCA-2013-0001 is terminated, so its monitoring returns are no longer collected",
    ):
        monitoring.submit_return(world.engine, q1, "cllr", figures=FIGURES)
    assert snapshot(world, files) == before

    with freeze_time(datetime(2014, 12, 1, 9, 30, tzinfo=UTC)):
        report = sweep(world.engine)
    assert report.total == 0
    assert report.stopped == 4  # Q1 to Q4: their ladders end quietly
    assert all(r["next_step"] is None for r in monitoring.list_checkpoints(world.engine, case=ref))


def test_returns_are_listed_by_case_by_organisation_and_when_overdue(world, q1):
    with freeze_time(datetime(2014, 1, 3, 9, 30, tzinfo=UTC)):
        sweep(world.engine)

    overdue = monitoring.list_checkpoints(world.engine, overdue=True)
    partner = monitoring.list_checkpoints(world.engine, org="E07000028")
    stranger = monitoring.list_checkpoints(world.engine, org="E99999999")
    pattern = monitoring.list_checkpoints(world.engine, org="E0700002_")  # not a wildcard

    assert [(r["ref"], r["state"], r["due"], r["level"]) for r in overdue] == [
        (q1, "overdue", "2014-01-02", 0)
    ]
    assert overdue[0]["next_step"] == {"name": "escalated_1", "at": "2014-01-09T09:00:00+00:00"}
    assert [r["ref"] for r in partner] == [q1.replace("Q1", f"Q{n}") for n in range(1, 5)]
    assert stranger == [] and pattern == []
