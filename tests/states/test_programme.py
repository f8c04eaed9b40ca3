"""Programme files: the numbers of the rules, every mistake named with its field."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from states.errors import ProgrammeFileError
from states.ladder import DEFAULT_LADDER
from states.programme import ProgrammeSpec, parse_programme

PROGRAMMES = Path(__file__).resolve().parents[2] / "states" / "programmes"

MINIMAL_BIDS = """
code = "tca-2013"
name = "Transformation Challenge Award 2013"
kind = "bids"
fund = "9000000"

[categories.single_operation]
max = "2000000"
max_count = 4

[categories.shared_arrangement]
min = "50000"
max = "500000"
max_count = 30

[categories.esg_top_up]
esg_share = 0.25
max_count = 7
"""

MINIMAL_AREAS = """
code = "pstn-2013"
name = "Public Service Transformation Network 2013"
kind = "areas"
fund = 1500000
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ProgrammeFileError) as refused:
        parse_programme(text, "test.toml")
    return refused.value.problems


# --- the bundled files ---------------------------------------------------------


def test_the_bundled_tca_file_gives_the_announced_award():
    tca = parse_programme((PROGRAMMES / "tca-2013.toml").read_text(), "tca-2013.toml")

    assert (tca.code, tca.kind, tca.fund_pence) == ("tca-2013", "bids", 900_000_000)
    single, shared, esg = (
        tca.categories[c] for c in ("single_operation", "shared_arrangement", "esg_top_up")
    )
    assert (single.max_pence, single.min_count, single.max_count) == (200_000_000, 3, 4)
    assert single.min_partner_councils == 1
    assert set(single.required_fields) == {"transitional_costs", "annual_savings"}
    assert (shared.min_pence, shared.max_pence, shared.max_count) == (5_000_000, 50_000_000, 30)
    assert set(shared.required_fields) == {
        "arrangement",
        "innovation",
        "transitional_costs",
        "annual_savings",
    }
    assert shared.arrangements == ("linked_it", "joint_procurement", "joint_contracting", "other")
    assert (esg.esg_share, esg.max_count, esg.needs_esg_allocation) == (Decimal("0.25"), 7, True)
    assert esg.required_fields == ("further_and_faster",)
    assert tca.criteria == {"innovation": 1, "costs": 1, "savings": 1}
    assert (tca.monitoring.every_months, tca.monitoring.count) == (3, 4)
    assert tca.contacts.lead == "tca-lead@example.org"
    assert tca.ladder == DEFAULT_LADDER
    assert tca.source.startswith("# Transformation Challenge Award")


def test_the_bundled_pstn_file_gives_the_network_and_its_budget():
    pstn = parse_programme((PROGRAMMES / "pstn-2013.toml").read_text(), "pstn-2013.toml")

    assert (pstn.code, pstn.kind, pstn.fund_pence) == ("pstn-2013", "areas", 150_000_000)
    assert pstn.categories == {}
    assert pstn.decision_date == date(2013, 7, 31)
    assert (pstn.monitoring.every_months, pstn.monitoring.count) == (3, 4)
    assert pstn.ladder == DEFAULT_LADDER  # written out in full, equal to the default
    assert (pstn.eoi.min_service_areas, pstn.eoi.min_partners) == (1, 2)


# --- defaults ----------------------------------------------------------------


def test_a_file_that_gives_only_the_required_fields_takes_the_designs_defaults():
    spec = parse_programme(MINIMAL_BIDS)

    assert isinstance(spec, ProgrammeSpec)
    assert spec.criteria == {"innovation": 1, "costs": 1, "savings": 1}
    assert spec.score_tolerance == 2
    assert spec.catch_up == "all"
    assert spec.ladder == DEFAULT_LADDER
    assert spec.decision_date is None
    monitoring = spec.monitoring
    assert (monitoring.every_months, monitoring.count, monitoring.dates) == (3, 4, ())
    assert {n: (f.kind, f.required) for n, f in spec.monitoring.fields.items()} == {
        "spend_to_date": ("money", False),
        "savings_to_date": ("money", False),
        "progress": ("text", False),
        "risks": ("text", False),
    }
    assert spec.contacts.lead == "tca-2013-lead@example.org"
    # the category rules of DESIGN.md section 1 come with the category names
    assert spec.categories["single_operation"].min_partner_councils == 1
    assert spec.categories["shared_arrangement"].required_fields == (
        "arrangement",
        "innovation",
        "transitional_costs",
        "annual_savings",
    )
    assert spec.categories["esg_top_up"].needs_esg_allocation is True


