"""Variations of an award (DESIGN.md section 8), allowed and refused, per role, on both databases."""

import hashlib
from datetime import datetime, timezone

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from workflow.errors import (
    CaseNotFound,
    GuardFailed,
    InvalidTransition,
    Malformed,
    PermissionDenied,
    ReasonRequired,
    RuleViolation,
)
from workflow.services import agreements, chain, variations
from workflow.storage.tables import outbox
from workflow.storage.tables import (
    agreements as agreements_t,
    cases,
    history,
    ledger,
    variations as variations_t,
)

from tests.builders import World
from tests.workflow.test_agreements import pdf_text
from tests.workflow.awarding import ledger_pence
from tests.workflow.monitoring_world import bid_in_monitoring

ACCEPTED = datetime(2013, 10, 1, 10, tzinfo=timezone.utc)
LATER = datetime(2014, 1, 15, 11, tzinfo=timezone.utc)


@pytest.fixture
def world(any_db):
    return World(any_db).cast()


def _award(engine) -> str:
    return bid_in_monitoring(World(engine), ACCEPTED)


@pytest.fixture
def award(world, built_once):
    """A £250,000 shared-arrangement award in monitoring, led by the council of `cllr` (built
    once a run, copied for each test)."""
    ref = built_once.into(world.engine, "variations-award", _award)
    world.adopt()
    return ref


def rows(world):
    """Everything a refused variation must leave as it was."""
    with world.engine.connect() as conn:
        count = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar()
            for t in (history, ledger, variations_t, agreements_t, outbox)
        }
        count["cases"] = [
            tuple(r)
            for r in conn.execute(
                select(
                    cases.c.ref,
                    cases.c.state,
                    cases.c.version,
                    cases.c.amount_pence,
                    cases.c.last_seq,
                ).order_by(cases.c.id)
            )
        ]
        count["variation_rows"] = [
            tuple(r)
            for r in conn.execute(
                select(variations_t.c.ref, variations_t.c.state, variations_t.c.version)
            )
        ]
        return count


def propose(world, ref, by="cllr", **kw):
    kw.setdefault("reason", "Two more districts join the hub.")
    with freeze_time(LATER):
        return variations.propose(world.engine, ref, actor=by, **kw)


def decide(world, vref, decision, by="aaron", **kw):
    with freeze_time(LATER):
        if decision == "approve" and by in ("aaron", "april"):
            countersign_if_needed(world, vref, by)
        return variations.decide(world.engine, vref, decision, by, **kw)


def countersign_if_needed(world, vref, approving):
    """An increase above £100,000 is countersigned first by the other approver (section 9)."""
    other = "april" if approving == "aaron" else "aaron"
    try:
        variations.countersign(world.engine, vref, other)
    except (GuardFailed, PermissionDenied) as err:
        if not any(
            w in str(err)
            for w in ("needs no", "no other countersignature", "already countersigned")
        ):
            raise


def variation_rows(world, ref):
    with world.engine.connect() as conn:
        return [
            (r.trigger, r.payload)
            for r in conn.execute(
                select(history.c.trigger, history.c.payload)
                .join(cases, cases.c.id == history.c.case_id)
                .where(cases.c.ref == ref, history.c.trigger.like("%variation"))
                .order_by(history.c.seq)
            )
        ]


