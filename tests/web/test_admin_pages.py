"""The admin area (role admin) and the auditor's admin log, on the web."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.web.site import PASSWORD, text_of
from tests.workflow import tamper
from workflow.services import admin_log, assignment, passwords, sro
from workflow.storage.db import reading
from workflow.storage.tables import admin_log as admin_log_t


def rows(site) -> list[dict]:
    with reading(site.engine) as conn:
        return admin_log.rows(conn)


@pytest.mark.parametrize(
    "path",
    [
        "/admin",
        "/admin/organisations",
        "/admin/organisations/E07000026",
        "/admin/people",
        "/admin/people/carol",
        "/admin/programmes",
    ],
)
def test_only_an_admin_opens_the_admin_area(site, path):
    assert site.as_("adam").get(path).status_code == 200
    for name in ("carol", "april", "audrey", "cllr"):
        assert site.as_(name).get(path).status_code == 403, (name, path)
    assert site.visitor().get(path).status_code == 303  # to sign in


def test_an_admin_changes_an_organisation_in_one_row_with_their_name(site):
    adam = site.as_("adam")
    page = adam.get("/admin/organisations/E07000026")
    assert page.status_code == 200
    count = len(rows(site))

    done = adam.post(
        "/admin/organisations/E07000026",
        {
            "name": "Council E07000026",
            "email": "returns@e07000026.example.gov.uk",
            "escalation-email": "chief.executive@e07000026.example.gov.uk",
            "esg-allocation": "12000",
            "org-id": "",
        },
    )

    assert done.status_code == 303
    assert "Organisation E07000026 updated" in text_of(adam.follow(done).text)
    logged = rows(site)
    assert len(logged) == count + 1
    assert (logged[-1]["actor"], logged[-1]["role"], logged[-1]["before"], logged[-1]["after"]) == (
        "adam",
        "admin",
        {"esg_allocation": None},
        {"esg_allocation": "12000.00"},
    )


def test_a_refused_change_shows_why_keeps_what_was_typed_and_writes_nothing(site):
    adam = site.as_("adam")
    adam.get("/admin/organisations/E07000026")
    count = len(rows(site))

    refused = adam.post(
        "/admin/organisations/E07000026",
        {
            "name": "Council E07000026",
            "email": "not an address",
            "escalation-email": "",
            "esg-allocation": "",
            "org-id": "",
        },
    )

    assert refused.status_code == 400
    text = text_of(refused.text)
    assert "There is a problem" in text and "'not an address' is not an email address" in text
    assert 'href="#email"' in refused.text and 'value="not an address"' in refused.text
    assert len(rows(site)) == count


def test_roles_and_standing_and_the_last_admin(site):
    adam = site.as_("adam")
    adam.get("/admin/people/carol")
    count = len(rows(site))
    done = adam.post("/admin/people/carol/roles", {"roles": ["caseworker", "assessor"]})
    assert done.status_code == 303
    assert rows(site)[-1]["after"] == {"roles": ["assessor", "caseworker"]}

    adam.get("/admin/people/carol")
    assert adam.post("/admin/people/carol/standing", {"standing": "disabled"}).status_code == 303
    assert rows(site)[-1]["action"] == "user_disable"
    assert len(rows(site)) == count + 2

    adam.get("/admin/people/adam")
    refused = adam.post("/admin/people/adam/standing", {"standing": "disabled"})
    assert refused.status_code == 422
    assert "adam cannot disable themselves" in text_of(refused.text)
    refused = adam.post("/admin/people/adam/roles", {"roles": ["auditor"]})
    assert refused.status_code == 422
    assert "adam is the last admin who can act" in text_of(refused.text)
    assert len(rows(site)) == count + 2


def test_roles_saved_as_they_stand_say_nothing_changed_and_write_no_row(site):
    # The form sends every ticked box; saved untouched, it once asked for the command line's
    # --add ROLE or --remove ROLE.
    adam = site.as_("adam")
    adam.get("/admin/people/carol")
    count = len(rows(site))
    done = adam.post("/admin/people/carol/roles", {"roles": ["caseworker"]})
    assert done.status_code == 303
    assert "carol's roles: caseworker (nothing changed)." in text_of(adam.follow(done).text)
    assert len(rows(site)) == count


def test_a_disabled_person_is_signed_out_and_cannot_sign_in_again(site):
    carol = site.as_("carol")
    assert carol.get("/inbox").status_code == 200
    adam = site.as_("adam")
    adam.get("/admin/people/carol")
    adam.post("/admin/people/carol/standing", {"standing": "disabled"})

    assert carol.get("/inbox").status_code == 303  # session ended
    again = site.visitor().sign_in("carol", PASSWORD)
    assert again.status_code == 401 and "The name or password is not right" in text_of(again.text)

    adam.get("/admin/people/carol")
    adam.post("/admin/people/carol/standing", {"standing": "enabled"})
    assert site.visitor().sign_in("carol", PASSWORD).status_code == 303


def test_an_admin_names_an_approver_as_sro_and_a_caseworker_is_refused(site):
    adam = site.as_("adam")
    page = adam.get("/admin/programmes")
    assert "None named" in text_of(page.text)

    refused = adam.post("/admin/programmes/tca-2013/sro", {"sro": "carol"})
    assert refused.status_code == 422
    assert "the senior responsible owner must be a person with role approver" in text_of(
        refused.text
    )
    done = adam.post("/admin/programmes/tca-2013/sro", {"sro": "april"})
    assert done.status_code == 303
    with reading(site.engine) as conn:
        assert sro.sro_of(conn, "tca-2013") == "april"
    assert "april" in text_of(site.as_("carol").get("/programmes").text)


def test_a_refusal_says_how_to_put_it_right_on_these_pages_not_with_a_command(site):
    adam = site.as_("adam")
    adam.get("/admin/programmes")
    assert adam.post("/admin/programmes/tca-2013/sro", {"sro": "april"}).status_code == 303
    count = len(rows(site))

    adam.get("/admin/people/april")
    refused = adam.post("/admin/people/april/roles", {"roles": ["assessor"]})
    said = text_of(refused.text)
    assert refused.status_code == 422
    assert "who must be an approver: name another first on the Programmes page." in said
    refused = adam.post("/admin/people/april/standing", {"standing": "disabled"})
    said += text_of(refused.text)
    assert "so they cannot be disabled: name another first on the Programmes page." in said
    adam.get("/admin/people/carol")
    refused = adam.post("/admin/people/carol/roles", {})
    said += text_of(refused.text)
    assert "a person keeps at least one (disable them instead, under Standing)." in said
    assert "casework " not in said
    assert len(rows(site)) == count


def test_the_auditor_reads_the_admin_log_and_a_tampered_row_is_named(site):
    adam = site.as_("adam")
    adam.get("/admin/people/carol")
    adam.post("/admin/people/carol/roles", {"roles": ["caseworker", "assessor"]})
    audrey = site.as_("audrey")

    page = audrey.get("/audit/admin")
    text = text_of(page.text)
    assert page.status_code == 200
    assert "Roles changed" in text and "The admin log's chain holds" in text
    assert "user_roles" not in text  # words, not codes
    assert site.as_("adam").get("/audit/admin").status_code == 403
    assert "Its chain holds" in text_of(audrey.get("/audit/verify").text)

    with site.engine.connect() as conn:
        last = conn.execute(select(admin_log_t.c.id).order_by(admin_log_t.c.id.desc())).scalar()
    tamper.rewrite_admin_row(site.engine, last, rechain=False)
    assert f"row {last} does not match its hash" in text_of(audrey.get("/audit/admin").text)
    assert f"row {last} does not match its hash" in text_of(audrey.get("/audit/verify").text)


def test_a_disabled_caseworkers_open_cases_go_to_every_caseworkers_inbox(site):
    """Nobody is reminded of a disabled caseworker's cases: the inbox shows them until another
    caseworker takes each one on, and the admin sees how many they held."""
    site.world.person("cody", "caseworker")
    passwords.sample_passwords(site.engine, password=PASSWORD)
    ref = site.world.bid()
    site.world.advance(ref, "submit")
    assert "Caseworker disabled none" in text_of(site.as_("cody").get("/inbox").text)
    adam = site.as_("adam")
    assert "Caseworker of 1 open case" in text_of(adam.get("/admin/people/carol").text)

    adam.post("/admin/people/carol/standing", {"standing": "disabled"})

    inbox = text_of(site.as_("cody").get("/inbox").text)
    assert "Caseworker disabled 1 Open cases whose caseworker has been disabled" in inbox
    listed = text_of(site.as_("cody").get("/cases?caseworker=carol").text)
    assert "1 case found" in listed and ref in listed
    assert "listed in every caseworker's inbox" in text_of(adam.get("/admin/people/carol").text)
    assignment.assign(site.engine, ref, "cody", "cody", reason="Carol has left the team.")
    assert "Caseworker disabled none" in text_of(site.as_("cody").get("/inbox").text)


def test_the_admin_page_links_the_whole_admin_log_only_for_those_who_may_read_it(site):
    """An admin reads the latest changes; /audit/admin is the auditors' (and refuses the
    admin), so the admin's page says who reads it rather than linking to a 403."""
    adam = site.as_("adam")
    adam.get("/admin/organisations/E07000026")
    assert (
        adam.post(
            "/admin/organisations/E07000026",
            {  # something in the log
                "name": "Council E07000026",
                "email": "returns@e07000026.example.gov.uk",
                "escalation-email": "",
                "esg-allocation": "12000",
                "org-id": "",
            },
        ).status_code
        == 303
    )

    page = adam.get("/admin").text

    assert 'href="/audit/admin"' not in page and "Auditors read the whole admin log" in page
    assert site.as_("adam").get("/audit/admin").status_code == 403
    assert site.as_("audrey").get("/audit/admin").status_code == 200


