"""Publishing a programme's awards as 360Giving open data, checked against the standard offline."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from freezegun import freeze_time

from tests.cli.conftest import Cli
from tests.workflow.awarding import offer, recommended
from workflow.services import lifecycle, directory, publish
from workflow.errors import Malformed
from workflow.services.publish import Funder, PublicationRefused

OFFERED_AT = datetime(2013, 10, 9, 10, 30, tzinfo=timezone.utc)
FUNDER = Funder(
    prefix="DCLG", id="GB-GOR-D4", name="Department for Communities and Local Government"
)

# Real councils of 2013, by their GSS codes and the names the register knows them by.
COUNCILS = {
    "E07000026": "Allerdale Borough Council",
    "E07000028": "Carlisle City Council",
    "E07000029": "Copeland",
    "E08000003": "Manchester City Council",
    "E06000047": "Durham County Council",
    "E09000020": "Royal Borough of Kensington and Chelsea",
}


def a_round(world) -> dict[str, str]:
    """A whole TCA round: awards offered, accepted, declined, terminated, and bids refused."""
    for code, name in COUNCILS.items():
        world.org(code, name=name, esg="800000" if code == "E08000003" else None)
    world.org("ORG-CUMBRIA-FIRE", name="Cumbria Fire and Rescue Service", kind="fire")
    world.cast()
    world.person("mancllr", "council", org="E08000003")
    refs: dict[str, str] = {}
    with freeze_time(OFFERED_AT):
        refs["offered"] = recommended(world, amount="250000.50")
        # A fire service may be a partner in a shared arrangement (a single operation's
        # partners must be councils: due diligence, partners_are_councils).
        refs["accepted"] = recommended(
            world, lead="E06000047", partners=["E07000026", "ORG-CUMBRIA-FIRE"], amount="480000"
        )
        refs["single"] = recommended(
            world, "single_operation", amount="2000000", lead="E09000020", partners=["E07000028"]
        )
        refs["esg"] = recommended(world, "esg_top_up", amount="150000", lead="E08000003")
        refs["declined"] = recommended(world, amount="90000")
        refs["terminated"] = recommended(world, amount="60000")
        refs["rejected"] = recommended(world, amount="70000")
        for key in ("offered", "accepted", "single", "esg", "declined", "terminated"):
            offer(world, refs[key])
    world.advance(refs["accepted"], "accept")
    world.advance(refs["single"], "accept")
    world.advance(refs["esg"], "accept", by="mancllr")
    world.advance(refs["declined"], "decline", by="cllr")
    world.advance(refs["terminated"], "accept")
    world.advance(refs["terminated"], "suspend", reason="No return for two quarters")
    world.advance(refs["terminated"], "terminate", by="aaron", reason="The hub was never set up")
    return refs


def grants_by_ref(publication) -> dict[str, dict]:
    return {g["id"].removeprefix("360G-DCLG-"): g for g in publication.grants}


def test_the_package_of_a_whole_round_validates_against_the_standard(any_world):
    world = any_world
    refs = a_round(world)

    publication = publish.build(world.engine, "tca-2013", funder=FUNDER)

    assert publish.validate(publication.package) == []
    grants = grants_by_ref(publication)
    assert set(grants) == {refs[k] for k in ("offered", "accepted", "single", "esg")}
    assert grants[refs["offered"]]["amountAwarded"] == Decimal("250000.5")
    assert grants[refs["offered"]]["awardDate"] == "2013-10-09"
    assert grants[refs["offered"]]["grantProgramme"] == [
        {"code": "tca-2013", "title": "Transformation Challenge Award 2013"}
    ]
    assert grants[refs["offered"]]["fundingOrganization"] == [
        {"id": FUNDER.id, "name": FUNDER.name}
    ]


def test_declined_and_terminated_awards_are_left_out_as_grants_that_did_not_go_ahead(world):
    refs = a_round(world)

    publication = publish.build(world.engine, "tca-2013", funder=FUNDER)

    assert {x["ref"]: x["why"] for x in publication.left_out} == {
        refs["declined"]: "declined",
        refs["terminated"]: "terminated, nothing committed",
    }
    assert refs["rejected"] not in grants_by_ref(publication)
    assert "left out: " + refs["declined"] in publication.summary()


def test_grant_ids_are_the_360g_prefix_and_the_case_reference(world):
    refs = a_round(world)

    ids = [g["id"] for g in publish.build(world.engine, "tca-2013", funder=FUNDER).grants]

    assert ids == [f"360G-DCLG-{refs[k]}" for k in ("offered", "accepted", "single", "esg")]


def test_english_councils_are_found_in_the_register_by_official_name_or_name(world):
    refs = a_round(world)

    grants = grants_by_ref(publish.build(world.engine, "tca-2013", funder=FUNDER))

    recipient = {ref: g["recipientOrganization"][0]["id"] for ref, g in grants.items()}
    assert recipient == {
        refs["offered"]: "GB-LAE-ALL",
        refs["accepted"]: "GB-LAE-DUR",
        refs["single"]: "GB-LAE-KEC",
        refs["esg"]: "GB-LAE-MAN",
    }


def test_an_org_id_given_with_the_organisation_is_used_as_it_is(world):
    world.org("E07000026", name="A name the register does not know")
    with world.engine.begin() as conn:
        directory.add_org(
            conn,
            "E06000001",
            name="Hartlepool Borough Council",
            email="grants@hartlepool.example.gov.uk",
            org_id="GB-LAE-HPL",
        )
    world.cast()
    with freeze_time(OFFERED_AT):
        ref = recommended(world, lead="E06000001", partners=["E07000026"])
        offer(world, ref)

    grant = publish.build(world.engine, "tca-2013", funder=FUNDER).grants[0]

    assert grant["recipientOrganization"] == [
        {"id": "GB-LAE-HPL", "name": "Hartlepool Borough Council"}
    ]


def test_beneficiary_locations_are_the_councils_gss_codes(world):
    refs = a_round(world)

    grants = grants_by_ref(publish.build(world.engine, "tca-2013", funder=FUNDER))

    assert grants[refs["single"]]["beneficiaryLocation"] == [
        {
            "geoCode": "E09000020",
            "geoCodeType": "LONB",
            "name": "Royal Borough of Kensington and Chelsea",
            "countryCode": "GB",
        },
        {
            "geoCode": "E07000028",
            "geoCodeType": "NMD",
            "name": "Carlisle City Council",
            "countryCode": "GB",
        },
    ]
    assert grants[refs["accepted"]]["beneficiaryLocation"] == [
        {
            "geoCode": "E06000047",
            "geoCodeType": "UA",
            "name": "Durham County Council",
            "countryCode": "GB",
        },
        {
            "geoCode": "E07000026",
            "geoCodeType": "NMD",
            "name": "Allerdale Borough Council",
            "countryCode": "GB",
        },
    ]  # the fire service has no GSS code: not a place


def test_an_organisation_found_nowhere_stops_the_publication_naming_it(world):
    world.org("E07000026", name="Council E07000026")  # no org-id, not in the register
    world.cast()
    with freeze_time(OFFERED_AT):
        ref = recommended(world)
        offer(world, ref)

    with pytest.raises(PublicationRefused, match="E07000026 \\(Council E07000026\\)") as refused:
        publish.build(world.engine, "tca-2013", funder=FUNDER)

    assert refused.value.violations[0].startswith(f"{ref}: E07000026")
    assert "--org-id" in str(refused.value)


def test_a_name_matching_two_councils_of_the_time_is_not_guessed():
    assert [c.key for c in publish.council_named("Buckinghamshire")] == ["BKM"]
    assert [
        c.key for c in publish.council_named("Buckinghamshire", on=datetime(2021, 1, 1).date())
    ] == ["BUC"]
    assert [c.key for c in publish.council_named("St Helens")] == ["SHN"]
    assert [c.key for c in publish.council_named("newcastle under lyme")] == ["NEC"]


def test_a_broken_award_without_a_recipient_is_refused_naming_its_reference(world, tmp_path):
    refs = a_round(world)
    publication = publish.build(world.engine, "tca-2013", funder=FUNDER)
    broken = grants_by_ref(publication)[refs["accepted"]]
    del broken["recipientOrganization"]
    out = tmp_path / "tca.json"

    with pytest.raises(PublicationRefused) as refused:
        publish.write(publication, out)

    assert list(refused.value.violations) == [
        f"grant 360G-DCLG-{refs['accepted']}: recipientOrganization is missing"
    ]
    assert not out.exists()


def test_a_field_the_schema_refuses_is_named_with_its_grant(world, tmp_path):
    refs = a_round(world)
    publication = publish.build(world.engine, "tca-2013", funder=FUNDER)
    grants_by_ref(publication)[refs["esg"]]["awardDate"] = "09/10/2013"
    out = tmp_path / "out"
    out.mkdir()

    with pytest.raises(PublicationRefused, match=f"grant 360G-DCLG-{refs['esg']}: awardDate"):
        publish.write(publication, out / "tca.json")

    assert list(out.iterdir()) == []


def test_amounts_are_written_as_exact_numbers_never_through_a_float(world, tmp_path):
    refs = a_round(world)
    out = tmp_path / "tca.json"

    publish.publish(world.engine, "tca-2013", out, funder=FUNDER)

    text = out.read_text()
    assert '"amountAwarded": 250000.5,' in text
    assert '"amountAwarded": 2000000,' in text
    package = json.loads(text, parse_float=Decimal)
    assert publish.validate(package) == []
    assert {g["id"] for g in package["grants"]} >= {f"360G-DCLG-{refs['esg']}"}


def test_a_programme_with_no_awards_yet_has_nothing_to_publish(world):
    world.cast()

    with pytest.raises(PublicationRefused, match="no award has been offered yet"):
        publish.build(world.engine, "tca-2013", funder=FUNDER)


def test_network_areas_are_not_grants(world):
    with pytest.raises(PublicationRefused, match="network areas"):
        publish.build(world.engine, "pstn-2013", funder=FUNDER)


def test_the_funder_is_dclg_by_its_government_register_org_id_unless_told_otherwise(monkeypatch):
    for name in ("CASEWORK_360G_PREFIX", "CASEWORK_FUNDER_ID", "CASEWORK_FUNDER_NAME"):
        monkeypatch.delenv(name, raising=False)
    assert Funder.from_env() == Funder(
        prefix="casework", id="GB-GOR-D4", name="Department for Communities and Local Government"
    )

    monkeypatch.setenv("CASEWORK_FUNDER_ID", "GB-GOR-D1342")
    assert Funder.from_env().id == "GB-GOR-D1342"


def test_a_prefix_that_cannot_make_a_grant_id_is_refused(monkeypatch):
    monkeypatch.setenv("CASEWORK_360G_PREFIX", "D C L G")

    with pytest.raises(Malformed, match="prefix: 'D C L G'"):
        Funder.from_env()


# --- the command ---------------------------------------------------------------------------
@pytest.fixture
def cli(sqlite_template, tmp_path) -> Cli:
    path = tmp_path / "casework.db"
    shutil.copy(sqlite_template, path)
    return Cli(f"sqlite:///{path}", tmp_path)


@pytest.mark.slow
def test_publish_360giving_writes_the_package_and_says_what_it_left_out(cli, tmp_path):
    from tests.builders import World
    from workflow.storage.db import make_engine

    engine = make_engine(cli.url)
    refs = a_round(World(engine))
    engine.dispose()
    out = tmp_path / "tca-2013.json"

    ran = cli.ok(
        "publish", "360giving", "tca-2013", "--out", str(out), env={"CASEWORK_360G_PREFIX": "DCLG"}
    )

    assert f"left out: {refs['declined']} (declined)" in ran.out
    package = json.loads(out.read_text(), parse_float=Decimal)
    assert len(package["grants"]) == 4 and publish.validate(package) == []


@pytest.mark.slow
def test_publish_360giving_names_the_organisation_it_cannot_identify(cli, tmp_path):
    from tests.builders import World
    from workflow.storage.db import make_engine

    engine = make_engine(cli.url)
    world = World(engine)
    world.cast()
    with freeze_time(OFFERED_AT):
        offer(world, recommended(world))
    engine.dispose()
    out = tmp_path / "tca-2013.json"

    ran = cli("publish", "360giving", "tca-2013", "--out", str(out))

    assert ran.code == 1
    assert "E07000026 (Council E07000026) has no 360Giving org-id" in ran.err
    assert not out.exists()


def test_withdrawn_cases_never_reach_the_package(world):
    a_round(world)
    ref = world.bid()
    lifecycle.advance(
        world.engine,
        ref,
        "withdraw",
        "carol",
        reason="Council asked to withdraw: partnership dissolved",
    )

    publication = publish.build(world.engine, "tca-2013", funder=FUNDER)

    assert ref not in grants_by_ref(publication)


def test_the_summary_counts_one_grant_in_the_singular():
    one = publish.Publication({"grants": [{"amountAwarded": Decimal("250000")}]})
    two = publish.Publication({"grants": [{"amountAwarded": Decimal("1")}] * 2})

    assert one.summary() == "1 grant, £250,000 in all"
    assert two.summary().startswith("2 grants, ")


def test_what_is_paid_and_when_the_work_runs_are_published_and_still_validate(any_world):
    from workflow.services import payments

    world = any_world
    refs = a_round(world)
    world.person("fiona", "finance")
    payments.move(world.engine, f"{refs['accepted']}/P1", "approve", "april")
    payments.move(world.engine, f"{refs['accepted']}/P1", "pay", "fiona", reference="BACS 1")

    publication = publish.build(world.engine, "tca-2013", funder=FUNDER)

    assert publish.validate(publication.package) == []
    grants = grants_by_ref(publication)
    assert grants[refs["accepted"]]["amountDisbursed"] == Decimal("240000")
    assert grants[refs["single"]]["amountDisbursed"] == Decimal("0")
    planned = grants[refs["accepted"]]["plannedDates"]
    assert len(planned) == 1 and planned[0]["endDate"] > planned[0]["startDate"]
    assert "plannedDates" not in grants[refs["offered"]]  # not accepted: no returns yet


def test_planned_dates_end_where_the_latest_agreement_says_after_a_variation(any_world):
    from datetime import date, timedelta

    from workflow.services import variations

    world = any_world
    refs = a_round(world)
    ref = refs["accepted"]
    before = grants_by_ref(publish.build(world.engine, "tca-2013", funder=FUNDER))[ref]
    new_end = date.today() + timedelta(days=400)
    variations.propose(
        world.engine, ref, end=new_end.isoformat(), reason="Procurement starts late.", actor="carol"
    )
    variations.decide(world.engine, f"{ref}/V1", "approve", "april")

    publication = publish.build(world.engine, "tca-2013", funder=FUNDER)

    assert publish.validate(publication.package) == []
    (planned,) = grants_by_ref(publication)[ref]["plannedDates"]
    # The work now runs to the varied end, as agreement version 2 states; it starts as it did.
    assert planned["endDate"] == new_end.isoformat() != before["plannedDates"][0]["endDate"]
    assert planned["startDate"] == before["plannedDates"][0]["startDate"]
