"""Every kind renders, in plain English, with every variable it needs and nothing it lacks."""

from __future__ import annotations

import importlib.resources
import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from notifications import KINDS, PARTS, longdate, render
from tests.notifications.mail_fixtures import kinds_with_case_kinds, realistic_context

EMAIL = Path(str(importlib.resources.files("templates"))) / "email"
EVERY_KIND = kinds_with_case_kinds(KINDS)


@pytest.mark.parametrize("kind, case_kind", EVERY_KIND)
@pytest.mark.parametrize("late", [False, True], ids=["on time", "late"])
def test_every_kind_renders_with_realistic_data(kind, case_kind, late):
    ctx = realistic_context(kind, case_kind)
    if ctx["step"] is not None:
        ctx["step"]["late"] = late

    rendered = render(kind, ctx)

    assert (
        rendered.subject
        and "\n" not in rendered.subject
        and rendered.subject == rendered.subject.strip()
    )
    for part in (rendered.text, rendered.html):
        assert ctx["case"]["ref"] in part
        assert ctx["programme"]["lead_email"] in part  # who to contact
        assert "You receive this email because" in part  # why they receive it
        assert "so there is no unsubscribe" in " ".join(part.split())  # statutory: no opt-out
        assert "{{" not in part and "{%" not in part
        if ctx["checkpoint"] is not None:
            assert "Friday 4 April 2014" in part  # dates written out in full
    assert rendered.html.lstrip().startswith("<!DOCTYPE html>")
    assert max(len(line) for line in rendered.text.splitlines() if "://" not in line) <= 72
    assert ("should have reached you on Saturday 5 April 2014" in rendered.text) == (
        late and ctx["step"] is not None
    )


# The page where the recipient acts, for every message that asks them to act.
ACTION_URL = {
    "checkpoint.opened": "checkpoint",
    "checkpoint.reminder": "checkpoint",
    "checkpoint.overdue": "checkpoint",
    "checkpoint.escalated_1": "checkpoint",
    "checkpoint.escalated_2": "checkpoint",
    "case.suspended": "checkpoint",
    "bid.award_offered": "case",
    "area.selected": "case",
}


@pytest.mark.parametrize("kind", sorted(ACTION_URL))
def test_a_message_that_asks_for_action_links_to_the_page_to_act_on(kind):
    case_kind = "area" if kind.startswith("area.") else "bid"
    ctx = realistic_context(kind, case_kind)
    url = ctx[ACTION_URL[kind]]["url"]

    rendered = render(kind, ctx)

    assert url in rendered.text
    assert f'href="{url}"' in rendered.html


def test_a_suspension_by_a_caseworker_links_to_the_case_and_gives_the_reason():
    ctx = realistic_context(
        "case.suspended",
        checkpoint=None,
        step=None,
        reason="Due diligence found the partnership agreement was never signed.",
    )

    rendered = render("case.suspended", ctx)

    assert "partnership agreement was never signed" in rendered.text
    assert f'href="{ctx["case"]["url"]}"' in rendered.html
    assert "monitoring return" not in rendered.text


@pytest.mark.parametrize(
    "missing", ["programme.lead_email", "case.title", "checkpoint.due", "step"]
)
def test_a_missing_variable_is_an_error_not_a_blank(missing):
    ctx = realistic_context("checkpoint.reminder")
    parent, _, leaf = missing.rpartition(".")
    del (ctx[parent] if parent else ctx)[leaf]

    with pytest.raises(UndefinedError):
        render("checkpoint.reminder", ctx)


def test_html_escapes_council_text_and_text_keeps_it_as_written():
    ctx = realistic_context(
        "bid.ineligible",
        case__title="<script>alert('hub')</script>",
        case__lead_name="Smith & Jones <b>Council</b>",
        reason='<img src=x onerror="steal()">',
    )

    rendered = render("bid.ineligible", ctx)

    assert (
        "<script>" not in rendered.html
        and "<img" not in rendered.html
        and "<b>" not in rendered.html
    )
    assert "&lt;script&gt;alert(&#39;hub&#39;)&lt;/script&gt;" in rendered.html
    assert "Smith &amp; Jones &lt;b&gt;Council&lt;/b&gt;" in rendered.html
    assert "<script>alert('hub')</script>" in rendered.text
    assert "Smith & Jones <b>Council</b>" in rendered.text


def test_a_line_break_in_a_council_name_does_not_reach_the_subject_line():
    ctx = realistic_context(
        "checkpoint.escalated_1", case__lead_name="Leeds City Council\r\nBcc: everyone@example.com"
    )

    rendered = render("checkpoint.escalated_1", ctx)

    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    assert rendered.subject.startswith("Leeds City Council Bcc: everyone@example.com:")


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown message kind 'bid.awarded'"):
        render("bid.awarded", realistic_context("bid.award_offered"))


@pytest.mark.parametrize(
    "value, written",
    [
        (date(2014, 4, 4), "Friday 4 April 2014"),
        (date(2013, 3, 22), "Friday 22 March 2013"),
        # 23:30 UTC on the night the clocks go forward is already Monday in England
        (datetime(2014, 3, 30, 23, 30, tzinfo=timezone.utc), "Monday 31 March 2014"),
        (datetime(2014, 1, 1, 0, 0), "Wednesday 1 January 2014"),
    ],
)
def test_dates_are_written_out_in_full_without_a_leading_zero(value, written):
    assert longdate(value) == written


