"""Forms need this session's token; councils see only their own cases; text is shown as text."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.web.site import bid_in_monitoring, open_return, recommended_bid, text_of
from workflow.web.lockout import attempts


# Posted by machines, not by forms: each refuses a request without its own
# bearer token instead (GOV.UK Notify's receipts: tests/web/test_notify_callback.py).
NOT_FORMS = {"/notify/callback"}


def post_routes(app, forms_only: bool = True) -> list[str]:
    found = {r.path for r in app.routes if "POST" in (getattr(r, "methods", None) or ())}
    return sorted(found - NOT_FORMS if forms_only else found)


def fill(path: str, ref: str, label: str) -> str:
    return (
        path.replace("{ref}", ref)
        .replace("{case}", ref)
        .replace("{label}", label)
        .replace("{n:int}", "1")
        .replace("{action}", "approve")
    )


def everything(site) -> tuple:
    with site.engine.connect() as conn:
        tried = conn.execute(select(func.count()).select_from(attempts)).scalar()
    return site.world.snapshot(), tried


@pytest.fixture
def monitored(site, moment):
    ref = bid_in_monitoring(site.world)
    open_return(site.world, moment, ref)
    return ref


def test_every_form_the_app_takes_is_checked_for_its_token(site):
    assert post_routes(site.app) == [
        "/admin/organisations/{code}",
        "/admin/people/{name}/roles",
        "/admin/people/{name}/standing",
        "/admin/programmes/load",
        "/admin/programmes/{code}/sro",
        "/apply",
        "/apply/new/{programme}",
        "/apply/{ref}/change",
        "/apply/{ref}/evidence",
        "/apply/{ref}/evidence/remove",
        "/apply/{ref}/send",
        "/apply/{ref}/{field}",
        "/cases/{ref}/advance",
        "/cases/{ref}/agree-score",
        "/cases/{ref}/assign",
        "/cases/{ref}/contribution",
        "/cases/{ref}/declare",
        "/cases/{ref}/diligence",
        "/cases/{ref}/payments/{n:int}/{action}",
        "/cases/{ref}/review",
        "/cases/{ref}/score",
        "/cases/{ref}/variations",
        "/cases/{ref}/variations/{n:int}/decide",
        "/outbox/retry",
        "/returns/{case}/{label}/decide",
        "/returns/{case}/{label}/submit",
        "/sign-in",
        "/sign-out",
    ]
    assert set(post_routes(site.app, forms_only=False)) - set(post_routes(site.app)) == NOT_FORMS


@pytest.mark.parametrize("token", [None, "not-this-sessions-token"], ids=["missing", "wrong"])
def test_a_form_without_this_sessions_token_is_refused_and_changes_nothing(site, monitored, token):
    carol = site.as_("carol")
    for path in post_routes(site.app):
        before = everything(site)

        refused = carol.post(
            fill(path, monitored, "Q1"),
            {
                "trigger": "suspend",
                "reason": "r",
                "name": "carol",
                "password": "correct horse battery staple",
                "all": "dead",
                "contribution": "1",
                "conflict": "no",
                "innovation": "3",
                "costs": "3",
                "savings": "3",
                "spend_to_date": "1",
            },
            token=token,
        )

        assert refused.status_code == 403, path
        assert "This form has expired" in text_of(refused.text), path
        assert everything(site) == before, path
    assert carol.get("/inbox").status_code == 200  # still signed in: nothing was done


def test_a_token_from_another_session_is_refused(site, monitored):
    carol, other = site.as_("carol"), site.as_("carol")
    other.get("/inbox")
    before = site.world.snapshot()

    refused = carol.post(
        f"/cases/{monitored}/advance",
        {
            "trigger": "suspend",
            "reason": "Fraud investigation opened by the council's auditors",
            "confirmed": "yes",
        },
        token=other.token(),
    )

    assert refused.status_code == 403
    assert site.world.snapshot() == before


def test_a_council_person_asking_for_another_councils_case_gets_not_found_and_no_data(
    site, monitored
):
    otto = site.as_("otto")

    pages = [
        otto.get(f"/cases/{monitored}"),
        otto.get(f"/returns/{monitored}/Q1"),
        otto.get(f"/returns/{monitored}/Q1/evidence"),
        otto.get(f"/cases/{monitored}/assessment"),
    ]
    missing = otto.get("/cases/TCA-2013-9999")

    assert [p.status_code for p in pages[:3]] == [404, 404, 404]
    assert pages[3].status_code == 403
    for p in pages:
        words = text_of(p.text)
        assert "Joint procurement" not in words and "E07000026" not in words
    assert text_of(pages[0].text).replace(monitored, "X") == text_of(missing.text).replace(
        "TCA-2013-9999", "X"
    )


def test_a_council_persons_lists_hold_only_their_own_organisations_cases(site, monitored):
    own, elsewhere = site.as_("cllr"), site.as_("otto")

    link, return_link = f'href="/cases/{monitored}"', f'href="/returns/{monitored}/Q1"'
    assert link in own.get("/cases").text
    assert return_link in own.get("/returns").text
    assert link not in elsewhere.get("/cases").text
    assert return_link not in elsewhere.get("/returns").text
    searched = elsewhere.get(f"/cases?q={monitored}")
    assert link not in searched.text and "No cases match" in text_of(searched.text)


def test_a_council_person_cannot_act_on_another_councils_case_by_posting_directly(site, monitored):
    otto = site.as_("otto")
    before = site.world.snapshot()

    answers = [
        otto.post(
            f"/cases/{monitored}/advance",
            {"trigger": "withdraw", "reason": "Partnership dissolved", "confirmed": "yes"},
        ),
        otto.post(f"/returns/{monitored}/Q1/submit", {"progress": "sneaky"}),
        otto.post(f"/returns/{monitored}/Q1/decide", {"trigger": "accept"}),
    ]

    assert [a.status_code for a in answers] == [404, 404, 404]
    assert all("Joint procurement" not in a.text for a in answers)
    assert site.world.snapshot() == before


def test_a_partner_council_reads_the_case_but_cannot_act_on_it(site, monitored):
    pat = site.as_("pat")
    before = site.world.snapshot()

    seen = pat.get(f"/returns/{monitored}/Q1")
    refused = pat.post(f"/returns/{monitored}/Q1/submit", {"progress": "from a partner"})

    assert seen.status_code == 200
    assert "Submit the return" not in seen.text
    assert refused.status_code == 403
    assert "pat is not a person of E07000026" in text_of(refused.text)
    assert site.world.snapshot() == before


def test_a_role_that_may_not_fire_a_trigger_is_refused_when_it_posts_anyway(site):
    ref = recommended_bid(site.world)
    carol = site.as_("carol")
    carol.get(f"/cases/{ref}")
    before = site.world.snapshot()

    refused = carol.post(f"/cases/{ref}/advance", {"trigger": "offer"})

    assert refused.status_code == 403
    assert "carol (caseworker) may not do 'Offer the award'" in text_of(refused.text)
    assert site.world.snapshot() == before


def test_html_in_peoples_text_is_shown_as_text(site, moment):
    title = '<script>alert("x")</script><b>bold</b>'
    ref = bid_in_monitoring(site.world, title=title)
    open_return(site.world, moment, ref)
    cllr, carol = site.as_("cllr"), site.as_("carol")
    cllr.post(
        f"/returns/{ref}/Q1/submit",
        {"progress": "<img src=x onerror=alert(1)>", "spend_to_date": "0"},
    )
    carol.get(f"/returns/{ref}/Q1")
    carol.post(f"/returns/{ref}/Q1/decide", {"trigger": "query", "reason": "<i>why</i>"})

    pages = [
        carol.get(p).text
        for p in (f"/cases/{ref}", "/inbox", f"/returns/{ref}/Q1", f"/audit/{ref}", "/cases")
    ] + [cllr.get(f"/returns/{ref}/Q1").text]

    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html and "<i>why" not in html
        assert "<b>bold" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[0]
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[2]
    assert "&lt;i&gt;why&lt;/i&gt;" in pages[5]


def test_pages_forbid_framing_and_outside_scripts(site):
    page = site.visitor().get("/sign-in")

    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"""(src|href)=["']https?://""", page.text)


def test_signed_in_pages_are_not_kept_in_caches(site):
    assert site.as_("carol").get("/inbox").headers["cache-control"] == "no-store"