def test_the_lead_council_proposes_and_an_approver_approves_an_increase(world, award):
    before = ledger_pence(world.engine, "tca-2013")

    proposed = propose(world, award, amount="300000")
    approved = decide(world, proposed["ref"], "approve")

    assert proposed["ref"] == f"{award}/V1" and proposed["state"] == "awaiting_decision"
    assert approved["state"] == "approved" and approved["agreement_version"] == 2
    assert ledger_pence(world.engine, "tca-2013") == before + 5_000_000  # £50,000 reserved
    with world.engine.connect() as conn:
        assert (
            conn.execute(select(cases.c.amount_pence).where(cases.c.ref == award)).scalar()
            == 30_000_000
        )
        assert chain.verify(conn).ok
    shown, pdf = agreements.document(world.engine, award, 2)
    assert shown["variation"] == f"{award}/V1" and shown["amount"] == "300000.00"
    assert agreements.document(world.engine, award, 1)[0]["amount"] == "250000.00"  # still kept
    (_, proposed_row), (signed, signed_row), (_, approved_row) = variation_rows(world, award)
    assert (signed, signed_row) == (
        "countersign_variation",
        {"variation": "V1", "amount": "300000.00"},
    )
    assert proposed_row["variation"] == "V1" and proposed_row["amount"] == "300000.00"
    assert approved_row["agreement"] == {"version": 2, "sha256": shown["sha256"]}
    assert approved_row["reserved"] == "50000.00"


def test_a_decrease_releases_the_difference(world, award):
    before = ledger_pence(world.engine, "tca-2013")

    decide(world, propose(world, award, by="carol", amount="200000")["ref"], "approve")

    assert ledger_pence(world.engine, "tca-2013") == before - 5_000_000
    assert variation_rows(world, award)[-1][1]["released"] == "50000.00"


def test_a_new_end_date_is_the_next_agreements_end(world, award):
    decide(world, propose(world, award, end="2015-06-30")["ref"], "approve")

    assert agreements.listing(world.engine, award)["versions"][-1]["end_on"] == "2015-06-30"


def test_a_rejection_needs_a_reason_and_leaves_the_award_as_it_was(world, award):
    vref = propose(world, award, amount="300000")["ref"]
    before = rows(world)

    with pytest.raises(ReasonRequired):
        decide(world, vref, "reject")
    assert rows(world) == before

    rejected = decide(world, vref, "reject", reason="The fund is committed elsewhere.")
    assert rejected["state"] == "rejected"
    assert rows(world)["ledger"] == before["ledger"]
    assert rows(world)["agreements"] == before["agreements"]


@pytest.mark.parametrize(
    "by, refusal",
    [
        ("carol", PermissionDenied),  # a caseworker does not decide
        ("cllr", PermissionDenied),  # nor does the council
        ("ash", PermissionDenied),  # nor an assessor
    ],
)
def test_only_an_approver_decides_a_variation(world, award, by, refusal):
    vref = propose(world, award, amount="300000")["ref"]
    before = rows(world)

    with pytest.raises(refusal, match="only an approver"):
        decide(world, vref, "approve", by=by)

    assert rows(world) == before


@pytest.mark.parametrize("by", ["ash", "april", "audrey"])
def test_only_the_lead_council_or_the_caseworker_proposes(world, award, by):
    before = rows(world)

    with pytest.raises(PermissionDenied, match="propose a variation"):
        propose(world, award, by=by, amount="300000")

    assert rows(world) == before


def test_another_councils_person_cannot_see_the_award_to_vary_it(world, award):
    world.org("E09000001")
    world.person("other", "council", org="E09000001")
    before = rows(world)

    with pytest.raises(CaseNotFound):
        propose(world, award, by="other", amount="300000")

    assert rows(world) == before


def test_a_variation_only_varies_an_award_in_monitoring(world):
    from tests.workflow.awarding import offer, recommended

    ref = recommended(world)
    offer(world, ref)  # offered, not yet accepted
    before = rows(world)

    with pytest.raises(RuleViolation, match="only on an award in monitoring"):
        propose(world, ref, amount="300000")

    assert rows(world) == before


@pytest.mark.parametrize(
    "amount, words",
    [
        ("600000", "Shared arrangement awards are at most £500,000: a total of £600,000"),
        ("40000", "Shared arrangement awards are at least £50,000: a total of £40,000"),
    ],
)
def test_an_amount_outside_the_band_is_refused_when_proposed(world, award, amount, words):
    # The band is the programme file's and never moves with the fund, so a total outside it
    # could never be approved: it is refused at once rather than left for an approver.
    before = rows(world)

    with pytest.raises(RuleViolation, match=words):
        propose(world, award, amount=amount)

    assert rows(world) == before


