"""The API under test: mounted at /api/v1 as the web app mounts it, with a token per person.

Requests go through the real ASGI stack (Starlette's TestClient on httpx) to
real SQLite or PostgreSQL databases; nothing below the HTTP layer is faked.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.builders import World
from workflow import clock
from workflow.services import tokens
from workflow.api import MOUNT, create_api

# The cast's councils under their real names, so the 360Giving register finds them.
NAMES = {
    "E07000026": "Allerdale Borough Council",
    "E07000028": "Carlisle City Council",
    "E07000029": "Copeland Borough Council",
    "E06000047": "Durham County Council",
}


def cast(world: World) -> World:
    for code, name in NAMES.items():
        world.org(code, name=name)
    return world.cast()


class Api:
    """A client that speaks to /api/v1 as a named person (by their own API token)."""

    def __init__(self, world: World):
        self.world = world
        self.engine = world.engine
        parent = FastAPI()
        parent.mount(MOUNT, create_api(world.engine))
        self.client = TestClient(parent, raise_server_exceptions=False)
        self._tokens: dict[str, str] = {}

    def token(self, name: str, **kw: Any) -> str:
        if name not in self._tokens or kw:
            with self.engine.begin() as conn:
                token, _ = tokens.create(conn, name, now=clock.now(), **kw)
            if kw:
                return token
            self._tokens[name] = token
        return self._tokens[name]

    def headers(self, who: str | None, extra: dict | None = None) -> dict[str, str]:
        out = dict(extra or {})
        if who is not None:
            out["Authorization"] = f"Bearer {self.token(who)}"
        return out

    def get(self, path: str, who: str | None = "carol", headers: dict | None = None, **kw):
        return self.client.get(MOUNT + path, headers=self.headers(who, headers), **kw)

    def post(self, path: str, who: str | None = "carol", headers: dict | None = None, **kw):
        return self.client.post(MOUNT + path, headers=self.headers(who, headers), **kw)

    def advance(
        self,
        ref: str,
        trigger: str,
        who: str = "carol",
        *,
        reason: str | None = None,
        headers: dict | None = None,
    ):
        body = {"trigger": trigger} if reason is None else {"trigger": trigger, "reason": reason}
        return self.post(f"/cases/{ref}/advance", who, headers=headers, json=body)


def _cast(engine) -> None:
    cast(World(engine))


@pytest.fixture
def api(world, built_once) -> Api:
    """The API over the cast (made once a run, copied into each test's database)."""
    built_once.into(world.engine, "api-cast", _cast)
    return Api(world.adopt())


@pytest.fixture
def any_api(any_world) -> Api:
    return Api(cast(any_world))
