"""Signing in and out: where people land, lockout, sessions and their cookie."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.web.site import PASSWORD, Site, text_of
from workflow.services import passwords
from workflow.web.lockout import Policy, attempts, standing_of

REFUSED_WORDS = "The name or password is not right"


@pytest.mark.parametrize(
    "name, landing",
    [
        ("carol", "/inbox"),
        ("ash", "/inbox"),
        ("april", "/inbox"),
        ("cllr", "/returns"),
        ("audrey", "/cases"),
        ("adam", "/admin"),
        ("fiona", "/payments"),
    ],
)
def test_each_role_lands_on_its_own_start_page(site, name, landing):
    if name == "fiona":
        site.world.person("fiona", "finance")
        passwords.sample_passwords(site.engine, password=PASSWORD)
    visitor = site.visitor()

    signed_in = visitor.sign_in(name)

    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == landing
    assert visitor.follow(signed_in).status_code == 200


def test_a_reminder_link_leads_back_to_the_return_after_signing_in(site):
    visitor = site.visitor()

    asked = visitor.get("/returns/TCA-2013-0001/Q2")
    signed_in = visitor.sign_in("cllr", next=asked.headers["location"].split("next=")[1])

    assert asked.status_code == 303
    assert asked.headers["location"] == "/sign-in?next=/returns/TCA-2013-0001/Q2"
    assert signed_in.headers["location"] == "/returns/TCA-2013-0001/Q2"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_signing_in_never_sends_anyone_to_another_site(site, target):
    signed_in = site.visitor().sign_in("carol", next=target)

    assert signed_in.headers["location"] == "/inbox"


def test_a_wrong_password_an_unknown_name_and_a_locked_name_get_the_same_page(site, moment):
    wrong = site.visitor().sign_in("carol", "not the password")
    unknown = site.visitor().sign_in("nobody-at-all", "not the password")
    for _ in range(5):
        site.visitor().sign_in("asha", "not the password")
    locked = site.visitor().sign_in("asha", PASSWORD)

    pages = [text_of(r.text) for r in (wrong, unknown, locked)]
    assert {r.status_code for r in (wrong, unknown, locked)} == {401}
    assert all(REFUSED_WORDS in p for p in pages)
    assert (
        pages[0].replace("carol", "")
        == pages[1].replace("nobody-at-all", "")
        == pages[2].replace("asha", "")
    )


def test_five_failures_in_fifteen_minutes_lock_a_name_for_fifteen_minutes(site, moment):
    for _ in range(5):
        moment.advance(timedelta(minutes=2))
        assert site.visitor().sign_in("carol", "guess").status_code == 401

    moment.advance(timedelta(minutes=14))
    still_locked = site.visitor().sign_in("carol", PASSWORD)
    moment.advance(timedelta(minutes=1, seconds=1))
    unlocked = site.visitor().sign_in("carol", PASSWORD)

    assert still_locked.status_code == 401
    assert unlocked.status_code == 303


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(site, moment):
    for _ in range(6):
        assert site.visitor().sign_in("carol", "guess").status_code == 401
        moment.advance(timedelta(minutes=4))

    assert site.visitor().sign_in("carol", PASSWORD).status_code == 303


def test_every_attempt_is_recorded_with_its_outcome(site, moment):
    site.visitor().sign_in("carol", "guess")
    site.visitor().sign_in("carol")
    for _ in range(5):
        site.visitor().sign_in("ash", "guess")
    site.visitor().sign_in("ash")

    with site.engine.connect() as conn:
        rows = [
            (r.name, r.outcome)
            for r in conn.execute(
                select(attempts.c.name, attempts.c.outcome).order_by(attempts.c.id)
            )
        ]
    assert rows == [("carol", "wrong"), ("carol", "ok")] + [("ash", "wrong")] * 5 + [
        ("ash", "locked")
    ]


def test_repeated_failures_are_answered_more_and_more_slowly(people):
    site = Site(people, lockout=Policy(slow_after=2, slow_step=0.5, slow_cap=3.0))
    took = []
    for _ in range(4):
        started = time.perf_counter()
        site.visitor().sign_in("carol", "guess")
        took.append(time.perf_counter() - started)

    assert took[0] < 0.5 and took[1] < 0.5  # the first two at full speed
    assert took[2] >= 0.5 and took[3] >= 1.0


def test_the_slowing_grows_with_each_failure_up_to_a_cap():
    policy = Policy(slow_after=2, slow_step=0.5, slow_cap=3.0)

    assert [policy.delay(n) for n in range(1, 10)] == [0, 0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.0]


def test_a_success_clears_earlier_failures(moment):
    at = moment.at
    events = [(at, "wrong")] * 4 + [(at, "ok")] + [(at, "wrong")] * 4

    assert standing_of(events, at, Policy()).locked is False
    assert standing_of(events, at, Policy()).failures == 4


def test_the_session_cookie_is_httponly_samesite_lax_and_not_secure_over_plain_http(site):
    signed_in = site.visitor().sign_in("carol")

    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith("casework_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie


def test_the_session_cookie_is_secure_over_tls(site):
    visitor = site.visitor(base_url="https://casework.example")

    signed_in = visitor.sign_in("carol")

    assert "; Secure" in signed_in.headers["set-cookie"]


def test_the_session_cookie_is_secure_behind_a_tls_proxy_when_the_base_url_is_https(
    people, monkeypatch
):
    monkeypatch.setenv("CASEWORK_BASE_URL", "https://casework.example")
    from workflow.web import create_app
    from workflow.web.settings import WebSettings
    from tests.web.site import Visitor

    app = create_app(
        people.engine,
        scheduler_every=None,
        settings=WebSettings.from_env(lockout=Policy(slow_step=0)),
    )

    # The app sees plain HTTP; the browser saw HTTPS at the proxy.
    first_form = Visitor(app).get("/sign-in")

    assert "; Secure" in first_form.headers["set-cookie"]


def test_a_session_ends_after_thirty_idle_minutes(site, moment):
    carol = site.as_("carol")
    moment.advance(timedelta(minutes=29))
    assert carol.get("/inbox").status_code == 200

    moment.advance(timedelta(minutes=31))
    sent_away = carol.get("/inbox")

    assert sent_away.status_code == 303
    assert sent_away.headers["location"] == "/sign-in?next=/inbox"
    assert "without activity" in text_of(carol.follow(sent_away).text)


def test_activity_keeps_a_session_alive(site, moment):
    carol = site.as_("carol")
    for _ in range(6):
        moment.advance(timedelta(minutes=20))
        assert carol.get("/inbox").status_code == 200


def test_signing_out_ends_the_session_and_every_copy_of_its_cookie(site, moment):
    carol = site.as_("carol")
    copied = carol.client.cookies.get("casework_session")
    moment.advance(timedelta(seconds=5))

    out = carol.post("/sign-out")
    thief = site.visitor()
    thief.client.cookies.set("casework_session", copied)

    assert out.headers["location"] == "/sign-in"
    assert "You have signed out" in text_of(carol.follow(out).text)
    assert carol.get("/inbox").status_code == 303
    assert thief.get("/inbox").status_code == 303


def test_a_new_password_ends_sessions_begun_with_the_old_one(site):
    carol = site.as_("carol")

    passwords.set_password(site.engine, "carol", "a brand new passphrase")

    assert carol.get("/inbox").status_code == 303
    assert site.visitor().sign_in("carol", "a brand new passphrase").status_code == 303


def test_a_forged_cookie_is_ignored(site):
    visitor = site.visitor()
    visitor.client.cookies.set("casework_session", "eyJuIjoiY2Fyb2wifQ.forged")

    assert visitor.get("/inbox").status_code == 303


def test_a_person_without_a_password_cannot_sign_in(site):
    site.world.person("newcomer", "caseworker")

    refused = site.visitor().sign_in("newcomer", "")
    guessed = site.visitor().sign_in("newcomer", "anything at all")

    assert refused.status_code == 400
    assert "Enter your password" in text_of(refused.text)
    assert guessed.status_code == 401


def test_sign_in_names_each_missing_field_and_links_to_it(site):
    visitor = site.visitor()
    visitor.get("/sign-in")

    refused = visitor.post("/sign-in", {"name": "", "password": ""})

    assert refused.status_code == 400
    assert '<a href="#name">Enter your name</a>' in refused.text
    assert '<a href="#password">Enter your password</a>' in refused.text
    assert refused.text.count("<title>Error: Sign in") == 1
