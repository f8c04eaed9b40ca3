"""A web app over a test database, and visitors who sign in and use it like a browser would.

`Site` holds the app and the world behind it; `Visitor` is one person's
browser session (cookies kept between requests) that finds each form's CSRF
token on the page it came from, as a browser does.
"""

from __future__ import annotations

import html
import re
import warnings
from datetime import datetime, timedelta, timezone
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette suggests httpx2, which is not installed
    from starlette.testclient import TestClient

from tests.builders import World
from workflow.services import assessment, lifecycle, monitoring, passwords
from workflow.web import create_app
from workflow.web.lockout import Policy
from workflow.web.settings import WebSettings

PASSWORD = "correct horse battery staple"
START = datetime(2013, 6, 3, 9, 0, tzinfo=timezone.utc)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')

# Who is who in every web test (World.cast() plus three more).
CAST = {
    "carol": "caseworker",
    "ash": "assessor",
    "asha": "assessor",
    "april": "approver",
    "aaron": "approver",
    "audrey": "auditor",
    "adam": "admin",
    "cllr": "council (lead, E07000026)",
    "pat": "council (partner, E07000028)",
    "otto": "council (elsewhere, E07000099)",
}


def settings(**overrides: Any) -> WebSettings:
    values: dict[str, Any] = {"secret_key": "test-secret", "lockout": Policy(slow_step=0.0)}
    values.update(overrides)
    return WebSettings(**values)


class Visitor:
    def __init__(self, app: Any, base_url: str = "http://testserver"):
        self.client = TestClient(
            app, base_url=base_url, follow_redirects=False, raise_server_exceptions=False
        )
        self.last = ""

    def get(self, path: str, **kw: Any):
        response = self.client.get(path, **kw)
        if "text/html" in response.headers.get("content-type", ""):
            self.last = response.text
            # Every form of a page carries the session's one token: `post` sends the first
            # found, so a form whose own token is wrong (a template printing the token's
            # method instead of calling it) would pass here and fail in a browser.
            tokens = set(_TOKEN.findall(self.last))
            assert len(tokens) <= 1, f"{path}: forms carry different CSRF tokens {tokens}"
        return response

    def token(self) -> str:
        found = _TOKEN.search(self.last)
        if found is None:
            self.get("/sign-in" if "casework_session" not in self.client.cookies else "/cases")
            found = _TOKEN.search(self.last)
        return found.group(1)

    def post(
        self,
        path: str,
        data: dict | None = None,
        *,
        files: Any = None,
        token: str | None | bool = True,
        **kw: Any,
    ):
        body = dict(data or {})
        if token is True:
            body["csrf_token"] = self.token()
        elif isinstance(token, str):
            body["csrf_token"] = token
        response = self.client.post(path, data=body, files=files, **kw)
        # After a redirect the next form comes from the next page, as in a browser.
        self.last = response.text if "text/html" in response.headers.get("content-type", "") else ""
        return response

    def sign_in(self, name: str, password: str = PASSWORD, next: str = ""):
        self.get("/sign-in" + (f"?next={next}" if next else ""))
        return self.post("/sign-in", {"name": name, "password": password, "next": next})

    def follow(self, response):
        """The page a redirect leads to."""
        assert response.status_code in (302, 303), response.text[:500]
        return self.get(response.headers["location"])


def text_of(page_html: str) -> str:
    """The words on a page, without tags, entities decoded, spaces collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page_html, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


class Site:
    def __init__(self, world: World, **overrides: Any):
        self.world = world
        self.engine = world.engine
        self.app = create_app(
            self.engine,
            scheduler_every=overrides.pop("scheduler_every", None),
            settings=settings(**overrides),
        )

    def visitor(self, base_url: str = "http://testserver") -> Visitor:
        return Visitor(self.app, base_url)

    def as_(self, name: str) -> Visitor:
        v = self.visitor()
        r = v.sign_in(name)
        assert r.status_code == 303, f"{name} could not sign in: {text_of(r.text)[:300]}"
        return v


def cast(world: World) -> World:
    world.cast()
    world.org("E07000099")
    world.person("pat", "council", org="E07000028")
    world.person("otto", "council", org="E07000099")
    world.person("adam", "admin")
    passwords.sample_passwords(world.engine, password=PASSWORD)
    return world


# --- cases in the states a test needs, through the real services ----------------------
def scored_bid(world: World, **doc: Any) -> str:
    ref = world.bid(**doc)
    world.advance(ref, "submit", "check", "start_assessment")
    for name in ("ash", "asha"):
        assessment.declare(world.engine, ref, name, conflict=False)
        assessment.score(world.engine, ref, name, innovation=4, costs=3, savings=4)
    return ref


def recommended_bid(world: World, **doc: Any) -> str:
    ref = scored_bid(world, **doc)
    world.advance(ref, "moderate", "recommend")
    return ref


def bid_in_monitoring(world: World, **doc: Any) -> str:
    ref = recommended_bid(world, **doc)
    world.advance(ref, "offer", by="april")
    world.advance(ref, "accept", by="cllr")
    return ref


def open_return(world: World, moment: Any, ref: str, n: int = 1) -> str:
    """Move the simulated clock to 13 days before return `n` is due, and sweep: it opens."""
    from workflow.runtime.sweep import sweep

    checkpoint = monitoring.get_checkpoint(world.engine, f"{ref}/Q{n}")
    due = datetime.fromisoformat(checkpoint["due"]).replace(hour=10, tzinfo=timezone.utc)
    moment.set(max(moment.at, due - timedelta(days=13)))
    sweep(world.engine)
    return checkpoint["ref"]


def area_under_assessment(world: World) -> str:
    doc = {
        "programme": "pstn-2013",
        "title": "Troubled families, one front door",
        "lead": "E07000026",
        "service_areas": ["troubled families"],
        "how_to_succeed": "One team across the county.",
        "partners": [
            {"name": "County police", "evidence": "Signed letter"},
            {"name": "NHS trust", "evidence": "Board minute"},
        ],
        "contribution": "50000",
    }
    ref = lifecycle.open_case(world.engine, "area", doc, "carol")["ref"]
    world.advance(ref, "submit", "start_assessment")
    return ref


# A round whose fund holds less than two awards, for racing approvers.
SMALL_ROUND = """
code = "tca-tiny"
name = "A small round"
kind = "bids"
fund = "400000"
[contacts]
lead = "lead@example.org"
director = "director@example.org"
[categories.shared_arrangement]
min = "50000"
max = "500000"
max_count = 30
[rules.shared_arrangement]
required_fields = ["arrangement", "innovation", "transitional_costs", "annual_savings"]
arrangements = ["linked_it", "joint_procurement", "joint_contracting", "other"]
"""