def test_an_increase_past_the_fund_is_refused_at_approval(world, award):
    from tests.workflow.awarding import load_programme, small_programme

    load_programme(world, small_programme("tca-2013", fund="260000"))
    vref = propose(world, award, amount="300000")["ref"]
    before = rows(world)

    with pytest.raises(GuardFailed, match="past the fund"):
        decide(world, vref, "approve")

    assert rows(world) == before


@pytest.mark.parametrize(
    "kw, words",
    [
        ({"amount": "3OO,000"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"end": "31/03/2015"}, "YYYY-MM-DD"),
        ({"end": "2015-02-30"}, "2015-02-30. is not a day of the calendar"),
        ({"reason": "More\x1b[2J districts"}, "reason"),
    ],
)
def test_malformed_input_is_refused_naming_the_rule_and_writes_nothing(world, award, kw, words):
    before = rows(world)

    with pytest.raises(Malformed, match=words):
        propose(world, award, **kw)

    assert rows(world) == before


@pytest.mark.parametrize(
    "kw, words",
    [
        ({"amount": "0"}, "£0 is not an award"),
        ({"amount": "250000"}, "already £250,000"),
        ({"end": "2013-12-31"}, "31 December 2013 is not after today .15 January 2014"),
        ({"end": "2014-01-15"}, "15 January 2014 is not after today"),
        ({"reason": "   "}, "needs a reason"),
    ],
)
def test_a_well_formed_proposal_that_is_no_variation_is_refused_by_the_rules(
    world, award, kw, words
):
    before = rows(world)

    with pytest.raises(RuleViolation, match=words):
        propose(world, award, **kw)

    assert rows(world) == before


def test_an_end_date_the_award_already_has_is_refused(world, award):
    vref = propose(world, award, end="2015-06-30")["ref"]
    decide(world, vref, "approve")
    before = rows(world)

    with pytest.raises(RuleViolation, match="already ends on 30 June 2015: give a new end date"):
        propose(world, award, end="2015-06-30", amount="300000")

    assert rows(world) == before
    assert propose(world, award, end="2015-09-30")["end_on"] == "2015-09-30"


def test_a_change_of_scope_alone_is_a_variation_its_reason_describes(world, award):
    # DESIGN.md section 8: "a change to the amount, the end date or the scope".
    shown = propose(world, award, reason="The hub also serves the fire service.")

    assert (shown["amount"], shown["end_on"], shown["state"]) == (None, None, "awaiting_decision")


def test_one_variation_waits_for_a_decision_at_a_time(world, award):
    propose(world, award, amount="300000")
    before = rows(world)

    with pytest.raises(RuleViolation, match="V1 is still waiting"):
        propose(world, award, amount="350000")

    assert rows(world) == before


def test_a_decided_variation_cannot_be_decided_again(world, award):
    vref = propose(world, award, amount="300000")["ref"]
    decide(world, vref, "approve")
    before = rows(world)

    with pytest.raises(InvalidTransition):
        decide(world, vref, "reject", reason="Too late.")

    assert rows(world) == before


def test_variations_are_listed_by_case_and_a_council_sees_its_own(world, award):
    vref = propose(world, award, amount="300000")["ref"]
    world.org("E09000001")
    world.person("other", "council", org="E09000001")

    listed = variations.list_variations(world.engine, case=award)

    assert [v["ref"] for v in listed] == [vref]
    assert listed[0]["previous_amount"] == "250000.00"
    assert variations.list_variations(world.engine, actor_name="other") == []
    assert [v["ref"] for v in variations.list_variations(world.engine, actor_name="cllr")] == [vref]
    assert variations.get(world.engine, vref, "aaron")["allowed_triggers"] == [
        "approve_variation",
        "countersign_variation",
        "reject_variation",
    ]


