"""Sign-in holds its limits under concurrency, and nobody signs in under the sweep's name."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select, text

from tests.web.live import LiveServer
from tests.web.site import PASSWORD, settings
from workflow.services import passwords
from workflow.errors import Malformed, SetupError
from workflow.services.directory import add_user
from workflow.services.setup import init
from workflow.web import create_app
from workflow.web.lockout import attempts

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _sign_in(base: str, name: str, password: str) -> int:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as browser:
        form = browser.get("/sign-in")
        token = _TOKEN.search(form.text).group(1)
        return browser.post(
            "/sign-in", data={"name": name, "password": password, "csrf_token": token}
        ).status_code


def _checked(engine, name: str) -> int:
    """Attempts whose password was checked (not refused as locked)."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(attempts)
            .where(attempts.c.name == name, attempts.c.outcome.in_(("ok", "wrong", "pending")))
        ).scalar()


def test_fifty_sign_ins_at_once_for_one_name_check_at_most_five_passwords(people, moment):
    app = create_app(people.engine, scheduler_every=None, settings=settings())
    with LiveServer(app) as live, ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda _: _sign_in(live.url, "carol", "a guess"), range(50)))

    assert answers.count(401) == 50
    assert _checked(people.engine, "carol") <= 5


def test_system_in_any_capitalisation_is_refused_as_a_persons_name(people):
    before = people.snapshot()

    for name in ("system", "System", "SYSTEM"):
        with pytest.raises(Malformed, match="the sweep's name"):
            with people.engine.begin() as conn:
                add_user(conn, name, roles=["council"], org="E07000026")

    assert people.snapshot() == before


def test_init_does_not_finish_while_a_person_holds_the_sweeps_name(people):
    with people.engine.begin() as conn:  # made before names were checked
        conn.execute(
            text(
                "INSERT INTO people (name, roles, org) "
                "VALUES ('System', '[\"council\"]', 'E07000026')"
            )
        )

    with pytest.raises(SetupError, match="init did not finish: 'System' is the sweep's name"):
        init(people.engine)


def test_a_person_holding_the_sweeps_name_cannot_sign_in(site, people):
    with people.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO people (name, roles, org) "
                "VALUES ('system', '[\"council\"]', 'E07000026')"
            )
        )
    passwords.set_password(people.engine, "system", PASSWORD)

    assert site.visitor().sign_in("system").status_code == 401