def test_a_programme_of_areas_is_announced_in_the_summer_by_default():
    assert parse_programme(MINIMAL_AREAS).decision_date == date(2013, 7, 31)


def test_fixed_monitoring_dates_replace_the_interval():
    spec = parse_programme(
        MINIMAL_AREAS
        + """
[monitoring]
dates = [2014-03-31, 2014-06-30]
"""
    )

    assert spec.monitoring.dates == (date(2014, 3, 31), date(2014, 6, 30))
    assert (spec.monitoring.every_months, spec.monitoring.count) == (None, None)


def test_a_file_can_add_return_fields_and_make_them_required():
    spec = parse_programme(
        MINIMAL_AREAS
        + """
[monitoring.fields.progress]
required = true
[monitoring.fields.people_helped]
kind = "text"
"""
    )

    assert spec.monitoring.fields["progress"].required is True
    assert spec.monitoring.fields["people_helped"].kind == "text"


def test_criteria_may_be_weighted_as_numbers_or_tables():
    spec = parse_programme(
        MINIMAL_BIDS
        + """
[criteria]
innovation = 2
costs = { weight = 0.5 }
"""
    )

    assert spec.criteria == {"innovation": 2, "costs": Decimal("0.5"), "savings": 1}


# --- mistakes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "mistake, expected",
    [
        ('code = "tca-2013"', "code: missing"),
        ('fund = "9000000"', "fund: missing"),
        ('kind = "bids"', "kind: missing"),
        ('name = "Transformation Challenge Award 2013"', "name: missing"),
    ],
)
def test_a_file_must_give_code_name_kind_and_fund(mistake, expected):
    assert expected in problems_of(MINIMAL_BIDS.replace(mistake, ""))


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            ('max = "500000"', 'max = "500000"\nmin_count = 31'),
            "categories.shared_arrangement.min_count: 31 is above max_count 30",
        ),
        (
            ('min = "50000"', 'min = "600000"'),
            "categories.shared_arrangement.min: £600,000 is above max £500,000",
        ),
        (
            ('max = "2000000"', 'max = "£2,000,000"'),
            "categories.single_operation.max: '£2,000,000' is not an amount in pounds "
            "(digits with at most two decimals, no sign, commas or spaces)",
        ),
        (
            ('max = "2000000"\nmax_count = 4', "min_count = 3"),
            "categories.single_operation.max: missing (a category's band needs max, or esg_share "
            "for a share of the lead council's ESG allocation)",
        ),
        (
            ("esg_share = 0.25\nmax_count = 7", "esg_share = 0.25"),
            "categories.esg_top_up.max_count: missing",
        ),
        (
            ("esg_share = 0.25", "esg_share = 1.5"),
            "categories.esg_top_up.esg_share: 1.5 is not a share above 0 and at most 1",
        ),
        (
            ("max_count = 30", "max_count = 30.5"),
            "categories.shared_arrangement.max_count: 30.5 is not a whole number",
        ),
        (
            ("max_count = 30", "maxcount = 30"),
            "categories.shared_arrangement.maxcount: unknown field",
        ),
        (('kind = "bids"', 'kind = "grants"'), "kind: 'grants' is not bids or areas"),
        (
            ('fund = "9000000"', "fund = 9000000.001"),
            "fund: '9000000.001' is not an amount in pounds "
            "(digits with at most two decimals, no sign, commas or spaces)",
        ),
        (
            ('code = "tca-2013"', 'code = "TCA 2013"'),
            "code: 'TCA 2013' is not lower-case letters, digits and hyphens (tca-2013)",
        ),
    ],
)
def test_each_mistake_is_refused_naming_its_field(change, expected):
    old, new = change
    assert old in MINIMAL_BIDS

    assert expected in problems_of(MINIMAL_BIDS.replace(old, new))


