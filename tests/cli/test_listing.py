"""How a document reads in `case show`, `checkpoint show` and `programme show` (not --json)."""

from workflow.cli._common import listing_lines


def test_a_paragraph_keeps_its_lines_each_under_the_column_its_value_starts_in():
    lines = listing_lines({"title": "Hub", "innovation": "One team.\nOne register.\n"})

    assert lines == ["title       Hub", "innovation  One team.", "            One register."]


def test_a_list_of_small_documents_is_listed_item_by_item_below_its_key():
    lines = listing_lines(
        {
            "application": {
                "lead": "E08000003",
                "partners": [
                    {"name": "Greater Manchester Police", "evidence": "A letter"},
                    {"name": "Jobcentre Plus", "evidence": "Two advisers\nfrom June"},
                ],
            }
        }
    )

    assert lines == [
        "application:",
        "  lead      E08000003",
        "  partners:",
        "    - name      Greater Manchester Police",
        "      evidence  A letter",
        "    - name      Jobcentre Plus",
        "      evidence  Two advisers",
        "                from June",
    ]


def test_money_is_in_pounds_plain_lists_are_joined_and_an_empty_list_says_so():
    lines = listing_lines(
        {
            "amount": "250000.00",
            "partners": ["E07000028", "E07000029"],
            "service_areas": [],
            "caseworker": None,
        }
    )

    assert lines == [
        "amount         £250,000",
        "partners       E07000028, E07000029",
        "service_areas  (none)",
        "caseworker",
    ]
