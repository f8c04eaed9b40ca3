"""Opening and advancing cases: one transaction each, refusals change nothing."""

import pytest

from states import DEFINITIONS
from states.roles import CASE_ROLES
from states.rules import ACTOR_RULES, RULES
from workflow.services import lifecycle
from workflow.services.engine import Actor, plan
from workflow.errors import (
    CaseNotFound,
    GuardFailed,
    InvalidTransition,
    Malformed,
    PermissionDenied,
    PersonNotFound,
    ReasonRequired,
)
from workflow.services.chain import verify


@pytest.fixture
def w(world):
    return world.cast()


def test_opening_a_bid_gives_a_reference_and_a_first_history_row(w):
    ref = w.bid(by="cllr")

    assert ref == "TCA-2013-0001"
    case = lifecycle.show(w.engine, ref)
    assert (case["state"], case["version"], case["amount"]) == ("draft", 1, "250000.00")
    assert case["application"]["arrangement"] == "joint_procurement"
    [row] = lifecycle.case_history(w.engine, ref)
    assert (row["seq"], row["from_state"], row["to_state"], row["trigger"]) == (
        1,
        None,
        "draft",
        "create",
    )
    assert (row["actor"], row["role"]) == ("cllr", "council")


def test_references_count_up_per_programme(w):
    assert [w.bid(), w.bid()] == ["TCA-2013-0001", "TCA-2013-0002"]


@pytest.mark.parametrize(
    "field,value,named",
    [
        ("amount", "£250,000", "amount"),
        ("amount", "250000.001", "amount"),
        ("amount", 2.5e5, "amount"),
        ("programme", "tca-2099", "programme"),
        ("category", "big_society", "category"),
        ("lead", "E99999999", "lead"),
        ("partners", ["E07000026"], "partners"),
    ],
)
def test_a_malformed_application_is_refused_and_creates_nothing(w, field, value, named):
    before = w.snapshot()

    with pytest.raises(Malformed, match=named):
        w.bid(**{field: value})

    assert w.snapshot() == before


def test_a_council_person_cannot_open_a_bid_for_another_council(w):
    before = w.snapshot()

    with pytest.raises(PermissionDenied, match="E07000028"):
        w.bid(by="cllr", lead="E07000028", partners=["E07000026"])

    assert w.snapshot() == before


def test_an_auditor_reads_everything_and_changes_nothing(w):
    ref = w.bid()
    before = w.snapshot()

    for trigger in ("submit", "withdraw"):
        with pytest.raises(PermissionDenied, match="audrey"):
            lifecycle.advance(w.engine, ref, trigger, "audrey")
    with pytest.raises(PermissionDenied):
        w.bid(by="audrey")

    assert w.snapshot() == before
    assert lifecycle.show(w.engine, ref, "audrey")["allowed_triggers"] == []


def test_a_trigger_not_allowed_now_names_the_ones_that_are(w):
    ref = w.bid()
    before = w.snapshot()

    with pytest.raises(InvalidTransition) as refused:
        lifecycle.advance(w.engine, ref, "offer", "april")

    assert "is Draft, so it cannot be 'Offer the award'" in str(refused.value)
    assert refused.value.allowed == ()  # april, an approver, may fire nothing on a draft
    with pytest.raises(InvalidTransition, match="Allowed now: Submit the bid, Withdraw"):
        lifecycle.advance(w.engine, ref, "offer", "carol")
    assert w.snapshot() == before


def test_a_guard_that_fails_lists_every_violation_and_the_bid_stays_where_it_was(w):
    ref = w.bid(amount="600000", arrangement=None, innovation=None)
    before = w.snapshot()

    with pytest.raises(GuardFailed) as refused:
        lifecycle.advance(w.engine, ref, "submit", "cllr")

    text = " ".join(refused.value.violations)
    assert "£600,000" in text and "arrangement" in text and "innovation" in text
    assert w.state(ref) == "draft"
    assert w.snapshot() == before


def test_declaring_a_bid_ineligible_needs_a_reason(w):
    ref = w.bid()
    w.advance(ref, "submit")
    before = w.snapshot()

    with pytest.raises(ReasonRequired, match="needs a reason"):
        lifecycle.advance(w.engine, ref, "declare_ineligible", "carol")

    assert w.snapshot() == before
    w.advance(ref, "declare_ineligible", reason="due diligence: accounts not filed")
    assert w.state(ref) == "ineligible"
    declared = [
        r for r in lifecycle.case_history(w.engine, ref) if r["trigger"] == "declare_ineligible"
    ]
    assert [r["reason"] for r in declared] == ["due diligence: accounts not filed"]


def test_a_partner_council_can_read_but_not_act(w):
    w.person("pat", "council", org="E07000028")
    ref = w.bid()
    with pytest.raises(CaseNotFound):  # a draft is the lead council's alone
        lifecycle.show(w.engine, ref, "pat")
    w.advance(ref, "submit")

    with pytest.raises(PermissionDenied, match="not a person of E07000026"):
        lifecycle.advance(w.engine, ref, "withdraw", "pat", reason="We have left the partnership")
    assert lifecycle.show(w.engine, ref, "pat")["allowed_triggers"] == []


