"""A council submits its return with a file; a caseworker accepts, queries or waives it."""

from __future__ import annotations

import hashlib

import pytest

from tests.web.site import bid_in_monitoring, open_return, text_of
from workflow.services import attachments, lifecycle, monitoring

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def due(site, moment):
    ref = bid_in_monitoring(site.world)
    return open_return(site.world, moment, ref)


def stored_files(site) -> list:
    root = attachments.files_root(site.engine)
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_council_officer_submits_figures_and_a_file_kept_by_its_hash(site, due):
    cllr = site.as_("cllr")
    form = cllr.get(f"/returns/{due}")

    sent = cllr.post(
        f"/returns/{due}/submit",
        {
            "spend_to_date": "125000.50",
            "savings_to_date": "0",
            "progress": "On track.",
            "risks": "",
        },
        files={"evidence": ("Q1 report.pdf", PDF, "application/pdf")},
    )

    assert 'enctype="multipart/form-data"' in form.text and 'type="file"' in form.text
    assert sent.status_code == 303 and sent.headers["location"] == f"/returns/{due}"
    page = text_of(cllr.follow(sent).text)
    assert f"The return {due} has been submitted with Q1 report.pdf." in page
    assert "Spend to date £125,000.50" in page
    row = [
        h
        for h in lifecycle.case_history(site.engine, due.split("/")[0])
        if h["trigger"] == "submit"
    ][-1]
    assert row["payload"]["attachment"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert row["payload"]["figures"]["spend_to_date"] == "125000.50"
    download = cllr.get(f"/returns/{due}/evidence")
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert 'filename="Q1 report.pdf"' in download.headers["content-disposition"]


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("payload.exe", b"MZ\x90\x00", "payload.exe is not a type we accept"),
        ("notes.txt", b"hello", "notes.txt is not a type we accept"),
        (
            "report.pdf",
            b"MZ\x90\x00 not a pdf",
            "report.pdf is named as a PDF but its contents are not one",
        ),
        ("big.csv", b"a,b\n" * (attachments.MAX_BYTES // 4 + 1), "the limit is 10 MB"),
    ],
)
def test_a_file_of_a_refused_type_or_over_the_limit_is_refused_and_nothing_is_stored(
    site, due, name, data, words
):
    cllr = site.as_("cllr")
    cllr.get(f"/returns/{due}")
    before = site.world.snapshot()

    refused = cllr.post(
        f"/returns/{due}/submit",
        {"progress": "Kept after the refusal.", "spend_to_date": "10"},
        files={"evidence": (name, data, "application/octet-stream")},
    )

    assert refused.status_code == 400
    assert words in text_of(refused.text)
    assert '<a href="#evidence">' in refused.text
    assert "Kept after the refusal." in refused.text  # what was typed is not lost
    assert site.world.snapshot() == before
    assert stored_files(site) == []
    assert monitoring.get_checkpoint(site.engine, due)["state"] == "open"


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(site, due):
    cllr = site.as_("cllr")
    cllr.get(f"/returns/{due}")
    before = site.world.snapshot()
    huge = b"0" * (site.app.state.settings.max_body_bytes + 1)

    refused = cllr.post(
        f"/returns/{due}/submit", {}, files={"evidence": ("huge.csv", huge, "text/csv")}
    )

    assert refused.status_code == 413
    assert "Nothing was saved" in text_of(refused.text)
    assert site.world.snapshot() == before and stored_files(site) == []


def test_malformed_figures_are_named_and_linked_to_their_field(site, due):
    cllr = site.as_("cllr")
    cllr.get(f"/returns/{due}")
    before = site.world.snapshot()

    refused = cllr.post(f"/returns/{due}/submit", {"spend_to_date": "a thousand", "progress": "x"})

    assert refused.status_code == 400
    assert (
        '<a href="#spend_to_date">Spend to date must be an amount in pounds, like 250000 or '
        "£250,000.50</a>" in refused.text
    )
    assert 'id="spend_to_date-error"' in refused.text
    assert site.world.snapshot() == before


@pytest.mark.parametrize("typed, kept", [("£1,000", "1000.00"), ("1,250,000.50", "1250000.50")])
def test_money_is_taken_as_people_write_it_with_a_pound_sign_and_commas(site, due, typed, kept):
    cllr = site.as_("cllr")
    cllr.get(f"/returns/{due}")

    sent = cllr.post(f"/returns/{due}/submit", {"spend_to_date": typed, "progress": "Started."})

    assert sent.status_code == 303
    assert monitoring.get_checkpoint(site.engine, due)["figures"]["spend_to_date"] == kept


def test_each_required_figure_left_out_is_asked_for_at_its_field_in_words(site, due):
    cllr = site.as_("cllr")
    cllr.get(f"/returns/{due}")
    before = site.world.snapshot()

    refused = cllr.post(f"/returns/{due}/submit", {"spend_to_date": "", "progress": " "})

    assert refused.status_code == 400
    assert '<a href="#spend_to_date">Enter spend to date</a>' in refused.text
    assert '<a href="#progress">Enter progress</a>' in refused.text
    assert 'id="spend_to_date-error"' in refused.text and 'id="progress-error"' in refused.text
    assert "spend_to_date)" not in text_of(refused.text)
    assert site.world.snapshot() == before


def test_a_queried_return_shows_the_reason_and_can_be_resubmitted(site, due):
    cllr, carol = site.as_("cllr"), site.as_("carol")
    cllr.post(f"/returns/{due}/submit", {"spend_to_date": "1000", "progress": "Started."})
    carol.get(f"/returns/{due}")

    queried = carol.post(
        f"/returns/{due}/decide",
        {"trigger": "query", "reason": "Spend looks low: include Q1 staff costs."},
    )
    seen = text_of(cllr.get(f"/returns/{due}").text)
    again = cllr.post(
        f"/returns/{due}/submit", {"spend_to_date": "41000", "progress": "Q1 staff costs in."}
    )

    assert queried.status_code == 303
    assert "The caseworker has queried this return" in seen
    assert "Spend looks low: include Q1 staff costs." in seen
    assert "Resubmit the return" in seen
    assert again.status_code == 303
    assert monitoring.get_checkpoint(site.engine, due)["state"] == "submitted"


def test_querying_or_waiving_a_return_needs_a_reason(site, due):
    site.as_("cllr").post(f"/returns/{due}/submit", {"progress": "Done.", "spend_to_date": "0"})
    carol = site.as_("carol")
    carol.get(f"/returns/{due}")
    before = site.world.snapshot()

    refused = carol.post(f"/returns/{due}/decide", {"trigger": "query", "reason": ""})

    assert refused.status_code == 422
    assert '<a href="#reason-query">Give a reason' in refused.text
    assert site.world.snapshot() == before


def test_a_return_not_yet_open_cannot_be_submitted(site, due):
    ref = due.split("/")[0]
    cllr = site.as_("cllr")
    before = site.world.snapshot()

    page = cllr.get(f"/returns/{ref}/Q2")
    refused = cllr.post(f"/returns/{ref}/Q2/submit", {"progress": "Early."})

    assert page.status_code == 200 and "Submit the return" not in page.text
    assert refused.status_code == 409
    assert f"{ref}/Q2 is Not open yet, so it cannot be 'Send the return'" in text_of(refused.text)
    assert site.world.snapshot() == before


def test_a_return_that_does_not_exist_is_not_found(site, due):
    ref = due.split("/")[0]

    assert site.as_("cllr").get(f"/returns/{ref}/Q9").status_code == 404
    assert site.as_("carol").get("/returns/TCA-2013-0404/Q1").status_code == 404


def test_a_council_is_shown_the_cases_waiting_for_it_beside_its_returns(site):
    from tests.web.site import recommended_bid

    ref = recommended_bid(site.world)
    site.world.advance(ref, "offer", by="april")

    own = text_of(site.as_("cllr").get("/returns").text)
    partner = text_of(site.as_("pat").get("/returns").text)

    waiting = own[own.index("Waiting for you") : own.index("Monitoring returns")]
    assert ref in waiting and "Accept or decline the award" in waiting
    assert "Waiting for you" not in partner
