"""Every email that asks someone to act links to the page where they act."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests.web.site import bid_in_monitoring, open_return
from workflow.services.messages import base_url
from workflow.storage.tables import outbox
from workflow.runtime.sweep import sweep


def test_each_link_in_the_emails_of_a_late_return_opens_its_page(site, moment):
    ref = bid_in_monitoring(site.world)
    open_return(site.world, moment, ref)
    for _ in range(6):  # reminder, overdue, escalations, suspension
        moment.advance(timedelta(days=7))
        sweep(site.engine)
    with site.engine.connect() as conn:
        messages = list(
            conn.execute(
                select(outbox.c.kind, outbox.c.to_addrs, outbox.c.body_text, outbox.c.body_html)
            )
        )
    council, caseworker = site.as_("cllr"), site.as_("carol")
    link = re.compile(re.escape(base_url()) + r"(/[A-Za-z0-9/_-]+)")

    kinds, checked = set(), set()
    for kind, to, text_part, html_part in messages:
        found = set(link.findall(text_part))
        assert found == set(link.findall(html_part)), kind
        kinds.add(kind)
        for path in found:
            visitor = council if "returns@e07000026.example.gov.uk" in to else caseworker
            page = visitor.get(path)
            assert page.status_code == 200, (kind, path, page.status_code)
            checked.add(path)

    assert {
        "checkpoint.opened",
        "checkpoint.reminder",
        "checkpoint.overdue",
        "checkpoint.escalated_1",
        "case.suspended",
    } <= kinds
    assert f"/returns/{ref}/Q1" in checked and f"/cases/{ref}" in checked


def test_each_link_in_a_variations_emails_opens_its_page_for_whoever_it_was_sent_to(site, moment):
    from workflow.services import variations

    ref = bid_in_monitoring(site.world)
    moment.advance(timedelta(days=30))
    vref = variations.propose(
        site.engine, ref, actor="carol", amount="200000", reason="A district left the hub."
    )["ref"]
    variations.decide(site.engine, vref, "approve", "aaron")
    with site.engine.connect() as conn:
        messages = list(
            conn.execute(
                select(
                    outbox.c.kind, outbox.c.to_addrs, outbox.c.body_text, outbox.c.body_html
                ).where(outbox.c.kind.like("variation.%"))
            )
        )
    link = re.compile(re.escape(base_url()) + r"(/[A-Za-z0-9/_?=-]+)")
    opened = set()
    for kind, to, text_part, html_part in messages:
        found = set(link.findall(text_part))
        assert found and found == set(link.findall(html_part)), kind
        visitor = site.as_("cllr" if "returns@e07000026.example.gov.uk" in to else "aaron")
        for path in found:
            assert visitor.get(path).status_code == 200, (kind, path)
            opened.add((kind, path))

    assert {k for k, _ in opened} == {
        "variation.proposed",
        "variation.awaiting_decision",
        "variation.approved",
    }
    assert ("variation.approved", f"/cases/{ref}/agreement?version=2") in opened
