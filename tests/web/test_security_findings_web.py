"""The security review's web findings (issue 17): metrics labels, HSTS, forwarded addresses, Server."""

from __future__ import annotations

import re
import threading
import time

import httpx
import uvicorn
from sqlalchemy import select

from tests.smtp_server import free_port
from tests.web.site import PASSWORD, Site, settings
from workflow.cli.serve_cmd import web_server_options
from workflow.web import create_app
from workflow.web.lockout import attempts

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_a_made_up_method_is_counted_as_other_and_never_becomes_a_label(site):
    visitor = site.visitor()
    for n in range(3):
        visitor.client.request("X" * 500 + str(n), "/cases/TCA-2013-0001")

    scraped = visitor.get("/metrics").text

    assert "X" * 500 not in scraped
    assert re.search(
        r'casework_http_requests_total\{method="other",route="/cases/\{ref\}"', scraped
    ) or re.search(r'casework_http_requests_total\{route="/cases/\{ref\}",method="other"', scraped)


def test_hsts_is_sent_only_where_cookies_are_secure(people):
    plain = Site(people).visitor().get("/sign-in")
    secure = Site(people, secure_cookies=True).visitor("https://testserver").get("/sign-in")

    assert "strict-transport-security" not in plain.headers
    assert secure.headers["strict-transport-security"].startswith("max-age=31536000")


def _serve(app, environ):
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            **web_server_options(environ),
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def _sign_in_from(base: str, forwarded: str) -> httpx.Response:
    with httpx.Client(base_url=base, follow_redirects=False) as browser:
        token = _TOKEN.search(browser.get("/sign-in").text).group(1)
        return browser.post(
            "/sign-in",
            headers={"X-Forwarded-For": forwarded},
            data={"name": "carol", "password": PASSWORD, "csrf_token": token},
        )


def test_a_forwarded_address_is_believed_only_from_a_trusted_proxy_and_no_server_is_named(
    people, moment
):
    app = create_app(people.engine, scheduler_every=None, settings=settings())
    recorded = []
    for environ in ({}, {"CASEWORK_TRUSTED_PROXIES": "127.0.0.1"}):
        server, thread, base = _serve(app, environ)
        try:
            answer = _sign_in_from(base, "203.0.113.9")
        finally:
            server.should_exit = True
            thread.join(timeout=10)
        assert answer.status_code == 303 and "server" not in answer.headers
        with people.engine.connect() as conn:
            recorded.append(
                conn.execute(
                    select(attempts.c.remote).order_by(attempts.c.id.desc()).limit(1)
                ).scalar()
            )

    assert recorded == ["127.0.0.1", "203.0.113.9"]