def test_every_kind_has_all_three_parts_and_every_template_belongs_to_a_kind():
    files = {p.relative_to(EMAIL).as_posix() for p in EMAIL.rglob("*") if p.is_file()}
    partials = {f for f in files if f.startswith("_")}
    expected = {
        f"{kind.split('.')[0]}/{kind.split('.')[1]}.{part}" for kind in KINDS for part in PARTS
    }

    assert sorted(expected - files) == []  # no kind lacks a part
    assert sorted(files - expected - partials) == []  # no template without a kind
    assert "_layout.body.html" in partials


def test_every_partial_is_used():
    sources = "\n".join(p.read_text() for p in EMAIL.rglob("*.*") if p.is_file())
    for partial in EMAIL.glob("_*"):
        assert f'"email/{partial.name}"' in sources, f"{partial.name} is never used"


def test_text_templates_never_end_a_line_with_an_inline_tag():
    # trim_blocks eats the newline after a tag, so "…{% endif %}" at the end of
    # a line silently glues it to the next one.
    for path in EMAIL.rglob("*.body.txt"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.endswith("%}") and not re.fullmatch(r"\{%[^%]*%\}", stripped):
                pytest.fail(f"{path.relative_to(EMAIL)}:{number} ends with an inline tag")


def test_a_suspension_by_the_ladder_does_not_say_its_reason_twice():
    """The sweep's reason ("the Q1 monitoring return, due by the end of 24 September 2013,
    has not been received") is the sentence the email opens with: once is enough."""
    ctx = realistic_context(
        "case.suspended",
        reason="the Q1 monitoring return, due by the end of 24 September "
        "2013, has not been received",
    )

    rendered = render("case.suspended", ctx)

    assert "Reason:" not in rendered.text and "Reason:" not in rendered.html
    assert " ".join(rendered.text.split()).count("has not been received") == 1


@pytest.mark.parametrize("kind, case_kind", EVERY_KIND)
def test_a_command_to_type_is_never_folded_into_the_next_line(kind, case_kind):
    # An indented line is a command to copy; folding at 72 columns would start its
    # last options at the margin, where they read as prose and copy as a broken command.
    text = render(kind, realistic_context(kind, case_kind)).text
    lines = text.splitlines()

    for line, after in zip(lines, lines[1:] + [""]):
        if line.startswith("    casework "):
            assert len(line) <= 72, line
            assert not after.strip() or after.startswith("    "), (line, after)


# The kinds that go only to the programme's own people (caseworkers, approvers, the senior
# responsible owner, the programme lead): none of them is a council's named contact.
TO_STAFF_ONLY = {
    "case.assigned",
    "bid.conflict_declared",
    "review.due",
    "review.overdue",
    "variation.awaiting_decision",
    "variation.to_countersign",
}


@pytest.mark.parametrize("kind, case_kind", EVERY_KIND)
def test_the_footer_says_why_this_reader_receives_it(kind, case_kind):
    ctx = realistic_context(kind, case_kind)
    rendered = render(kind, ctx)

    for part in (rendered.text, rendered.html):
        said = " ".join(part.split())
        if kind in TO_STAFF_ONLY:
            assert "named contact" not in said
            assert f"because of your part in running the {ctx['programme']['name']}" in said
        else:
            assert "You receive this email because you are a named contact for" in said


def test_a_termination_with_nothing_paid_gives_back_the_whole_award_and_asks_for_nothing():
    ctx = realistic_context("bid.terminated")
    ctx["payment"] = {"paid_total": None, "released": "£250,000"}

    rendered = render("bid.terminated", ctx)

    for part in (rendered.text, rendered.html):
        said = " ".join(part.split())
        assert "None of it had been paid, so all of it, £250,000, goes back" in said
        assert "nothing to repay" in said and "eligible work" not in said


@pytest.mark.parametrize("case_kind", ["bid", "area"])
def test_a_receipt_says_when_the_application_was_received(case_kind):
    rendered = render("case.submitted", realistic_context("case.submitted", case_kind))

    for part in (rendered.text, rendered.html):
        assert "at 3:42pm, 17 January 2014. Keep this email as your receipt" in " ".join(
            part.split()
        )


def test_an_escalation_with_no_chief_executive_on_record_does_not_greet_the_lead_as_one():
    """With no escalation address the first escalation goes to the programme lead (the
    first of Cc stands in for an empty To): it must say so, not address them as the
    council's chief executive."""
    ctx = realistic_context("checkpoint.escalated_1", case__has_escalation_contact=False)
    first = render("checkpoint.escalated_1", ctx)
    second = render("checkpoint.escalated_2", ctx)

    for part in (first.text, first.html):
        said = " ".join(part.split())
        assert "We are writing to you as" not in said
        assert "has no chief executive or section 151 officer address on record" in said
        assert "this escalation comes to you, the programme lead" in said
    for part in (second.text, second.html):
        said = " ".join(part.split())
        assert "section 151 officer has been written to" not in said
        assert "the programme lead was written to in place of its chief executive" in said
