"""`casework agreement show`, run as a real process."""
import hashlib

REF = "TCA-2013-0001"


def test_agreement_show_lists_versions_and_writes_the_pdf_it_names(monitored, tmp_path):
    listed = monitored.ok("agreement", "show", REF, "--json").json()
    out = tmp_path / "agreement.pdf"

    wrote = monitored.ok("agreement", "show", REF, "--version", "1", "--out", str(out))

    assert [v["version"] for v in listed["versions"]] == [1]
    assert listed["accepted_version"] == {"version": 1, "sha256": listed["versions"][0]["sha256"]}
    assert hashlib.sha256(out.read_bytes()).hexdigest() == listed["versions"][0]["sha256"]
    assert out.read_bytes().startswith(b"%PDF-")
    assert "agreement version 1" in wrote.out
    table = monitored.ok("agreement", "show", REF)
    assert "the council accepted version 1" in table.out and "£" in table.out


def test_agreement_show_of_a_version_that_does_not_exist_is_refused(monitored):
    ran = monitored("agreement", "show", REF, "--version", "7")

    assert ran.code == 1
    assert ran.err.strip() == f"{REF} has no agreement version 7."
