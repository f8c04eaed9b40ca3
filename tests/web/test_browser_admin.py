"""The admin area in a real browser (Chromium, driven by Playwright), axe on every page.

Each form is sent as a browser sends it, with the token its own page printed (the test
client sends the first token on a page, so it could not tell a form whose own token was
wrong): an admin changes an organisation's ESG allocation, a person's roles and standing,
names a senior responsible owner and loads a changed programme file; each change is one
row of the admin log with the admin's name, before and after.
"""

from __future__ import annotations

import re

import pytest

from tests.web.live import CHROMIUM
from tests.web.test_browser_apply import axe, browser, live, session  # noqa: F401 (fixtures)
from workflow.services import admin_log
from workflow.services.programme_files import bundled_sources
from workflow.storage.db import reading

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no Chromium at {CHROMIUM}: "
        "`apt-get install -y chromium` (scripts/test.sh does it) to run the journeys",
    ),
]


def logged(people) -> list[dict]:
    with reading(people.engine) as conn:
        return admin_log.rows(conn)


def test_an_admin_changes_organisations_people_and_programmes_in_a_browser(
    people, moment, live, browser, axe, tmp_path
):
    before = len(logged(people))
    _ctx, adam = session(browser, live, "adam", "/admin")
    axe(adam, "the admin area")

    adam.goto("/admin/organisations/E07000026")
    axe(adam, "an organisation")
    adam.get_by_label("Efficiency Support Grant allocation").fill("120000")
    adam.get_by_role("button", name="Save changes").click()
    assert "This form has expired" not in adam.inner_text("main")
    assert "Organisation E07000026 updated" in adam.inner_text("main")

    adam.goto("/admin/people/ash")
    axe(adam, "a person")
    adam.get_by_label("Approver").check()
    adam.get_by_role("button", name="Save roles").click()
    assert "ash's roles: approver, assessor." in adam.inner_text("main")
    adam.get_by_role("button", name=re.compile("^Disable ash")).click()
    assert "ash disabled." in adam.inner_text("main")

    adam.goto("/admin/programmes")
    axe(adam, "the programmes")
    adam.get_by_label(
        "Senior responsible owner of Transformation Challenge Award 2013"
    ).select_option("april")
    adam.get_by_role(
        "button", name="Name the senior responsible owner of Transformation Challenge Award 2013"
    ).click()
    assert "april is the senior responsible owner of tca-2013." in adam.inner_text("main")

    source = next(text for name, text in bundled_sources() if name == "tca-2013.toml")
    changed = tmp_path / "tca-2013.toml"
    changed.write_text(source.replace('fund = "9000000"', 'fund = "9500000"'), encoding="utf-8")
    adam.get_by_label("Programme file").set_input_files(str(changed))
    adam.get_by_role("button", name="Load the file").click()
    assert "Programme tca-2013 updated" in adam.inner_text("main")
    axe(adam, "the programmes, a file loaded")

    rows = logged(people)[before:]
    assert [(r["action"], r["target"], r["actor"], r["role"]) for r in rows] == [
        ("org_update", "E07000026", "adam", "admin"),
        ("user_roles", "ash", "adam", "admin"),
        ("user_disable", "ash", "adam", "admin"),
        ("programme_sro", "tca-2013", "adam", "admin"),
        ("programme_load", "tca-2013", "adam", "admin"),
    ]
    assert rows[-1]["after"]["values"] == {"fund": "9500000"}