def test_a_reference_that_is_not_a_variations_is_refused(world, award):
    with pytest.raises(Malformed, match="not a variation's reference"):
        decide(world, f"{award}/Q1", "approve")


def payment_amounts(world, ref):
    from workflow.services import payments

    return {
        p["ref"].rsplit("/", 1)[1]: (p["state"], p["amount"])
        for p in payments.list_payments(world.engine, case=ref)
    }


def pay_p1(world, ref):
    from workflow.services import payments

    world.person("fiona", "finance")
    with freeze_time(LATER):
        payments.move(world.engine, f"{ref}/P1", "approve", "april")
        payments.move(world.engine, f"{ref}/P1", "pay", "fiona", reference="BACS-0001")


def test_approval_replans_the_unpaid_tranches_for_the_varied_award(world, award):
    assert payment_amounts(world, award) == {"P1": ("due", "125000.00")}

    decide(world, propose(world, award, amount="300000")["ref"], "approve")

    assert payment_amounts(world, award) == {"P1": ("due", "150000.00")}
    words = pdf_text(agreements.document(world.engine, award, 2)[1])[1]
    assert "£150,000" in words and "£75,000" in words  # P1 50%, P2 and P3 25% each
    with world.engine.connect() as conn:
        assert chain.verify(conn).ok


def test_a_paid_tranche_is_never_replanned(world, award):
    pay_p1(world, award)

    decide(world, propose(world, award, amount="300000")["ref"], "approve")

    assert payment_amounts(world, award) == {"P1": ("paid", "125000.00")}
    words = pdf_text(agreements.document(world.engine, award, 2)[1])[1]
    # P1 as paid; P2 its 25% of the new award; P3 what is left
    assert "£125,000" in words and "£75,000" in words and "£100,000" in words
    assert "(paid)" in words


def test_an_award_cannot_be_varied_below_what_is_paid(world, award):
    pay_p1(world, award)
    before = rows(world)

    with pytest.raises(RuleViolation, match="already been paid £125,000"):
        propose(world, award, amount="100000")

    assert rows(world) == before


def test_two_approvers_approving_one_variation_at_once_approve_it_once(world, award):
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from workflow.errors import CaseworkError

    vref = propose(world, award, amount="300000")["ref"]
    world.person("abby", "approver")  # above £100,000: a third approver countersigns
    with freeze_time(LATER):
        variations.countersign(world.engine, vref, "abby")
    before = ledger_pence(world.engine, "tca-2013")
    start = threading.Barrier(2)

    def one(who):
        start.wait()
        try:
            variations.decide(world.engine, vref, "approve", who)
            return None
        except CaseworkError as err:
            return err

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcome = list(pool.map(one, ["april", "aaron"]))

    assert sum(err is None for err in outcome) == 1
    assert ledger_pence(world.engine, "tca-2013") == before + 5_000_000  # reserved once
    assert [v["version"] for v in agreements.listing(world.engine, award)["versions"]] == [1, 2]
    with world.engine.connect() as conn:
        assert chain.verify(conn).ok


