"""`casework checkpoint …`, `casework sweep` and `casework status`, run as real processes."""

import json

Q1 = "TCA-2013-0001/Q1"
PDF = b"%PDF-1.4\n%%EOF\n"


def test_checkpoint_list_json_gives_ref_case_state_due_and_level(monitored):
    rows = monitored.ok("checkpoint", "list", "--case", "TCA-2013-0001", "--json").json()

    assert [{k: r[k] for k in ("ref", "case", "state", "due", "level")} for r in rows] == [
        {
            "ref": "TCA-2013-0001/Q1",
            "case": "TCA-2013-0001",
            "state": "scheduled",
            "due": "2014-01-02",
            "level": 0,
        },
        {
            "ref": "TCA-2013-0001/Q2",
            "case": "TCA-2013-0001",
            "state": "scheduled",
            "due": "2014-04-01",
            "level": 0,
        },
        {
            "ref": "TCA-2013-0001/Q3",
            "case": "TCA-2013-0001",
            "state": "scheduled",
            "due": "2014-07-01",
            "level": 0,
        },
        {
            "ref": "TCA-2013-0001/Q4",
            "case": "TCA-2013-0001",
            "state": "scheduled",
            "due": "2014-10-01",
            "level": 0,
        },
    ]


def test_sweep_now_simulates_a_moment_and_prints_what_it_did(monitored):
    ran = monitored.ok("sweep", "--now", "2013-12-19T09:30")

    assert ran.out.strip().startswith(
        "sweep at 2013-12-19T09:30:00+00:00: 1 step (opened 1), 0 late, 0 skipped in "
    )
    listed = monitored.ok("checkpoint", "list", "--json").json()
    assert [r["state"] for r in listed] == ["open", "scheduled", "scheduled", "scheduled"]


def test_sweep_refuses_a_moment_before_one_already_swept(monitored):
    monitored.ok("sweep", "--now", "2013-12-19T09:30")

    ran = monitored("sweep", "--now", "2013-12-01T09:30+00:00")

    assert ran.code == 1
    assert "earlier than 2013-12-19T09:30:00+00:00, the latest moment already swept" in ran.err


def test_sweep_with_a_time_that_is_not_iso_8601_is_a_usage_error(monitored):
    ran = monitored("sweep", "--now", "next tuesday")

    assert ran.code == 2
    assert "not an ISO 8601 time" in ran.err


def test_a_council_submits_a_return_from_a_file_with_evidence(monitored, tmp_path):
    monitored.ok("sweep", "--now", "2013-12-19T09:30")
    figures = monitored.write("return.toml", 'spend_to_date = "120000"\nprogress = "On track"\n')
    evidence = tmp_path / "evidence.pdf"
    evidence.write_bytes(PDF)

    ran = monitored.ok(
        "checkpoint",
        "submit",
        Q1,
        "--as",
        "cllr",
        "--from-file",
        figures,
        "--attach",
        str(evidence),
        env={"CASEWORK_FILES": str(tmp_path / "files")},
    )

    assert ran.out.strip() == f"{Q1} is now Submitted"
    shown = monitored.ok("checkpoint", "show", Q1, "--json").json()
    assert shown["figures"] == {"spend_to_date": "120000.00", "progress": "On track"}
    assert shown["attachment"]["name"] == "evidence.pdf"


def test_a_malformed_return_file_is_refused_naming_the_field(monitored):
    monitored.ok("sweep", "--now", "2013-12-19T09:30")
    figures = monitored.write("return.json", json.dumps({"spend_to_date": "1,200"}))

    ran = monitored("checkpoint", "submit", Q1, "--as", "cllr", "--from-file", figures)

    assert ran.code == 1
    assert "spend_to_date" in ran.err
    assert monitored.ok("checkpoint", "show", Q1, "--json").json()["state"] == "open"


def test_an_evidence_file_over_ten_megabytes_is_refused_before_it_is_read(monitored, tmp_path):
    monitored.ok("sweep", "--now", "2013-12-19T09:30")
    big = tmp_path / "scan.pdf"
    with open(big, "wb") as f:  # sparse: 11 MB on paper, nothing on disk
        f.truncate(11 * 1024 * 1024)

    ran = monitored("checkpoint", "submit", Q1, "--as", "cllr", "--attach", str(big))

    assert ran.code == 1
    assert "scan.pdf is 11.0 MB; the limit is 10 MB" in ran.err


def test_waive_without_a_reason_is_refused_with_the_reason_needed(monitored):
    monitored.ok("sweep", "--now", "2013-12-19T09:30")

    ran = monitored("checkpoint", "waive", Q1, "--as", "carol")

    assert ran.code == 1
    assert (
        ran.err.strip()
        == f"'Waive the return' (waive) on {Q1} needs a reason: give one with --reason."
    )


def test_a_council_cannot_accept_and_a_caseworker_can(monitored):
    monitored.ok("sweep", "--now", "2013-12-19T09:30")
    figures = monitored.write("return.toml", 'spend_to_date = "1000"\nprogress = "Started"\n')
    monitored.ok("checkpoint", "submit", Q1, "--as", "cllr", "--from-file", figures)

    refused = monitored("checkpoint", "accept", Q1, "--as", "cllr")
    accepted = monitored("checkpoint", "accept", Q1, "--as", "carol", "--json")

    assert refused.code == 1 and "only a caseworker may" in refused.err
    assert accepted.code == 0 and accepted.json()["state"] == "accepted"


def test_status_exits_1_before_any_sweep_and_0_after_one(monitored):
    before = monitored("status", "--json")
    monitored.ok("sweep")
    after = monitored("status")

    assert before.code == 1 and before.json()["sweep"]["stale"] is True
    assert after.code == 0
    assert "steps due" in after.out and "outbox" in after.out


def test_an_empty_return_is_refused_and_changes_nothing(monitored):
    monitored.ok("sweep", "--now", "2013-12-19T09:30")
    before = monitored.ok("checkpoint", "show", Q1, "--json").json()

    ran = monitored("checkpoint", "submit", Q1, "--as", "cllr")

    assert ran.code == 1
    assert ran.err.startswith(
        f"{Q1} cannot be 'Send the return': the return is empty: it gives "
        f"none of Spend to date (spend_to_date)"
    )
    assert monitored.ok("checkpoint", "show", Q1, "--json").json() == before


def test_checkpoint_list_says_what_the_person_asking_may_do_next(monitored):
    """Each return's allowed moves for whoever asks (--as), as `case list` gives a case's:
    the council may send its open return, the caseworker may also excuse it."""
    monitored.ok("sweep", "--now", "2013-12-19T09:30")  # Q1 opens

    def allowed(*who: str) -> dict:
        listed = monitored.ok("checkpoint", "list", "--case", "TCA-2013-0001", *who, "--json")
        return {r["ref"]: r["allowed_triggers"] for r in listed.json()}

    by_council, by_caseworker, by_anyone = (
        allowed("--as", "cllr"),
        allowed("--as", "carol"),
        allowed(),
    )
    table = monitored.ok("checkpoint", "list", "--case", "TCA-2013-0001", "--as", "cllr").out

    assert by_council == {Q1: ["submit"], **{f"TCA-2013-0001/Q{n}": [] for n in (2, 3, 4)}}
    assert by_caseworker[Q1] == ["submit", "waive"]
    assert by_anyone[Q1] == [
        "mark_overdue",
        "submit",
        "waive",
    ]  # no --as: every move, the sweep's too
    assert "Send the return (submit)" in table and "(waive)" not in table
