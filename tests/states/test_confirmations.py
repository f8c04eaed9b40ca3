"""Which moves ask "are you sure?" first is the definitions' to say (DESIGN.md section 12)."""

import pytest

from states import AREA, BID, DEFINITIONS

# DESIGN.md section 12: "Actions that cannot be undone (suspend, terminate, reject,
# withdraw, declare ineligible) ask for a reason and a confirmation."
DESIGN_NAMES = {"suspend", "terminate", "reject", "withdraw", "declare_ineligible"}


@pytest.mark.parametrize("definition", [BID, AREA], ids=lambda d: d.kind)
def test_every_move_design_names_asks_for_a_reason_and_a_confirmation(definition):
    for t in definition.transitions:
        if t.trigger in DESIGN_NAMES:
            assert t.needs_reason and t.confirm, t.trigger


@pytest.mark.parametrize("definition", [BID, AREA], ids=lambda d: d.kind)
def test_a_move_that_ends_a_case_with_a_reason_asks_for_confirmation(definition):
    for t in definition.transitions:
        if t.dest in definition.final and t.needs_reason:
            assert t.confirm, t.trigger


def test_a_confirmation_says_what_cannot_be_undone_in_a_sentence():
    for definition in DEFINITIONS.values():
        for t in definition.transitions:
            if t.confirm:
                assert t.confirm[0].isupper() and t.confirm.endswith("."), (definition.kind, t)
                assert "_" not in t.confirm, (definition.kind, t.trigger)


def test_a_move_done_at_once_has_no_confirmation():
    assert BID.confirmation("submit") == "" and BID.confirmation("no_such_trigger") == ""
    assert "cannot be undone" in BID.confirmation("terminate")
