"""Every page of a demo year, opened in Chromium at 1280 and 390 pixels wide.

Each page is screenshotted at both widths under test-output/screenshots/every-page/
(kept with the test run for people to look at), checked by axe-core at 390 (the layout where
tables scroll in their own boxes; axe's rules read the same page at both widths otherwise),
and must be no wider than the phone's screen at 390 pixels: a wide table
scrolls inside its own box, never the whole page sideways.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from notifications.kinds import KINDS
from states import DEFINITIONS
from states.programme import parse_programme
from tests.web.live import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, LiveServer
from workflow.services.programme_files import bundled_sources
from workflow.storage.db import make_engine, reading
from workflow.storage.tables import cases, checkpoints, people, variations
from workflow.services.passwords import DEMO_PASSWORD
from workflow.web import create_app
from workflow.web.settings import WebSettings
from workflow.web.statements import AXE_VERSION

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no Chromium at {CHROMIUM}: "
        "`apt-get install -y chromium` (scripts/test.sh does it) to see every page",
    ),
]
WIDTHS = (1280, 390)
AXE_WIDTH = 390
OUT = SCREENSHOTS / "every-page"
# Codes that must never be what people read (forms and links keep them): every state, trigger,
# category, ladder step and message kind that is plainly a code (an underscore or a dot).
CODES = sorted(
    {c for d in DEFINITIONS.values() for c in (*d.states, *d.triggers) if "_" in c}
    | {
        c
        for spec in (parse_programme(text) for _, text in bundled_sources())
        for c in (*spec.categories, *(step.name for step in spec.ladder))
        if "_" in c
    }
    | set(KINDS)
)


@pytest.fixture(scope="module")
def year(tmp_path_factory, small_demo) -> dict[str, Any]:
    """A small demo year, and the references its pages need."""
    out = tmp_path_factory.mktemp("every-page") / "demo"
    small_demo.copy(out)
    engine = make_engine(f"sqlite:///{out / 'casework.db'}")
    with reading(engine) as conn:

        def first(*where) -> Any:
            return conn.execute(select(cases).where(*where).order_by(cases.c.id)).first()

        closed = first(cases.c.kind == "bid", cases.c.state == "closed")
        suspended = first(cases.c.state == "suspended") or closed
        area = first(cases.c.kind == "area", cases.c.state == "completed")
        rejected = first(cases.c.kind == "bid", cases.c.state == "rejected")
        a_return = conn.execute(
            select(checkpoints.c.ref)
            .where(checkpoints.c.case_id == suspended.id)
            .order_by(checkpoints.c.n)
        ).scalar()
        council = conn.execute(select(people.c.name).where(people.c.org == suspended.lead)).scalar()
        varied = (
            conn.execute(
                select(cases)
                .join(variations, variations.c.case_id == cases.c.id)
                .order_by(variations.c.id)
            ).first()
            or closed
        )
        varied_council = conn.execute(
            select(people.c.name).where(people.c.org == varied.lead)
        ).scalar()
    # A draft bid amended once, for the case page's changes and the application's versions.
    from workflow.services import applications, lifecycle

    bid = {
        "programme": "tca-2013",
        "category": "single_operation",
        "lead": suspended.lead,
        "title": "One council for the county",
        "amount": "1500000",
        "innovation": "A single operation, front line and back office.",
    }
    amended = lifecycle.open_case(engine, "bid", bid, council)["ref"]
    applications.amend(
        engine,
        amended,
        {**bid, "amount": "1400000", "innovation": "A single operation in two years."},
        council,
    )
    with reading(engine) as conn:
        caseworker = conn.execute(
            select(people.c.name).where(people.c.name == "carol.hughes")
        ).scalar()
    yield {
        "engine": engine,
        "closed": closed.ref,
        "suspended": suspended.ref,
        "area": area.ref,
        "rejected": rejected.ref,
        "return": a_return,
        "council": council,
        "amended": amended,
        "varied": varied.ref,
        "varied_council": varied_council,
        "lead": suspended.lead,
        **applications_in_hand(engine, council, suspended.lead, caseworker),
    }
    engine.dispose()


def applications_in_hand(engine: Any, council: str, org: str, caseworker: str) -> dict[str, str]:
    """A council's drafts (a bid, an expression of interest) and a bid it is asked about."""
    from workflow.services import lifecycle

    bid = {
        "programme": "tca-2013",
        "lead": org,
        "category": "shared_arrangement",
        "title": "Shared revenues and benefits service",
        "partners": [],
        "amount": "180000",
        "transitional_costs": "60000",
        "annual_savings": "90000",
        "arrangement": "joint_contracting",
        "innovation": "One service for both councils.",
    }
    draft = lifecycle.open_case(
        engine, "bid", {k: bid[k] for k in list(bid)[:6]}, council, draft=True
    )["ref"]
    area = lifecycle.open_case(
        engine,
        "area",
        {
            "programme": "pstn-2013",
            "lead": org,
            "title": "One front door for families",
            "partners": [{"name": "County police", "evidence": "Signed letter"}],
        },
        council,
        draft=True,
    )["ref"]
    asked = lifecycle.open_case(engine, "bid", bid, council)["ref"]
    lifecycle.advance(engine, asked, "submit", council)
    from tests.builders import World

    World(engine).pass_diligence(asked, by=caseworker)  # due diligence before the check
    for trigger in ("check", "start_assessment"):
        lifecycle.advance(engine, asked, trigger, caseworker)
    lifecycle.advance(
        engine,
        asked,
        "ask_clarification",
        caseworker,
        reason="How will the savings be shared between the two councils?",
    )
    return {"draft": draft, "area_draft": area, "asked": asked}