@pytest.mark.parametrize(
    "addition, expected",
    [
        (
            '[criteria.innovation]\nweight = "high"',
            "criteria.innovation.weight: 'high' is not a number",
        ),
        ("[criteria]\ninnovation = -1", "criteria.innovation: -1 is below 0"),
        (
            "[criteria]\nstyle = 1",
            "criteria.style: unknown criterion (assessors score innovation, costs, savings)",
        ),
        (
            "[criteria]\ninnovation = 0\ncosts = 0\nsavings = 0",
            "criteria: every weight is 0, so no bid could be ranked",
        ),
        ("[rules.esg_topup]\nrequired_fields = []", "rules.esg_topup: unknown category"),
        (
            '[rules.single_operation]\nrequired_fields = ["vision"]',
            "rules.single_operation.required_fields: 'vision' is not one of transitional_costs, "
            "annual_savings, arrangement, innovation, further_and_faster",
        ),
        ('catch_up = "some"', "catch_up: 'some' is not all or latest"),
        ("score_tolerance = -1", "score_tolerance: -1 is below 0"),
        ('decision_date = "summer"', "decision_date: 'summer' is not a TOML date (2013-07-31)"),
        (
            '[contacts]\nlead = "Programme Lead <lead@example.org>"',
            "contacts.lead: 'Programme Lead <lead@example.org>' is not an email address",
        ),
        ("[monitoring]\nevery_months = 0", "monitoring.every_months: 0 is below 1"),
        (
            "[monitoring]\ndates = [2014-06-30, 2014-03-31]",
            "monitoring.dates: the dates are not in strictly increasing order",
        ),
        (
            "[monitoring]\ncount = 4\ndates = [2014-03-31]",
            "monitoring.dates: give either dates or every_months and count, not both",
        ),
        ("[monitoring.fields.jobs]\nrequired = true", "monitoring.fields.jobs.kind: missing"),
        (
            '[monitoring.fields.spend_to_date]\nkind = "text"',
            "monitoring.fields.spend_to_date.kind: spend_to_date is always money",
        ),
        (
            '[monitoring.fields.jobs]\nkind = "number"',
            "monitoring.fields.jobs.kind: 'number' is not money or text",
        ),
        ("colour = 'blue'", "colour: unknown field"),
    ],
)
def test_each_mistake_in_a_section_is_refused_naming_its_field(addition, expected):
    # Top-level keys must come before the first table, so they go first.
    text = (
        (addition + "\n" + MINIMAL_BIDS)
        if "[" not in addition.split("\n")[0]
        else (MINIMAL_BIDS + "\n" + addition)
    )

    assert expected in problems_of(text)


def test_every_problem_is_reported_at_once():
    text = MINIMAL_BIDS.replace('fund = "9000000"', "").replace('min = "50000"', 'min = "600000"')
    text += '\n[criteria.innovation]\nweight = "high"\n[rules.esg_topup]\n'

    problems = problems_of(text)

    assert problems == [
        "fund: missing",
        "criteria.innovation.weight: 'high' is not a number",
        "rules.esg_topup: unknown category",
        "categories.shared_arrangement.min: £600,000 is above max £500,000",
    ]


def test_the_error_names_the_file():
    with pytest.raises(ProgrammeFileError, match=r"^tca\.toml: fund: missing"):
        parse_programme(MINIMAL_BIDS.replace('fund = "9000000"', ""), "tca.toml")


def test_text_that_is_not_toml_is_refused_as_a_whole():
    assert problems_of("code = ")[0].startswith("not valid TOML:")


