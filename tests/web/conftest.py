"""Fixtures for the web tests: a cast with passwords, a simulated clock, the app over it."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from tests.builders import World
from tests.web.site import START, Site, cast
from workflow import clock
from workflow.services import passwords


@pytest.fixture(autouse=True)
def cheap_hashes():
    """Argon2id at its cheapest: sign-in is exercised for real, hundreds of times, quickly.

    The production parameters are checked once, in test_passwords.py.
    """
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    passwords.use_hasher(previous)


@pytest.fixture
def moment():
    """The simulated clock every service (and the session cookie) reads; starts 3 June 2013."""
    with clock.simulate(START) as simulated:
        yield simulated


def _cast(engine) -> None:
    with clock.simulate(START):
        cast(World(engine))


@pytest.fixture
def people(db, moment, built_once) -> World:
    """The cast (tests.web.site.cast), made once a run and copied into each test's database."""
    built_once.into(db, "web-cast", _cast)
    return World.over(db)


@pytest.fixture
def site(people) -> Site:
    return Site(people)