def pages(y: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """(name, who signs in or None, path) for every page a person can reach."""
    s, r = y["suspended"], y["return"]
    return [
        ("sign-in", None, "/sign-in"),
        ("accessibility", None, "/accessibility"),
        ("privacy", None, "/privacy"),
        ("cookies", None, "/cookies"),
        ("caseworker-inbox", "carol.hughes", "/inbox"),
        ("cases", "carol.hughes", "/cases"),
        ("case-suspended", "carol.hughes", f"/cases/{s}"),
        ("case-closed", "carol.hughes", f"/cases/{y['closed']}"),
        ("case-rejected", "carol.hughes", f"/cases/{y['rejected']}"),
        ("case-area", "dev.patel", f"/cases/{y['area']}"),
        ("assessment", "carol.hughes", f"/cases/{y['closed']}/assessment"),
        ("case-amended", "carol.hughes", f"/cases/{y['amended']}"),
        ("application", "carol.hughes", f"/cases/{y['amended']}/application?version=2"),
        ("application-v1", y["council"], f"/cases/{y['amended']}/application?version=1"),
        ("returns", "carol.hughes", "/returns"),
        ("return", "carol.hughes", f"/returns/{r}"),
        ("return-waive", "carol.hughes", f"/returns/{r}/waive"),
        ("programmes", "carol.hughes", "/programmes"),
        ("ranking", "grace.hall", "/programmes/tca-2013/ranking"),
        ("confirm-terminate", "grace.hall", f"/cases/{s}/confirm?trigger=terminate"),
        ("approver-inbox", "grace.hall", "/inbox"),
        ("assessor-inbox", "amara.okafor", "/inbox"),
        ("audit", "iris.nolan", "/audit"),
        ("audit-case", "iris.nolan", f"/audit/{s}"),
        ("audit-verify", "iris.nolan", "/audit/verify"),
        ("messages", "carol.hughes", "/outbox"),
        ("message", "carol.hughes", "/outbox/1"),
        ("audit-admin", "iris.nolan", "/audit/admin"),
        ("admin", "sam.admin", "/admin"),
        ("admin-organisations", "sam.admin", "/admin/organisations"),
        ("admin-organisation", "sam.admin", f"/admin/organisations/{y['lead']}"),
        ("admin-people", "sam.admin", "/admin/people"),
        ("admin-person", "sam.admin", "/admin/people/carol.hughes"),
        ("admin-programmes", "sam.admin", "/admin/programmes"),
        ("approver-payments", "grace.hall", "/payments"),
        ("finance-payments", "fran.okoro", "/payments"),
        ("caseworker-payments", "carol.hughes", "/payments"),
        ("council-payments", y["council"], "/payments"),
        ("council-returns", y["council"], "/returns"),
        ("council-return", y["council"], f"/returns/{r}"),
        ("case-varied", "carol.hughes", f"/cases/{y['varied']}"),
        ("agreement", "carol.hughes", f"/cases/{y['varied']}/agreement"),
        ("council-agreement-v1", y["varied_council"], f"/cases/{y['varied']}/agreement?version=1"),
        ("apply-start", y["council"], "/apply"),
        ("apply-first-question", y["council"], "/apply/new/tca-2013"),
        ("apply-partners", y["council"], f"/apply/{y['draft']}/partners"),
        ("apply-amount", y["council"], f"/apply/{y['draft']}/amount"),
        ("apply-arrangement", y["council"], f"/apply/{y['draft']}/arrangement"),
        ("apply-innovation", y["council"], f"/apply/{y['draft']}/innovation"),
        ("apply-evidence", y["council"], f"/apply/{y['draft']}/evidence"),
        ("apply-check", y["council"], f"/apply/{y['draft']}"),
        ("case-draft", y["council"], f"/cases/{y['draft']}"),
        ("apply-area-service-areas", y["council"], f"/apply/{y['area_draft']}/service_areas"),
        ("apply-area-partners", y["council"], f"/apply/{y['area_draft']}/partners"),
        ("apply-answer", y["council"], f"/cases/{y['asked']}/answer"),
        ("apply-change", y["council"], f"/apply/{y['asked']}/change"),
    ]


@pytest.fixture(scope="module")
def site(year):
    from playwright.sync_api import sync_playwright

    settings = WebSettings(secret_key="every-page")
    with (
        LiveServer(create_app(year["engine"], scheduler_every=None, settings=settings)) as live,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        contexts: dict[tuple[str | None, int], Any] = {}

        def tab(who: str | None, width: int) -> Any:
            if (who, width) not in contexts:
                context = browser.new_context(
                    base_url=live.url, viewport={"width": width, "height": 900}
                )
                page = context.new_page()
                if who is not None:
                    page.goto("/sign-in")
                    page.get_by_label("Name").fill(who)
                    page.get_by_label("Password").fill(DEMO_PASSWORD)
                    page.get_by_role("button", name="Sign in").click()
                    assert "/sign-in" not in page.url, f"{who} could not sign in"
                contexts[(who, width)] = page
            return contexts[(who, width)]

        yield tab
        browser.close()


# Some 200 page loads, screenshots and axe runs: minutes on a loaded machine (300 s was
# exceeded at a load average of 12 with two test processes).
@pytest.mark.timeout(900)
def test_every_page_fits_a_phone_passes_axe_and_is_kept_as_a_screenshot(year, site):
    from axe_playwright_python.sync_playwright import Axe

    axe, problems = Axe(), []
    for name, who, path in pages(year):
        for width in WIDTHS:
            page = site(who, width)
            answer = page.goto(path)
            assert answer is not None and answer.status == 200, (
                name,
                path,
                answer and answer.status,
            )
            shot = OUT / str(width) / f"{name}.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > width:
                problems.append(
                    f"{name} ({path}) is {wide}px wide at {width}px: {_widest(page, width)}"
                )
            if width < 641:
                # Tables of cases, returns and payments stack on a phone: none scrolls sideways.
                sideways = page.evaluate(
                    """() => [...document.querySelectorAll('.table--stacked')]
                    .map(t => t.closest('.table-wrap') || t)
                    .filter(w => w.scrollWidth > w.clientWidth + 1).length"""
                )
                if sideways:
                    problems.append(f"{name}: {sideways} stacked table(s) scroll at {width}px")
            shown = _words_on(page)
            leaked = sorted(
                code
                for code in CODES
                if re.search(rf"(?<![\w/.-]){re.escape(code)}(?![\w-])", shown)
            )
            if leaked:
                problems.append(f"{name} shows codes where people read words: {', '.join(leaked)}")
            found = axe.run(page) if width == AXE_WIDTH else None
            if found is not None and found.violations_count:
                problems.append(f"{name} at {width}px: {found.generate_report()}")
    assert problems == [], "\n".join(problems)


def _words_on(page: Any) -> str:
    """What people read on the page: its text, less what is shown verbatim on purpose (a
    message as it was sent, a delivery key: <pre> and <code>)."""
    return page.evaluate("""() => { const copy = document.body.cloneNode(true);
        copy.querySelectorAll('pre, code, script, style').forEach(e => e.remove());
        return copy.innerText || copy.textContent; }""")


def _widest(page: Any, width: int) -> str:
    """The elements that stick out past the screen, to say where to look."""
    return page.evaluate(
        """(w) => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-wrap'))
        .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))
        .join(', ')""",
        width,
    )


def test_a_page_wider_than_a_phone_is_caught(year, site):
    """The width check itself: a page made too wide is reported (so the test above can fail)."""
    page = site(None, 390)
    page.goto("/cookies")
    # through the CSSOM: the pages' Content-Security-Policy refuses inline style attributes
    page.evaluate("""() => { const p = document.createElement('p'); p.textContent = 'too wide';
                             p.style.width = '700px'; document.querySelector('main').append(p); }""")

    assert page.evaluate("document.documentElement.scrollWidth") > 390
    assert "p" in _widest(page, 390)


def test_the_accessibility_statement_names_the_axe_that_checks_every_page():
    from axe_playwright_python import sync_playwright as package

    script = Path(package.__file__).parent / "axe.min.js"
    installed = re.search(r"axe v([\d.]+)", script.read_text()[:400]).group(1)

    assert AXE_VERSION == installed