def test_a_programme_of_bids_needs_a_category():
    only = MINIMAL_BIDS.split("[categories")[0]

    assert "categories: missing (a programme of bids needs at least one category)" in problems_of(
        only
    )


def test_a_programme_of_areas_has_no_categories():
    text = MINIMAL_AREAS + '\n[categories.single_operation]\nmax = "1"\nmax_count = 1\n'

    assert "categories: a programme of areas has no categories" in problems_of(text)


# --- the ladder ----------------------------------------------------------------


def ladder_text(*steps: str) -> str:
    return MINIMAL_AREAS + "".join(f"\n[[ladder]]\n{s}\n" for s in steps)


OPEN = 'name = "opened"\noffset_days = -14\naction = "open"\nto = ["council"]'
OVERDUE = 'name = "overdue"\noffset_days = 1\naction = "mark_overdue"\nto = ["council"]'


def test_a_programme_can_shorten_the_ladder():
    spec = parse_programme(
        ladder_text(
            OPEN,
            OVERDUE,
            'name = "escalated_1"\noffset_days = 5\n'
            'action = "escalate"\nto = ["escalation"]\ncc = ["lead"]',
        )
    )

    assert [s.name for s in spec.ladder] == ["opened", "overdue", "escalated_1"]
    assert spec.ladder[2].level == 1  # the first escalation, counted
    assert spec.ladder[2].kind == "checkpoint.escalated_1"


@pytest.mark.parametrize(
    "steps, expected",
    [
        (
            (OPEN, OVERDUE.replace('"mark_overdue"', '"shout"')),
            "ladder[1].action: 'shout' is not one of open, remind, mark_overdue, escalate, suspend",
        ),
        (
            (OPEN, OVERDUE.replace('["council"]', '["mayor"]')),
            "ladder[1].to: 'mayor' is not one of council, escalation, caseworker, lead, director",
        ),
        (
            (OPEN, OVERDUE.replace("offset_days = 1", "offset_days = -20")),
            "ladder[1].offset_days: an overdue step must come after the due date",
        ),
        (
            (OPEN, 'name = "reminder"\noffset_days = -20\naction = "remind"\nto = ["council"]'),
            "ladder[1].offset_days: reminder does not come after opened "
            "(steps must be in strictly increasing time)",
        ),
        (
            (
                OPEN,
                'name = "reminder"\noffset_days = -10\nworking_days = true\naction = "remind"\n'
                'to = ["council"]',
            ),
            "ladder[1].offset_days: reminder does not come after opened "
            "(steps must be in strictly increasing time)",
        ),
        (
            (OVERDUE,),
            "ladder[0].action: the first step, and only the first, opens the return "
            '(action "open")',
        ),
        (
            (
                OPEN,
                'name = "escalated_1"\noffset_days = 7\naction = "escalate"\nto = ["escalation"]',
            ),
            "ladder[1].action: escalate needs an earlier mark_overdue step",
        ),
        (
            (OPEN, 'name = "gone"\noffset_days = 2\naction = "suspend"\nto = ["council"]', OVERDUE),
            "ladder[1].action: nothing can follow the suspension of the case",
        ),
        ((OPEN, OPEN.replace("-14", "-10")), "ladder[1].name: 'opened' is used by an earlier step"),
        (
            (OPEN, OVERDUE + "\nlevel = 1"),
            "ladder[1].level: only an escalate step reaches an escalation level",
        ),
        (
            (OPEN, 'offset_days = 1\naction = "mark_overdue"\nto = ["council"]'),
            "ladder[1].name: missing",
        ),
        (
            (OPEN, OVERDUE.replace('name = "overdue"', 'name = "Over Due"')),
            "ladder[1].name: 'Over Due' is not a name of lower-case letters, digits and _ "
            "(it names the email templates)",
        ),
    ],
)
def test_a_ladder_with_a_mistake_is_refused_naming_the_step(steps, expected):
    assert expected in problems_of(ladder_text(*steps))