def test_unknown_cases_and_people_are_named(w):
    ref = w.bid()
    with pytest.raises(CaseNotFound, match="TCA-2013-0099"):
        lifecycle.advance(w.engine, "TCA-2013-0099", "submit", "carol")
    with pytest.raises(PersonNotFound, match="mallory"):
        lifecycle.advance(w.engine, ref, "submit", "mallory")


def test_each_move_writes_one_chained_history_row(w):
    ref = w.bid()

    w.advance(ref, "submit", "check", "start_assessment")

    every = lifecycle.case_history(w.engine, ref)
    rows = [r for r in every if r["trigger"] != "diligence"]  # one row for each move
    assert [r["to_state"] for r in rows] == ["draft", "submitted", "eligible", "under_assessment"]
    assert [r["seq"] for r in every] == list(range(1, len(every) + 1))
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(every, every[1:]))
    # Beside them, due diligence's rows: no state of their own.
    assert all(r["from_state"] == r["to_state"] for r in every if r["trigger"] == "diligence")
    assert lifecycle.show(w.engine, ref)["version"] == 4
    with w.engine.connect() as conn:
        assert verify(conn).ok


def test_a_stale_version_is_a_conflict_and_writes_nothing(w):
    from workflow.errors import ConflictError

    ref = w.bid()
    before = w.snapshot()

    with pytest.raises(ConflictError, match="changed since you looked"):
        lifecycle.advance(w.engine, ref, "submit", "carol", expected_version=7)

    assert w.snapshot() == before


# --- every transition of every definition, allowed and refused, by role -------
def _cases():
    for definition in DEFINITIONS.values():
        for t in definition.transitions:
            for source in t.sources:
                for role in sorted(CASE_ROLES):
                    yield pytest.param(
                        definition,
                        t,
                        source,
                        role,
                        id=f"{definition.kind}-{t.trigger}-from-{source}-as-{role}",
                    )


@pytest.mark.parametrize("definition,t,source,role", list(_cases()))
def test_every_transition_is_allowed_to_its_roles_and_refused_to_the_rest(
    definition, t, source, role
):
    actor = Actor("someone", frozenset({role}), org="LEAD" if role == "council" else None)

    def fire():
        return plan(
            definition,
            "REF",
            source,
            t.trigger,
            actor,
            lead="LEAD",
            reason="because",
            facts=None,
            rules=RULES,
            actor_rules=ACTOR_RULES,
        )

    if role in t.roles:
        assert fire().dest == t.dest
    else:
        with pytest.raises(PermissionDenied):
            fire()


@pytest.mark.parametrize("definition", DEFINITIONS.values(), ids=lambda d: d.kind)
def test_every_trigger_is_refused_from_states_that_do_not_define_it(definition):
    actor = Actor("everyone", frozenset(CASE_ROLES), org="LEAD")
    for state in definition.states:
        for trigger in definition.triggers:
            if definition.machine.transition_for(trigger, state) is None:
                with pytest.raises(InvalidTransition):
                    plan(
                        definition,
                        "REF",
                        state,
                        trigger,
                        actor,
                        lead="LEAD",
                        reason="r",
                        facts=None,
                        rules=RULES,
                        actor_rules=ACTOR_RULES,
                    )


def test_a_case_a_council_opened_gets_the_first_caseworker_who_acts_on_it(w):
    ref = w.bid(by="cllr")
    w.advance(ref, "submit", by="cllr")
    assert lifecycle.show(w.engine, ref)["caseworker"] is None

    w.advance(ref, "check", by="carol")

    assert lifecycle.show(w.engine, ref)["caseworker"] == "carol"


def test_an_organisations_list_holds_the_cases_it_leads_or_partners_paged_in_case_order(w):
    w.org("E07000030")
    led = w.bid()  # E07000026 leads
    elsewhere = w.bid(lead="E07000030", partners=["E07000028"])  # none of E07000026's
    partnered = w.bid(lead="E07000028", partners=["E07000026"])  # E07000026 a partner
    w.advance(partnered, "submit")  # (a partner sees no draft: it is its lead's alone)
    led_too = w.bid()

    whole = [c["ref"] for c in lifecycle.list_cases(w.engine, org="E07000026")]
    assert whole == [led, partnered, led_too]
    assert elsewhere not in whole

    first = lifecycle.list_cases(w.engine, org="E07000026", limit=2)
    assert [c["ref"] for c in first] == [led, partnered]
    with w.engine.connect() as conn:
        after = lifecycle.load_case(conn, partnered).id
    rest = lifecycle.list_cases(w.engine, org="E07000026", after_id=after, limit=2)
    assert [c["ref"] for c in rest] == [led_too]
    assert [
        c["ref"]
        for c in lifecycle.list_cases(
            w.engine, org="E07000026", state="draft", kind="bid", programme="TCA-2013"
        )
    ] == [led, led_too]
    assert lifecycle.list_cases(w.engine, org="E09999999") == []
