"""states.variation.refusals: the one rule every face's proposal of a variation is weighed by."""

from datetime import date

import pytest

from states.variation import Award, refusals

AWARD = Award(
    amount_pence=250_000_00,
    ends_on=date(2015, 3, 31),
    today=date(2014, 1, 15),
    band="Shared arrangement",
    least_pence=50_000_00,
    most_pence=500_000_00,
)


@pytest.mark.parametrize(
    "total, end_on, reason, said",
    [
        (None, None, "A change of scope.", []),  # DESIGN.md section 8: the scope alone
        (300_000_00, date(2015, 6, 30), "More.", []),
        (500_000_00, None, "The band's top, included.", []),
        (50_000_00, None, "The band's foot, included.", []),
        (None, None, " ", ["a variation needs a reason: say what changes and why"]),
        (0, None, "x", ["£0 is not an award; to end the award, an approver terminates it"]),
        (250_000_00, None, "x", ["the award is already £250,000: give the new total"]),
        (
            500_000_01,
            None,
            "x",
            [
                "Shared arrangement awards are at most £500,000: a total of £500,000.01 is "
                "more than the programme allows"
            ],
        ),
        (
            None,
            date(2014, 1, 15),
            "x",
            ["the end date 15 January 2014 is not after today (15 January 2014)"],
        ),
        (
            None,
            date(2015, 3, 31),
            "x",
            ["the award already ends on 31 March 2015: give a new end date, or leave it out"],
        ),
    ],
)
def test_a_proposal_is_refused_for_each_thing_it_does_not_vary(total, end_on, reason, said):
    assert refusals(AWARD, reason=reason, total_pence=total, end_on=end_on) == said


def test_every_refusal_is_said_at_once():
    said = refusals(AWARD, reason="", total_pence=250_000_00, end_on=date(2015, 3, 31))

    assert len(said) == 3