# --- the countersignature of an increase above £100,000 (DESIGN.md section 9) -------------
def test_an_increase_above_the_threshold_needs_a_second_approvers_countersignature(world, award):
    vref = propose(world, award, amount="300000")["ref"]
    before = rows(world)

    with freeze_time(LATER), pytest.raises(GuardFailed) as refused:
        variations.decide(world.engine, vref, "approve", "aaron")
    assert refused.value.violations == (
        f"the variation raises {award}'s award from £250,000 to £300,000, above the "
        f"programme's countersignature threshold of £100,000: it needs a second approver's "
        f"countersignature (casework variation countersign), by an approver who neither "
        f"approves it nor assessed the bid",
    )
    with freeze_time(LATER), pytest.raises(PermissionDenied, match="only an approver may"):
        variations.countersign(world.engine, vref, "carol")
    with freeze_time(LATER), pytest.raises(PermissionDenied, match="you assessed"):
        _countersign_as_assessor_approver(world, vref)
    assert rows(world) == before

    with freeze_time(LATER):
        variations.countersign(world.engine, vref, "april")
        with pytest.raises(PermissionDenied, match="you have already countersigned"):
            variations.countersign(world.engine, vref, "april")
        with pytest.raises(PermissionDenied, match="you countersigned .* cannot also approve"):
            variations.decide(world.engine, vref, "approve", "april")
        approved = variations.decide(world.engine, vref, "approve", "aaron")
    assert approved["state"] == "approved"


def _countersign_as_assessor_approver(world, vref):
    """alex, an approver who declared on the bid as an assessor, tries to countersign."""
    world.person("alex", "assessor", "approver")
    from workflow.storage.tables import declarations

    with world.engine.begin() as conn:
        case_id = conn.execute(select(cases.c.id).where(cases.c.ref == vref.split("/")[0])).scalar()
        conn.execute(
            declarations.insert().values(
                case_id=case_id, person="alex", conflict=False, reason=None, at=LATER
            )
        )
    variations.countersign(world.engine, vref, "alex")


@pytest.mark.parametrize("amount", ["200000", "250000.01"])
def test_a_decrease_or_an_increase_to_a_total_needing_none_is_not_countersigned(
    world, award, amount
):
    vref = propose(world, award, by="carol", amount=amount)["ref"]
    before = rows(world)
    if amount == "200000":
        with freeze_time(LATER), pytest.raises(GuardFailed, match="needs no countersignature"):
            variations.countersign(world.engine, vref, "april")
        assert rows(world) == before
        decide(world, vref, "approve")
    else:  # a penny more, above the threshold: it needs one
        with freeze_time(LATER), pytest.raises(GuardFailed, match="second approver"):
            variations.decide(world.engine, vref, "approve", "aaron")


# --- who is told (the variation's emails, queued with its history rows) -------------------
def mail_about_variations(world, ref):
    with world.engine.connect() as conn:
        return [
            (r.kind, r.to_addrs, r.cc_addrs, r.subject, r.body_text)
            for r in conn.execute(
                select(
                    outbox.c.kind,
                    outbox.c.to_addrs,
                    outbox.c.cc_addrs,
                    outbox.c.subject,
                    outbox.c.body_text,
                )
                .where(outbox.c.case_ref == ref, outbox.c.kind.like("variation.%"))
                .order_by(outbox.c.id)
            )
        ]


def at(name):
    return f"{name}@casework.example.gov.uk"


COUNCIL = "returns@e07000026.example.gov.uk"


def test_a_councils_increase_asks_a_countersignature_then_a_decision_then_tells_the_council(
    world, award
):
    vref = propose(world, award, amount="300000")["ref"]

    # The council asked for it, so only the approvers (copied to the caseworker) hear of it;
    # £300,000 is above the £100,000 threshold: a countersignature comes first.
    [(kind, to, cc, subject, body)] = mail_about_variations(world, award)
    assert (kind, to, cc) == ("variation.to_countersign", [at("aaron"), at("april")], [at("carol")])
    assert subject == f"{award}: variation V1 needs a countersignature"
    flat = " ".join(body.split())
    assert "from £250,000 to £300,000" in flat and "Two more districts join the hub." in flat
    # The command as written runs (every command that changes something needs --as).
    assert f"casework variation countersign {vref} --as NAME" in flat

    with freeze_time(LATER):
        variations.countersign(world.engine, vref, "april")
    # The others may now decide it; the one who countersigned cannot, so is not asked.
    kind, to, cc, subject, body = mail_about_variations(world, award)[-1]
    assert (kind, to, cc) == ("variation.awaiting_decision", [at("aaron")], [])
    assert f"casework variation approve {vref} --as NAME" in " ".join(body.split())
    assert f'casework variation reject {vref} --reason "..." --as NAME' in " ".join(body.split())

    decide(world, vref, "approve", by="aaron", reason="Within the fund's headroom.")
    kind, to, cc, subject, body = mail_about_variations(world, award)[-1]
    assert (kind, to, cc) == ("variation.approved", [COUNCIL], [at("carol")])
    assert subject == f"{award}: the change to your award is approved (V1)"
    flat = " ".join(body.split())
    assert "The award is now £300,000 in total (it was £250,000)." in flat
    assert "Note from the approver: Within the fund's headroom." in flat
    assert f"/cases/{award}/agreement?version=2" in flat and "(version 2)" in flat
    assert len(mail_about_variations(world, award)) == 3


