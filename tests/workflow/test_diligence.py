"""Due diligence before eligibility (DESIGN.md section 9, issue 20)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from states.programme import parse_programme
from workflow.errors import GuardFailed, Malformed, PermissionDenied, RuleViolation
from workflow.services import chain, diligence, lifecycle
from workflow.storage.tables import history

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _cast(w):
    w.org("E07000026", name="Allerdale Borough Council")
    w.org("E07000028", name="Carlisle City Council")
    w.org("E07000029", name="Copeland Borough Council")
    w.org("POLICE-CUMBRIA", name="Cumbria Constabulary", kind="agency")
    w.org("FIRE-CUMBRIA", name="Cumbria Fire and Rescue Service", kind="fire")
    w.person("carol", "caseworker")
    w.person("cathy", "caseworker")
    w.person("april", "approver")
    w.person("ash", "assessor")
    w.person("cllr", "council", org="E07000026")
    return w


@pytest.fixture
def w(world):
    return _cast(world)


@pytest.fixture
def aw(any_world):
    return _cast(any_world)


def _rows(w, ref):
    with w.engine.connect() as conn:
        case = lifecycle.load_case(conn, ref)
        return [
            (r.trigger, r.actor, r.payload)
            for r in conn.execute(
                select(history).where(history.c.case_id == case.id).order_by(history.c.seq)
            )
        ]


def _diligence_rows(w, ref):
    return [(actor, p) for trigger, actor, p in _rows(w, ref) if trigger == "diligence"]


def _status(w, ref):
    return {c["check"]: c["status"] for c in diligence.show(w.engine, ref, "carol")["checks"]}


def _fraud(w, ref, result="pass", rating="low", by="carol"):
    return diligence.record(
        w.engine,
        ref,
        "fraud_risk",
        by,
        result=result,
        rating=rating,
        evidence="Bank details confirmed with the council's s151 officer.",
    )


# --- the bundled files ------------------------------------------------------------------
def test_the_bundled_files_list_their_checks_with_words():
    tca = parse_programme(open("states/programmes/tca-2013.toml").read())
    pstn = parse_programme(open("states/programmes/pstn-2013.toml").read())
    assert list(tca.diligence) == [
        "lead_is_council",
        "partners_are_councils",
        "no_duplicate_bid",
        "org_in_register",
        "fraud_risk",
    ]
    assert {c for c, k in tca.diligence.items() if k.overridable} == {
        "no_duplicate_bid",
        "org_in_register",
    }
    assert tca.diligence["partners_are_councils"].categories == ("single_operation",)
    assert tca.diligence["fraud_risk"].kind == "rating"
    assert list(pstn.diligence) == ["lead_is_local_body", "no_duplicate_bid"]
    for spec in (tca, pstn):
        assert spec.words_problems() == []
        assert all(c.label and c.sentence for c in spec.diligence.values())


# --- the seed's rules -------------------------------------------------------------------
def test_a_tca_bid_led_by_a_police_force_is_submitted_but_refused_at_check(w):
    ref = w.bid(lead="POLICE-CUMBRIA", partners=["E07000028"])
    w.advance(ref, "submit")
    _fraud(w, ref)
    before = w.snapshot()

    with pytest.raises(GuardFailed) as refused:
        lifecycle.advance(w.engine, ref, "check", "carol")

    assert (
        "Lead is a council (lead_is_council) failed: the lead, Cumbria Constabulary, is an "
        "agency, not a council" in str(refused.value)
    )
    assert "cannot be overridden" in str(refused.value)
    assert w.snapshot() == before
    with pytest.raises(RuleViolation, match="cannot be overridden"):
        diligence.record(
            w.engine,
            ref,
            "lead_is_council",
            "carol",
            result="pass",
            evidence="It is a public body.",
        )
    assert w.snapshot() == before
    w.advance(ref, "declare_ineligible", reason="lead_is_council: the lead is a police force")
    assert w.state(ref) == "ineligible"


def test_a_pstn_expression_of_interest_led_by_an_agency_is_accepted(w):
    doc = {
        "programme": "pstn-2013",
        "title": "Cumbria public service reform",
        "lead": "POLICE-CUMBRIA",
        "service_areas": ["troubled families"],
        "how_to_succeed": "One team across the county.",
        "contribution": "20000",
        "partners": [
            {"name": "Allerdale Borough Council", "evidence": "Cabinet minute 12."},
            {"name": "Carlisle City Council", "evidence": "Letter of support."},
        ],
    }
    ref = lifecycle.open_case(w.engine, "area", doc, "carol")["ref"]
    lifecycle.advance(w.engine, ref, "submit", "carol")
    assert _status(w, ref) == {"lead_is_local_body": "passed", "no_duplicate_bid": "passed"}
    lifecycle.advance(w.engine, ref, "start_assessment", "carol")
    assert w.state(ref) == "under_assessment"
    runs = [p for actor, p in _diligence_rows(w, ref)]
    assert [(p["check"], p["result"], p["on"]) for p in runs] == [
        ("lead_is_local_body", "pass", "submit"),
        ("no_duplicate_bid", "pass", "submit"),
        ("lead_is_local_body", "pass", "start_assessment"),
        ("no_duplicate_bid", "pass", "start_assessment"),
    ]


# --- every check's rule, on SQLite and PostgreSQL ---------------------------------------
def test_checks_run_at_submission_are_recorded_with_their_results(aw):
    ref = aw.bid(partners=["E07000028", "E07000029"])
    aw.advance(ref, "submit")

    runs = _diligence_rows(aw, ref)
    assert [(actor, p["check"], p["result"]) for actor, p in runs] == [
        ("system", "lead_is_council", "pass"),
        ("system", "no_duplicate_bid", "pass"),
        ("system", "org_in_register", "pass"),
    ]
    assert _status(aw, ref) == {
        "lead_is_council": "passed",
        "no_duplicate_bid": "passed",
        "org_in_register": "passed",
        "fraud_risk": "missing",
    }


def test_the_checks_rows_follow_the_move_in_one_chain_that_verifies(aw):
    ref = aw.bid(partners=["E07000028", "E07000029"])
    aw.advance(ref, "submit")
    with aw.engine.connect() as conn:
        case = lifecycle.load_case(conn, ref)
        rows = conn.execute(
            select(history).where(history.c.case_id == case.id).order_by(history.c.seq)
        ).all()
        checked = chain.verify(conn, case.id)
    assert [(r.seq, r.trigger) for r in rows] == [
        (1, "create"),
        (2, "submit"),
        (3, "diligence"),
        (4, "diligence"),
        (5, "diligence"),
    ]
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert (case.last_seq, case.last_hash) == (5, rows[-1].hash)
    assert checked.ok and checked.rows == 5


def test_check_is_refused_listing_every_check_not_passed(aw):
    ref = aw.bid(
        lead="POLICE-CUMBRIA",
        partners=["E07000028", "FIRE-CUMBRIA"],
        category="single_operation",
        amount="1000000",
        arrangement=None,
        innovation=None,
    )
    aw.advance(ref, "submit")
    before = aw.snapshot()

    with pytest.raises(GuardFailed) as refused:
        lifecycle.advance(aw.engine, ref, "check", "carol")

    violations = refused.value.violations
    assert any(v.startswith("Lead is a council (lead_is_council) failed") for v in violations)
    assert any(
        "the partner Cumbria Fire and Rescue Service is a fire authority, not a council" in v
        for v in violations
    )
    assert any(
        v.startswith(
            "In the register of English councils (org_in_register) failed: "
            "Cumbria Constabulary is not in the register"
        )
        for v in violations
    )
    assert any(v.startswith("Fraud risk (fraud_risk) is not recorded yet") for v in violations)
    assert aw.snapshot() == before


def test_partners_are_councils_applies_to_single_operations_only(aw):
    shared = aw.bid(partners=["E07000028", "FIRE-CUMBRIA"])
    assert "partners_are_councils" not in _status(aw, shared)
    single = aw.bid(
        lead="E07000028",
        category="single_operation",
        amount="1000000",
        partners=["E07000029", "FIRE-CUMBRIA"],
        arrangement=None,
        innovation=None,
    )
    assert _status(aw, single)["partners_are_councils"] == "failed"
    with pytest.raises(RuleViolation, match="cannot be overridden"):
        diligence.record(
            aw.engine,
            single,
            "partners_are_councils",
            "carol",
            result="pass",
            evidence="The fire service is a partner in name only.",
        )


def test_a_duplicate_is_a_later_bid_of_the_same_lead_programme_and_category(aw):
    first = aw.bid()
    aw.advance(first, "submit")
    second = aw.bid()
    other_category = aw.bid(
        category="single_operation", amount="1000000", arrangement=None, innovation=None
    )
    aw.advance(second, "submit")

    assert _status(aw, first)["no_duplicate_bid"] == "passed"
    assert _status(aw, second)["no_duplicate_bid"] == "failed"
    assert _status(aw, other_category)["no_duplicate_bid"] == "passed"
    shown = diligence.show(aw.engine, second, "carol")
    problems = next(c["problems"] for c in shown["checks"] if c["check"] == "no_duplicate_bid")
    assert problems == [
        f"Allerdale Borough Council already has a bid in Shared arrangement in "
        f"Transformation Challenge Award 2013 ({first}), not withdrawn or rejected"
    ]
    assert _diligence_rows(aw, second)[1][1]["result"] == "fail"

    # Once the first is withdrawn the second is no longer a duplicate.
    aw.advance(first, "withdraw", reason="Council asked to withdraw: the second bid replaces it")
    assert _status(aw, second)["no_duplicate_bid"] == "passed"


def test_the_bid_submitted_first_stands_whichever_draft_was_opened_first(aw):
    draft = aw.bid()
    later = aw.bid()
    aw.advance(later, "submit")
    assert _status(aw, later)["no_duplicate_bid"] == "passed"  # a draft makes no duplicate

    aw.advance(draft, "submit")

    assert _status(aw, draft)["no_duplicate_bid"] == "failed"
    assert _status(aw, later)["no_duplicate_bid"] == "passed"
    shown = diligence.show(aw.engine, draft, "carol")
    problems = next(c["problems"] for c in shown["checks"] if c["check"] == "no_duplicate_bid")
    assert f"({later})" in problems[0]


def test_declaring_a_bid_ineligible_records_the_checks_it_rests_on(aw):
    """Declared ineligible, a bid's history holds the checks run at the decision itself,
    the run the decision rests on, after the one recorded at submission (the facts can
    change between the two: a bid of the same lead withdrawn, an application amended)."""
    first = aw.bid()
    aw.advance(first, "submit")
    later = aw.bid()
    aw.advance(later, "submit")
    assert _status(aw, later)["no_duplicate_bid"] == "failed"

    aw.advance(later, "declare_ineligible", reason="Due diligence: No duplicate bid failed.")

    runs = [
        (p["on"], p["result"])
        for actor, p in _diligence_rows(aw, later)
        if p["check"] == "no_duplicate_bid"
    ]
    assert runs == [("submit", "fail"), ("declare_ineligible", "fail")]
    assert [t for t, _, _ in _rows(aw, later)][-4:] == [
        "declare_ineligible",
        "diligence",
        "diligence",
        "diligence",
    ]
    with aw.engine.connect() as conn:
        assert chain.verify(conn, lifecycle.load_case(conn, later).id).ok


def test_org_in_register_matches_by_org_id_else_by_official_or_short_name(aw):
    from workflow.services import directory

    with aw.engine.begin() as conn:
        directory.add_org(conn, "E07000030", name="Eden", email="x@eden.example.gov.uk")
        directory.add_org(
            conn,
            "E07000031",
            name="South Lakeland Partnership",
            email="x@sl.example.gov.uk",
            org_id="GB-LAE-SLA",
        )
        directory.add_org(
            conn,
            "E07000032",
            name="Barrow-in-Furness Borough Council",
            email="x@b.example.gov.uk",
            org_id="GB-CHC-1234",
        )
    named = aw.bid(lead="E07000030", partners=["E07000031"])
    assert _status(aw, named)["org_in_register"] == "passed"
    wrong_id = aw.bid(lead="E07000032", partners=["E07000026"])
    shown = diligence.show(aw.engine, wrong_id, "carol")
    check = next(c for c in shown["checks"] if c["check"] == "org_in_register")
    assert check["status"] == "failed"
    assert check["problems"] == [
        "Barrow-in-Furness Borough Council's org-id GB-CHC-1234 is not "
        "an English council in the register (GB-LAE-…)"
    ]


def test_an_overridable_check_is_overridden_by_a_caseworkers_pass_with_evidence(aw):
    first = aw.bid()
    aw.advance(first, "submit")
    second = aw.bid(title="A second procurement hub")
    aw.advance(second, "submit")
    _fraud(aw, second)
    with pytest.raises(GuardFailed, match="no_duplicate_bid"):
        lifecycle.advance(aw.engine, second, "check", "carol")

    diligence.record(
        aw.engine,
        second,
        "no_duplicate_bid",
        "carol",
        result="pass",
        evidence="A different service: the first bid is for waste collection.",
    )

    assert _status(aw, second)["no_duplicate_bid"] == "overridden"
    lifecycle.advance(aw.engine, second, "check", "carol")
    assert aw.state(second) == "eligible"
    at_check = [p for _, p in _diligence_rows(aw, second) if p.get("on") == "check"]
    dup = next(p for p in at_check if p["check"] == "no_duplicate_bid")
    assert dup["result"] == "fail" and dup["overridden"] is True


def test_a_failed_manual_check_refuses_check_and_the_bid_is_declared_ineligible(aw):
    ref = aw.bid()
    aw.advance(ref, "submit")
    _fraud(aw, ref, result="fail", rating="high")
    with pytest.raises(GuardFailed) as refused:
        lifecycle.advance(aw.engine, ref, "check", "carol")
    assert refused.value.violations == (
        f"Fraud risk (fraud_risk) was recorded as failed by carol: declare {ref} ineligible, "
        f"naming the check",
    )
    aw.advance(ref, "declare_ineligible", reason="fraud_risk: the bank details do not match")
    assert aw.state(ref) == "ineligible"


def test_a_high_fraud_rating_is_a_fact_the_offer_can_read(aw):
    from workflow.services.facts import facts_for

    ref = aw.bid()
    aw.advance(ref, "submit")
    _fraud(aw, ref, rating="medium")
    _fraud(aw, ref, rating="high")
    with aw.engine.connect() as conn:
        facts = facts_for(
            conn,
            lifecycle.load_case(conn, ref),
            actor="april",
            now=__import__("workflow.clock").clock.now(),
            needs=frozenset({"diligence"}),
        )
    assert facts.fraud_rating == "high"
    assert diligence.show(aw.engine, ref, "carol")["fraud_rating"] == "high"
    lifecycle.advance(aw.engine, ref, "check", "carol")  # a high risk passes: the SRO signs later


def test_a_record_keeps_its_evidence_file_who_and_when(aw, tmp_path, monkeypatch):
    monkeypatch.setenv("CASEWORK_FILES", str(tmp_path / "files"))
    ref = aw.bid()
    aw.advance(ref, "submit")
    shown = diligence.record(
        aw.engine,
        ref,
        "fraud_risk",
        "carol",
        result="pass",
        rating="low",
        evidence="Checked\tagainst the register.\nNo concerns.",
        attachment=("checks.pdf", PDF),
    )
    fraud = next(c for c in shown["checks"] if c["check"] == "fraud_risk")
    assert fraud["status"] == "passed"
    assert fraud["recorded"]["by"] == "carol" and fraud["recorded"]["rating"] == "low"
    assert fraud["recorded"]["evidence"] == "Checked\tagainst the register.\nNo concerns."
    assert fraud["recorded"]["attachment"]["name"] == "checks.pdf"
    assert shown["passed"] and shown["still_needed"] == []


# --- bad input: one-line refusals naming the rule, nothing written ------------------------
@pytest.mark.parametrize(
    "code,kwargs,error,words",
    [
        (
            "credit_check",
            {"result": "pass"},
            RuleViolation,
            "'credit_check' is not a due-diligence check of tca-2013 (its checks for TCA-2013-0001: "
            "lead_is_council, no_duplicate_bid, org_in_register, fraud_risk)",
        ),
        (
            "no_duplicate_bid",
            {"result": "pass", "rating": "low"},
            RuleViolation,
            "No duplicate bid (no_duplicate_bid) is a pass or fail check and takes no rating",
        ),
        (
            "fraud_risk",
            {"result": "pass"},
            RuleViolation,
            "Fraud risk (fraud_risk) needs a rating, low, medium or high",
        ),
        (
            "fraud_risk",
            {"result": "maybe", "rating": "low"},
            Malformed,
            # Named as people know the check (DESIGN section 12), with the code they typed.
            "The record of Fraud risk (fraud_risk) was refused: result: 'maybe' is not pass or fail",
        ),
        (
            "fraud_risk",
            {"result": "pass", "rating": "severe"},
            Malformed,
            "rating: 'severe' is not low, medium or high",
        ),
        (
            "fraud_risk",
            {"result": "pass", "rating": "low", "evidence": "ok\x1b[31m"},
            Malformed,
            "evidence",
        ),
        (
            "fraud_risk",
            {"result": "pass", "rating": "low", "evidence": "ok\u202e"},
            Malformed,
            "evidence",
        ),
        (
            "fraud_risk",
            {"result": "pass", "rating": "low", "evidence": "  "},
            RuleViolation,
            "the evidence must say what the result rests on",
        ),
        (
            "fraud_risk",
            {"result": "pass", "rating": "low", "by": "april"},
            PermissionDenied,
            "april may not record due diligence on TCA-2013-0001: only a caseworker may.",
        ),
        (
            "fraud_risk",
            {"result": "pass", "rating": "low", "by": "ash"},
            PermissionDenied,
            "only a caseworker may",
        ),
        (
            "fraud_risk",
            {"result": "pass", "rating": "low", "by": "cllr"},
            PermissionDenied,
            "cllr may not record due diligence on TCA-2013-0001: only a caseworker may.",
        ),
        (
            "lead_is_council",
            {"result": "pass"},
            RuleViolation,
            "Lead is a council (lead_is_council) is run by casework and cannot be overridden",
        ),
        (
            "fraud_risk",
            {"result": "pass", "rating": "low", "attachment": ("virus.exe", b"MZ")},
            Malformed,
            "virus.exe",
        ),
    ],
)
def test_bad_records_are_refused_in_one_line_naming_the_rule_and_write_nothing(
    aw, code, kwargs, error, words
):
    ref = aw.bid()
    assert ref == "TCA-2013-0001"
    aw.advance(ref, "submit")
    before = aw.snapshot()
    kwargs = dict(kwargs)  # the parameters are shared by both databases' runs
    by = kwargs.pop("by", "carol")
    kwargs.setdefault("evidence", "Checked.")

    with pytest.raises(error) as refused:
        diligence.record(aw.engine, ref, code, by, **kwargs)

    assert words in str(refused.value)
    assert "\n" not in str(refused.value)
    assert aw.snapshot() == before


def test_diligence_is_recorded_before_eligibility_only(aw):
    ref = aw.bid()
    with pytest.raises(RuleViolation, match="is draft: due diligence is recorded before"):
        _fraud(aw, ref)
    aw.advance(ref, "submit", "check")
    before = aw.snapshot()
    with pytest.raises(RuleViolation, match="is eligible: due diligence"):
        _fraud(aw, ref)
    assert aw.snapshot() == before


def test_a_programme_file_marks_which_checks_may_be_overridden():
    base = open("states/programmes/tca-2013.toml").read()
    with pytest.raises(Exception) as refused:
        parse_programme(
            base + '\n[diligence.credit]\nkind = "manual"\noverridable = true\n'
            'label = "Credit"\nsentence = "A credit check."\n'
            '[diligence.made_up]\nkind = "automatic"\n'
            '[diligence.vibes]\nkind = "manual"\n'
            '[diligence.partners_are_councils2]\nkind = "rating"\n'
            'categories = ["big_grants"]\nlabel = "x"\nsentence = "y"\n'
        )
    text = str(refused.value)
    assert "diligence.credit.overridable: only an automatic check is overridden" in text
    assert "diligence.made_up: casework runs no automatic check 'made_up'" in text
    assert "diligence.vibes.label: missing" in text
    assert "diligence.partners_are_councils2.categories: 'big_grants' is not a category" in text


def test_lead_is_council_is_never_overridable_whatever_a_file_says():
    base = open("states/programmes/tca-2013.toml").read()
    marked = base.replace(
        'kind = "automatic"                 # "a £9 million reward for councils"',
        'overridable = true\nkind = "automatic"  #',
        1,
    )
    assert marked != base
    with pytest.raises(
        Exception,
        match="diligence.lead_is_council.overridable: lead_is_council is never overridden",
    ):
        parse_programme(marked)


def test_a_programme_file_may_make_a_check_overridable_and_only_that_one_is(aw):
    """Overrides are allowed only where the file says: a file marking partners_are_councils
    overridable lets a caseworker's pass stand on it, and org_in_register no longer."""
    from workflow.services import programme_files

    source = dict(programme_files.bundled_sources())["tca-2013.toml"]
    changed = source.replace(
        'categories = ["single_operation"]  # "groups of councils" moving to a single operation',
        'categories = ["single_operation"]\noverridable = true',
        1,
    )
    changed = changed.replace(
        "overridable = true                 # the register ends in 2020: a caseworker may vouch",
        "overridable = false",
        1,
    )
    assert changed.count("overridable = true") == 2  # no_duplicate_bid and partners
    with aw.engine.begin() as conn:
        programme_files.load(conn, changed, "tca-2013.toml")
    ref = aw.bid(
        lead="E07000028",
        category="single_operation",
        amount="1000000",
        partners=["E07000029", "FIRE-CUMBRIA"],
        arrangement=None,
        innovation=None,
    )
    aw.advance(ref, "submit")

    diligence.record(
        aw.engine,
        ref,
        "partners_are_councils",
        "carol",
        result="pass",
        evidence="The fire authority shares the councils' back office by statute.",
    )
    assert _status(aw, ref)["partners_are_councils"] == "overridden"
    before = aw.snapshot()
    with pytest.raises(RuleViolation, match="cannot be overridden"):
        diligence.record(
            aw.engine, ref, "org_in_register", "carol", result="pass", evidence="A public body."
        )
    assert aw.snapshot() == before
