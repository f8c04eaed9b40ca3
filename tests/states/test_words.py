"""Every code people can meet has a label and a sentence (DESIGN.md section 12)."""

from pathlib import Path

import pytest

from notifications.kinds import KIND_WORDS, KINDS, kind_label
from states import DEFINITIONS
from states.definition import Definition, T
from states.errors import ProgrammeFileError
from states.ladder import DEFAULT_LADDER
from states.programme import parse_programme
from states.roles import ROLES
from states.words import (
    ADMIN_WORDS,
    EVENT_WORDS,
    ROLE_WORDS,
    allowed_now,
    missing_words,
    one_of,
    role_people,
)

PROGRAMMES = sorted((Path(__file__).resolve().parents[2] / "states" / "programmes").glob("*.toml"))


@pytest.mark.parametrize("definition", DEFINITIONS.values(), ids=lambda d: d.kind)
def test_every_state_and_trigger_of_a_definition_has_words(definition):
    assert definition.words_problems() == []
    for code in definition.states:
        assert definition.state_label(code) != code or "_" not in code


@pytest.mark.parametrize("path", PROGRAMMES, ids=lambda p: p.name)
def test_every_category_step_and_return_field_of_a_bundled_programme_has_words(path):
    spec = parse_programme(path.read_text(), path.name)

    assert spec.words_problems() == []


def test_people_read_labels_for_codes():
    tca = parse_programme((PROGRAMMES[-1]).read_text())
    bid = DEFINITIONS["bid"]

    assert bid.state_label("under_assessment") == "Under assessment"
    assert bid.trigger_label("ask_clarification") == "Ask the council a question"
    assert bid.trigger_label("score") == "Scored"  # a history-only trigger
    assert tca.category_label("esg_top_up") == "ESG top-up"
    assert tca.step_label("escalated_1") == "First escalation"
    assert tca.field_label("spend_to_date") == "Spend to date"
    assert kind_label("checkpoint.escalated_2") == "Second escalation"


def test_a_refusal_names_a_state_by_its_label_inside_a_sentence():
    assert DEFINITIONS["bid"].state_phrase("under_assessment") == "under assessment"
    assert DEFINITIONS["bid"].state_phrase("clarification_requested") == (
        "waiting for the council's answer"
    )
    assert DEFINITIONS["checkpoint"].state_phrase("scheduled") == "not open yet"


def test_every_message_kind_has_a_label_and_a_sentence():
    assert missing_words("message kinds", "kind", KINDS, KIND_WORDS) == []
    assert missing_words("history", "trigger", EVENT_WORDS, EVENT_WORDS) == []
    for step in DEFAULT_LADDER:
        assert step.kind in KINDS


def test_a_definition_without_words_names_each_missing_code():
    toy = Definition(
        kind="toy",
        initial="a",
        final={"z"},
        transitions=[T("go", "a", "z", roles={"caseworker"})],
        state_words={"a": ("A", "The start."), "q": ("Q", "Nowhere.")},
        trigger_words={"go": ("Go", "")},
    )

    assert toy.problems() == [
        "toy: state 'z' has no label for people",
        "toy: trigger 'go' has no sentence saying what it means",
        "toy: words are given for unknown state 'q'",
    ]


CATEGORY = """
code = "toy"
name = "Toy"
kind = "bids"
fund = "100"
[categories.tiny_grants]
max = "10"
max_count = 1
"""


def test_a_programme_file_must_label_a_category_of_its_own():
    with pytest.raises(ProgrammeFileError) as refused:
        parse_programme(CATEGORY)

    assert refused.value.problems == [
        "categories.tiny_grants.label: missing (what people read for 'tiny_grants', "
        'like "ESG top-up")'
    ]
    spec = parse_programme(CATEGORY.replace('max = "10"', 'label = "Tiny grants"\nmax = "10"'))
    assert spec.category_label("tiny_grants") == "Tiny grants"
    assert spec.words_problems() == [
        "toy: category 'tiny_grants' has no sentence saying who it is for"
    ]


def test_a_ladder_step_of_its_own_needs_words():
    steps = "".join(
        f'\n[[ladder]]\nname = "{s.name}"\noffset_days = {s.offset_days}\n'
        f'action = "{s.action}"\nto = ["council"]\n'
        for s in DEFAULT_LADDER[:3]
    )
    areas = 'code = "toy"\nname = "Toy"\nkind = "areas"\nfund = "100"\n'
    renamed = (areas + steps).replace('name = "reminder"', 'name = "nudge"')

    with pytest.raises(ProgrammeFileError) as refused:
        parse_programme(renamed)

    assert (
        "ladder[1].label: missing (what people read for the step 'nudge', like "
        '"First escalation")' in refused.value.problems
    )
    spec = parse_programme(
        renamed.replace(
            'name = "nudge"', 'name = "nudge"\nlabel = "Nudge"\nsentence = "A gentle reminder."'
        )
    )
    assert spec.step_label("nudge") == "Nudge"
    assert spec.step_label("overdue") == "Overdue notice"  # a standard step's own words


def test_the_command_line_lists_allowed_triggers_with_their_codes():
    pairs = [("check", "Check eligibility"), ("withdraw", "Withdraw")]

    assert allowed_now(pairs, with_codes=True) == "Check eligibility (check), Withdraw (withdraw)"
    assert allowed_now(pairs, with_codes=False) == "Check eligibility, Withdraw"
    assert allowed_now([], with_codes=True) == "nothing"


def test_every_role_and_every_kind_of_admin_change_has_a_label_and_a_sentence():
    from workflow.services.admin_log import ACTIONS

    assert missing_words("roles", "role", ROLES, ROLE_WORDS) == []
    assert missing_words("admin log", "action", ACTIONS, ADMIN_WORDS) == []


def test_a_refusal_names_who_may_as_people_not_as_role_codes():
    # "only a finance may" was the payment's refusal to an approver who tried to pay.
    assert one_of({"finance"}) == "someone in finance"
    assert one_of({"caseworker", "council"}) == "a caseworker or a person of the lead council"
    assert one_of({"approver"}) == "an approver"
    assert role_people("finance") == "people in finance"
    assert role_people("caseworker") == "caseworkers"
