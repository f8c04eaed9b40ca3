"""The demo's report as a programme manager reads it, at 1280 and at 390 pixels wide in Chromium.

What it must answer first (how many bids got how far, who was awarded how much
and where each stands, the fund over the whole year) and how it must look
(six headline cards on one row, drawings that fit the column, a timeline for
the suspended case, no row said twice). Each test here failed before issue 22.
Screenshots are kept under test-output/screenshots/report/.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from tests.web.live import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS
from demo import write_report
from workflow.storage.db import make_engine, reading
from workflow.storage.tables import cases, history, organisations

pytestmark = pytest.mark.slow
WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def report(tmp_path_factory, small_demo):
    result = small_demo.copy(tmp_path_factory.mktemp("report") / "demo")
    path = write_report(result)
    engine = make_engine(result.db_url)
    yield path, path.read_text(encoding="utf-8"), engine, result
    engine.dispose()


def words(page: str) -> str:
    body = re.sub(r"<(style|svg)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_a_funnel_counts_the_bids_that_reached_each_step(report):
    _, page, engine, _ = report
    with reading(engine) as conn:
        reached = dict(
            conn.execute(
                select(history.c.trigger, func.count(func.distinct(history.c.case_id)))
                .join(cases, cases.c.id == history.c.case_id)
                .where(cases.c.kind == "bid", history.c.checkpoint.is_(None))
                .group_by(history.c.trigger)
            ).all()
        )

    text = words(page)
    for label, trigger in (
        ("Submitted", "submit"),
        ("Eligible", "check"),
        ("Recommended", "recommend"),
        ("Offered", "offer"),
        ("Accepted", "accept"),
    ):
        assert f"{label} {reached[trigger]} " in text, label


def test_awards_are_listed_by_council_with_their_amount_and_where_they_stand(report):
    _, page, engine, _ = report
    with reading(engine) as conn:
        offered = list(
            conn.execute(
                select(cases.c.ref, cases.c.amount_pence, cases.c.state, organisations.c.name)
                .join(organisations, organisations.c.code == cases.c.lead)
                .where(
                    cases.c.id.in_(select(history.c.case_id).where(history.c.trigger == "offer"))
                )
            )
        )

    section = words(page.split('id="awards"')[1].split("</section>")[0])
    assert offered
    for ref, pence, _state, council in offered:
        amount = f"£{pence // 100:,}"
        assert re.search(rf"{re.escape(council)} {ref} .*?{re.escape(amount)} ", section), ref
    assert "Closed" in section and "closed" not in section.replace("Closed", "")


def test_the_fund_chart_runs_the_whole_year_with_its_limit_unlike_its_gridlines(report):
    _, page, _, result = report
    chart = page.split('id="fund"')[1].split("</section>")[0]
    wide = chart.split('class="narrow"')[0]

    months = re.findall(r">(\w{3})(?: \d{4})?</text>", wide)
    assert months[0] == "Apr" and result.figures.end.month in (10, 11) and "Oct" in months[-2:]
    limit = re.search(r'<line [^>]*stroke="#d4351c" stroke-width="3"', wide)
    assert limit is not None and "dasharray" not in limit.group(0)
    assert "dasharray" not in wide  # gridlines are solid and light
    for r in result.figures.releases:  # each dip says what it was
        assert f"{r.ref} {r.why}: −£{r.pence // 100:,}" in html.unescape(wide)


def test_the_suspended_case_is_a_timeline_with_its_table_folded_away(report):
    _, page, _, result = report
    section = page.split('id="suspended"')[1].split("</section>")[0]
    drawing = section.split("<details>")[0]

    assert result.figures.suspended_case
    assert "<svg" in drawing and "<table" not in drawing
    for lane in ("Case", "Q1", "Q2"):
        assert f">{lane}</text>" in drawing
    assert "Second escalation" in drawing  # marks named by the ladder's own words


def test_no_row_is_said_twice_and_each_headline_says_what_it_counts(report):
    _, page, _, _ = report
    text = words(page)

    assert "escalations to level" not in text
    assert "reached the ladder's last step" not in text
    ladder = page.split("Steps of the reminder ladder")[1].split("</table>")[0]
    for step in (
        "Return opens",
        "Reminder",
        "Overdue notice",
        "First escalation",
        "Second escalation",
        "Suspension",
    ):
        assert len(re.findall(rf"<td>{step}</td>", ladder)) == 1, step
    assert ladder.count("<tr>") == 7  # a heading row and one row a step
    assert re.search(r"Returns missed \d+ never sent by", text)
    assert re.search(r"Returns on time \d+ of \d+ due; \d+ more came in late", text)


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
def test_at_1280_and_390_pixels_the_cards_diagrams_and_page_fit(report):
    from playwright.sync_api import sync_playwright

    path = report[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(path.as_uri())
                shot = SCREENSHOTS / "report" / f"report-{width}.png"
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot), full_page=True)

                tops = page.eval_on_selector_all(".card", "cs => cs.map(c => c.offsetTop)")
                column = page.eval_on_selector("main", "m => m.clientWidth")
                drawn = page.eval_on_selector_all(
                    ".diagram svg, .wide svg, .narrow svg",
                    "ss => ss.filter(s => s.getClientRects().length)"
                    "        .map(s => s.getBoundingClientRect().width)",
                )
                assert page.evaluate("document.documentElement.scrollWidth") <= width, width
                assert len(tops) == 6
                rows = len(set(tops))
                assert rows == (1 if width == 1280 else 3), (width, tops)
                assert drawn and max(drawn) <= column, (width, drawn, column)
                page.close()
        finally:
            browser.close()


def test_the_controls_section_shows_the_checks_run_and_failed_and_the_duplicate(report):
    """Due diligence in the report's controls (issue 20): checks run and failed, and the bid
    found ineligible by an automatic check (a duplicate)."""
    _, page, engine, _ = report
    text = words(page)
    start = text.index("Due diligence before eligibility")
    controls = text[start : text.index("Messages", start)]
    assert "Transformation Challenge Award 2013:" in controls
    found = re.search(r"No duplicate bid (\d+) (\d+) \d+ \d+ (TCA-2013-\d{4})", controls)
    assert found, controls[:600]
    run, failed, ref = int(found.group(1)), int(found.group(2)), found.group(3)
    assert run > 0 and failed >= 1
    with reading(engine) as conn:
        reason = conn.execute(
            select(history.c.reason)
            .join(cases, cases.c.id == history.c.case_id)
            .where(cases.c.ref == ref, history.c.trigger == "declare_ineligible")
        ).scalar()
    assert 'Failed the due diligence check "No duplicate bid"' in reason
    assert "Fraud risk" in controls and "Public Service Transformation Network 2013:" in controls


def test_the_paid_and_committed_labels_do_not_overprint_when_nearly_all_is_paid():
    """£8,690,000 committed and £8,493,500 paid put both labels at almost the same height
    (they overprinted in the demo's report); the paid one moves clear of the other."""
    from datetime import datetime, timezone

    from demo.charts import fund_chart

    start, end = (
        datetime(2013, 3, 22, tzinfo=timezone.utc),
        datetime(2014, 10, 15, tzinfo=timezone.utc),
    )
    drawn = str(
        fund_chart(
            [(datetime(2013, 6, 19, tzinfo=timezone.utc), 869_000_000)],
            [],
            fund_pence=900_000_000,
            start=start,
            end=end,
            paid=[(datetime(2014, 9, 1, tzinfo=timezone.utc), 849_350_000)],
        )
    )

    def height(words: str) -> float:
        found = re.search(r'<text x="[\d.]+" y="([\d.]+)"[^>]*>' + re.escape(words), drawn)
        assert found, words
        return float(found.group(1))

    assert abs(height("committed at the end") - height("paid at the end")) >= 16


def test_the_payments_section_shows_each_tranche_paid_and_the_payment_held_and_released(report):
    """Issue 19's payments story, held to the database: what each tranche paid, and the
    payment that fell due while its case was suspended, held, released on reinstatement
    and paid."""
    from states.dates import day
    from workflow.services.payments import SETTLED
    from workflow.storage.tables import payments

    _, page, engine, _ = report
    with reading(engine) as conn:
        tranches = conn.execute(
            select(payments.c.tranche, func.count(), func.sum(payments.c.amount_pence))
            .where(payments.c.state.in_(SETTLED))
            .group_by(payments.c.tranche)
        ).all()
        moves = conn.execute(
            select(cases.c.ref, organisations.c.name, history.c.payment, history.c.trigger)
            .add_columns(history.c.at)
            .join(cases, cases.c.id == history.c.case_id)
            .join(organisations, organisations.c.code == cases.c.lead)
            .where(history.c.trigger.in_(("hold", "release")), history.c.payment.is_not(None))
            .order_by(history.c.at)
        ).all()
        held = {m.trigger: m for m in moves}
        paid = conn.execute(
            select(payments.c.amount_pence, payments.c.paid_at).where(
                payments.c.ref == f"{held['hold'].ref}/{held['hold'].payment}"
            )
        ).one()

    section = words(page.split('id="payments"')[1].split("</section>")[0])
    assert tranches
    for n, count, pence in tranches:
        assert re.search(rf"Tranche {n} When .*? accepted {count} £{pence // 100:,} ", section), n
    hold, release = held["hold"], held["release"]
    assert (
        f"{hold.ref}/{hold.payment} {hold.name} £{paid.amount_pence // 100:,} "
        f"{day(hold.at)} (case suspended) {day(release.at)} {day(paid.paid_at)}"
    ) in section
    assert '<a href="#payments">Payments</a>' in page


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
def test_no_label_of_a_drawing_overprints_another_at_either_width(report):
    """At 390 pixels the fund chart's 'committed at the end' ran over the label of the first
    release of funds; each label now moves down clear of the totals."""
    from playwright.sync_api import sync_playwright

    boxes = """svgs => svgs.filter(s => s.getClientRects().length).map(s =>
        [...s.querySelectorAll('text')].map(t => {
            const r = t.getBoundingClientRect();
            return [t.textContent, r.left, r.top, r.right, r.bottom];
        }))"""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for width in WIDTHS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(report[0].as_uri())
                drawings = page.eval_on_selector_all("svg.drawing", boxes)
                assert len(drawings) >= 2, width  # the fund and the suspended case's year
                for labels in drawings:
                    for i, (a, *one) in enumerate(labels):
                        for b, *other in labels[i + 1 :]:
                            apart = (
                                one[2] <= other[0] + 1
                                or other[2] <= one[0] + 1
                                or one[3] <= other[1] + 1
                                or other[3] <= one[1] + 1
                            )
                            assert apart, (width, a, b)
                page.close()
        finally:
            browser.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
def test_on_a_phone_each_award_reads_in_the_column_with_its_amount_paid_and_state(report):
    """At 390 pixels the awards table showed council, bid and category, and its amount, paid
    and state lay off the screen to the right; each award is now a block of labelled lines,
    as are the tables of returns, controls, variations, held payments, questions and
    refusals (whose reason runs under its label, the width of the column)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 900})
            page.goto(report[0].as_uri())
            column = page.eval_on_selector("main", "m => m.getBoundingClientRect().right")
            cells = page.eval_on_selector_all(
                "table.stack td",
                """tds => tds.filter(td => td.getClientRects().length).map(td => [
                    td.textContent.trim(), td.getBoundingClientRect().right,
                    getComputedStyle(td, '::before').content])""",
            )
            awards = page.eval_on_selector_all(
                "#awards tbody td",
                "tds => tds.map(td => [getComputedStyle(td, '::before').content, td.innerText])",
            )
            page.close()
        finally:
            browser.close()

    assert cells
    for text, right, _ in cells:
        assert right <= column + 1, (text, right, column)
    labels = {label.strip('"') for _, _, label in cells}
    assert {"Amount", "Paid", "Now", "Countersigned by", "Decision", "Failed"} <= labels
    assert {
        "Not yet due",
        "The system said",
        "Released",
        "Last",
        "Awards allowed",
        "Cancelled",
    } <= labels
    shown = {label.strip('"') for label, text in awards if text.strip()}
    assert {"Bid", "Category", "Amount", "Paid", "Offered", "Now"} <= shown
    assert all(text.startswith("£") for label, text in awards if label in ('"Amount"', '"Paid"'))


def test_each_countersignature_shows_the_amount_it_was_given_for(report):
    """An offer countersigned at £165,000 and raised by a variation to £173,000 was listed
    as a countersignature of £173,000 (the case's amount now); each row now shows the amount
    its history row records, and the SRO is named."""
    from states.money import from_json

    _, page, engine, result = report
    with reading(engine) as conn:
        signed = conn.execute(
            select(cases.c.ref, history.c.trigger, history.c.actor, history.c.payload)
            .join(cases, cases.c.id == history.c.case_id)
            .where(history.c.trigger.in_(("countersign", "countersign_variation")))
            .order_by(history.c.id)
        ).all()

    text = words(page)
    table = text[text.index("Countersignatures") : text.index("Annual reviews")]
    assert signed
    for ref, trigger, actor, payload in signed:
        what = "Variation" if trigger == "countersign_variation" else "Offer"
        amount = f"£{from_json(payload['amount']) // 100:,}"
        assert re.search(rf"{ref} {what}[^£]* {re.escape(amount)} {actor} ", table), (ref, what)
    assert "(henry.shaw for the TCA)" in table
