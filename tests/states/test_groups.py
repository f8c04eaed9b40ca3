"""Groups of states are declared once in a definition, checked, and asked."""

from states import AREA, BID, CHECKPOINT
from states.definition import Definition, Notice, T


def faults(definition: Definition, **known) -> list[str]:
    """The faults `problems` finds, less the missing words (states.words checks those)."""
    return [p for p in definition.problems(**known) if "for people" not in p]


def toy(**groups) -> Definition:
    return Definition(
        kind="toy",
        initial="a",
        final={"z"},
        groups=groups,
        transitions=[T("go", "a", "z", roles={"caseworker"})],
    )


def test_a_bid_holding_funds_is_asked_of_its_definition():
    assert BID.is_in("award_offered", "holding_funds")
    assert not BID.is_in("declined", "holding_funds")
    assert BID.group("ranked") == ("moderated", "recommended")


def test_a_group_naming_an_unknown_state_is_a_fault():
    assert faults(toy(open=("a", "y"))) == ["toy: group 'open' names unknown state 'y'"]


def test_a_group_named_like_a_state_or_empty_is_a_fault():
    assert faults(toy(a=("a",), nothing=())) == [
        "toy: group 'a' has the name of a state",
        "toy: group 'nothing' is empty",
    ]


def test_unknown_effects_records_and_notices_are_faults():
    broken = Definition(
        kind="toy",
        initial="a",
        final={"z"},
        transitions=[
            T(
                "go",
                "a",
                "z",
                roles={"caseworker"},
                effects=["reserve_fund"],
                records=["amont"],
                notice=Notice("toy.gone", ("council",)),
            )
        ],
    )
    assert faults(
        broken,
        known_effects={"reserve_funds"},
        known_records={"amount"},
        known_notices={"bid.rejected"},
    ) == [
        "toy: effect 'reserve_fund' of 'go' is not a known effect",
        "toy: 'go' records 'amont', which is not known",
        "toy: 'go' sends 'toy.gone', which is not a known message kind",
    ]


def test_monitored_cases_are_those_whose_returns_are_collected():
    assert BID.group("monitored") == ("in_monitoring", "suspended")
    assert AREA.group("monitored") == ("active", "suspended")
    assert set(CHECKPOINT.group("as_listed")) == set(CHECKPOINT.states)