def test_a_caseworkers_decrease_tells_the_council_and_the_approvers_and_its_rejection_why(
    world, award
):
    vref = propose(
        world,
        award,
        by="carol",
        amount="200000",
        end="2015-09-30",
        reason="The third district left the hub.",
    )["ref"]

    council, approvers = mail_about_variations(world, award)
    # The caseworker proposed it, so is not copied on their own proposal.
    assert council[:3] == ("variation.proposed", [COUNCIL], [])
    flat = " ".join(council[4].split())
    assert "The caseworker for" in flat and "The award would be £200,000 in total" in flat
    assert "end on Wednesday 30 September 2015" in flat
    assert "The third district left the hub." in flat
    assert approvers[:3] == ("variation.awaiting_decision", [at("aaron"), at("april")], [])
    assert "The caseworker proposed a change" in " ".join(approvers[4].split())

    decide(world, vref, "reject", by="aaron", reason="The hub's savings case rests on three.")
    kind, to, cc, subject, body = mail_about_variations(world, award)[-1]
    assert (kind, to, cc) == ("variation.rejected", [COUNCIL], [at("carol")])
    flat = " ".join(body.split())
    assert "Why it is not approved: The hub's savings case rests on three." in flat
    assert "the award stays as it was, £250,000" in flat


def test_a_refused_decision_queues_no_email(world, award):
    vref = propose(world, award, by="carol", amount="200000")["ref"]
    before = rows(world)
    with freeze_time(LATER), pytest.raises(ReasonRequired):
        variations.decide(world.engine, vref, "reject", "aaron")
    with freeze_time(LATER), pytest.raises(PermissionDenied):
        variations.decide(world.engine, vref, "approve", "carol")
    assert rows(world) == before


def test_a_disabled_approver_is_not_written_to(world, award):
    from workflow.storage.tables import people

    with world.engine.begin() as conn:
        conn.execute(people.update().where(people.c.name == "april").values(disabled_at=LATER))
    propose(world, award, amount="200000")
    [(kind, to, cc, *_)] = mail_about_variations(world, award)
    assert (kind, to) == ("variation.awaiting_decision", [at("aaron")])


# --- the approved variation's PDF is drawn before its transaction takes the write lock ------
def _spied(world, monkeypatch, during=None):
    from tests.workflow.test_agreements import _drawing_spy, _sqlite_path, _write_without_waiting

    if during is None and world.engine.url.drivername.startswith("sqlite"):
        path = _sqlite_path(world.engine)
        during = lambda n: _write_without_waiting(path)  # noqa: E731
    return _drawing_spy(monkeypatch, during or (lambda n: None))


def test_an_approved_variations_pdf_is_drawn_before_its_transaction_and_kept_as_served(
    world, award, monkeypatch
):
    """Another connection writes while the PDF is drawn (SQLite: it would find the database
    locked were the approval's transaction open); the hash kept is the served PDF's."""
    vref = propose(world, award, amount="300000")["ref"]
    with freeze_time(LATER):
        countersign_if_needed(world, vref, "aaron")
    drawn = _spied(world, monkeypatch)

    with freeze_time(LATER):
        variations.decide(world.engine, vref, "approve", "aaron")  # as the command line does

    shown, pdf = agreements.document(world.engine, award, 2)
    assert len(drawn) == 1  # once, before the transaction
    assert shown["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert variation_rows(world, award)[-1][1]["agreement"] == {
        "version": 2,
        "sha256": shown["sha256"],
    }