def _tca_file() -> str:
    from workflow.services.programme_files import bundled_sources

    return next(text for name, text in bundled_sources() if name == "tca-2013.toml")


def test_an_admin_loads_a_changed_programme_file_in_one_row_with_their_name(site):
    adam = site.as_("adam")
    adam.get("/admin/programmes")
    assert "Load a programme file" in text_of(adam.last)
    count = len(rows(site))
    changed = _tca_file().replace('fund = "9000000"', 'fund = "9500000"')

    done = adam.post(
        "/admin/programmes/load",
        {},
        files={"programme-file": ("tca-2013.toml", changed.encode(), "application/toml")},
    )

    assert done.status_code == 303, text_of(done.text)[:600]
    assert "Programme tca-2013 updated" in text_of(adam.follow(done).text)
    logged = rows(site)
    assert len(logged) == count + 1
    row = logged[-1]
    assert (row["actor"], row["role"], row["action"], row["target"]) == (
        "adam",
        "admin",
        "programme_load",
        "tca-2013",
    )
    assert (row["before"]["values"], row["after"]["values"]) == (
        {"fund": "9000000"},
        {"fund": "9500000"},
    )

    # The same file again changes nothing and writes no row.
    adam.get("/admin/programmes")
    again = adam.post(
        "/admin/programmes/load",
        {},
        files={"programme-file": ("tca-2013.toml", changed.encode(), "application/toml")},
    )
    assert "Programme tca-2013 unchanged" in text_of(adam.follow(again).text)
    assert len(rows(site)) == count + 1


