"""What people trip on when they first use the web app: links that lead nowhere, words
that are not theirs. Each test is one person meeting a page as they would in a browser."""

from __future__ import annotations

import re

import pytest

from tests.web.site import PASSWORD, text_of
from workflow.services import passwords

_NAV = re.compile(r'<nav class="nav" aria-label="Main">(.*?)</nav>', re.S)


@pytest.mark.parametrize(
    "name, role",
    [
        ("carol", "caseworker"),
        ("ash", "assessor"),
        ("april", "approver"),
        ("audrey", "auditor"),
        ("adam", "admin"),
        ("cllr", "council"),
        ("fay", "finance"),
    ],
)
def test_every_link_in_a_persons_navigation_opens_a_page_they_may_see(site, name, role):
    """Finance was offered "Programmes", which only refused them ("You cannot see this
    page"): the navigation now offers each person only pages their roles open."""
    if name == "fay":
        site.world.person("fay", "finance")
        passwords.set_password(site.engine, "fay", PASSWORD)
    visitor = site.as_(name)
    start = visitor.get("/cases")
    nav = _NAV.search(start.text)
    assert nav, f"{name} ({role}) has no navigation"
    links = re.findall(r'href="([^"]+)"', nav.group(1))
    assert links, nav.group(1)
    for href in links:
        page = visitor.get(href)
        assert page.status_code == 200, (role, href, page.status_code, text_of(page.text)[:200])