def test_a_face_draws_the_approval_ahead_and_keeps_those_very_bytes(world, award):
    """As the web and the API do: draw_ahead, then the decision in the face's unit of work;
    the PDF kept is the one drawn ahead, byte for byte, and its terms say the same."""
    from states.agreement import text_from_json
    from workflow.services.unit_of_work import UnitOfWork

    vref = propose(world, award, amount="200000", end="2015-06-30")["ref"]
    with freeze_time(LATER):
        ahead = variations.draw_ahead(world.engine, vref, "approve")
        with UnitOfWork(world.engine) as uow:
            variations.decide(uow, vref, "approve", "aaron", drawn=ahead)

    shown, pdf = agreements.document(world.engine, award, 2)
    assert pdf == ahead.pdf and shown["sha256"] == ahead.sha256
    with world.engine.connect() as conn:
        terms = conn.execute(
            select(agreements_t.c.terms).where(agreements_t.c.version == 2)
        ).scalar_one()
    assert text_from_json(terms) == ahead.text
    assert ahead.text.variation == "V1" and ahead.text.amount_pence == 20_000_000
    with freeze_time(LATER):
        assert variations.draw_ahead(world.engine, vref, "reject") is None  # keeps none
        assert variations.draw_ahead(world.engine, vref, "approve") is None  # decided
        assert variations.draw_ahead(world.engine, f"{award}/V9", "approve") is None


def test_a_change_between_drawing_and_the_approval_is_drawn_again_inside_it(
    world, award, monkeypatch
):
    """The lead council renamed while the PDF is drawn: the drawing is not kept; the
    agreement kept says the new name, and its hash is the one the history records."""
    from sqlalchemy import text

    vref = propose(world, award, by="carol", amount="200000")["ref"]

    def rename(n):
        if n == 1:
            with world.engine.begin() as conn:
                conn.execute(
                    text("UPDATE organisations SET name = 'Renamed Council' WHERE code = :c"),
                    {"c": "E07000026"},  # the award's lead
                )

    drawn = _spied(world, monkeypatch, rename)

    decide(world, vref, "approve")

    shown, pdf = agreements.document(world.engine, award, 2)
    assert len(drawn) == 2 and drawn[1].parties[1].name == "Renamed Council"
    assert "Renamed Council" in pdf_text(pdf)[1]
    assert shown["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert variation_rows(world, award)[-1][1]["agreement"]["sha256"] == shown["sha256"]


@pytest.mark.parametrize("by, refusal", [("carol", PermissionDenied), ("aaron", GuardFailed)])
def test_a_refused_approval_drawn_ahead_stores_nothing(world, award, monkeypatch, by, refusal):
    """A caseworker may not approve; £300,000 is past a fund of £260,000: the PDF drawn
    ahead is thrown away, and no agreement, ledger row, history row or email is written."""
    from tests.workflow.awarding import load_programme, small_programme

    load_programme(world, small_programme("tca-2013", fund="260000"))
    vref = propose(world, award, amount="300000")["ref"]
    with freeze_time(LATER):
        countersign_if_needed(world, vref, "aaron")
    before = rows(world)
    drawn = _spied(world, monkeypatch)

    with freeze_time(LATER), pytest.raises(refusal):
        variations.decide(world.engine, vref, "approve", by)

    assert len(drawn) == 1  # drawn ahead, as the approval might have passed
    assert rows(world) == before
    assert [v["version"] for v in agreements.listing(world.engine, award)["versions"]] == [1]