def test_a_programme_file_breaking_a_submitted_bid_is_refused_naming_it(site):
    w = site.world
    ref = w.bid(by="cllr", amount="250000")
    w.advance(ref, "submit", by="cllr")
    adam = site.as_("adam")
    adam.get("/admin/programmes")
    count = len(rows(site))
    text = _tca_file()
    lower = text.replace('max = "500000"', 'max = "200000"', 1)
    assert lower != text

    for sent, why in (
        (lower.encode(), f"{ref}: asks for £250,000, above the new band"),
        (b"fund = ", "Programme file tca-2013.toml was refused"),
        ("é".encode("latin-1"), "it is not text (UTF-8)"),
        (b"", "Select a programme file to load"),
    ):
        refused = adam.post(
            "/admin/programmes/load",
            {},
            files={"programme-file": ("tca-2013.toml", sent, "application/toml")},
        )
        assert refused.status_code in (400, 422), why
        page = text_of(refused.text)
        assert "There is a problem" in page and why in page, page[:800]
        assert 'href="#programme-file"' in refused.text
    assert len(rows(site)) == count  # nothing written
    with reading(site.engine) as conn:
        from workflow.services.programme_files import spec_for

        assert spec_for(conn, "tca-2013").fund_pence == 900_000_000


def test_only_an_admin_loads_a_programme_file(site):
    for name in ("carol", "april", "audrey", "cllr"):
        v = site.as_(name)
        v.get("/cases")
        refused = v.post(
            "/admin/programmes/load",
            {},
            files={"programme-file": ("tca-2013.toml", _tca_file().encode(), "text/plain")},
        )
        assert refused.status_code == 403, name


def test_an_esg_allocation_is_taken_as_people_write_money_and_refused_in_the_forms_words(site):
    adam = site.as_("adam")
    shown = adam.get("/admin/organisations/E07000026").text
    form = {  # the form as it is shown, but for the allocation
        name: re.search(rf'name="{name}" type="\w+" value="([^"]*)"', shown).group(1)
        for name in ("name", "email", "escalation-email", "org-id")
    }
    count = len(rows(site))

    for typed, said in (
        ("£1,000,000.005", "Efficiency Support Grant allocation must be an amount in pounds"),
        ("-5", "Efficiency Support Grant allocation must be an amount in pounds"),
    ):
        refused = adam.post("/admin/organisations/E07000026", {**form, "esg-allocation": typed})
        assert refused.status_code == 400, typed
        text = text_of(refused.text)
        assert said in text and "Esg-allocation" not in text, text[:600]
        assert 'href="#esg-allocation"' in refused.text and f'value="{typed}"' in refused.text
    bad_email = adam.post(
        "/admin/organisations/E07000026",
        {**form, "escalation-email": "chief", "esg-allocation": ""},
    )
    assert 'href="#escalation-email"' in bad_email.text
    assert "Escalation email: 'chief' is not an email address" in text_of(bad_email.text)
    assert len(rows(site)) == count

    done = adam.post("/admin/organisations/E07000026", {**form, "esg-allocation": "£1,000,000.50"})
    assert done.status_code == 303, text_of(done.text)[:600]
    assert rows(site)[-1]["after"] == {"esg_allocation": "1000000.50"}
    adam.get("/admin/organisations/E07000026")
    same = adam.post("/admin/organisations/E07000026", {**form, "esg-allocation": "1000000.5"})
    assert "unchanged" in text_of(adam.follow(same).text)
    assert len(rows(site)) == count + 1
