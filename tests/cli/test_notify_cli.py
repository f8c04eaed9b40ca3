"""`casework notify templates|receipts` and `outbox deliver` through GOV.UK Notify (the Notify stub).

The demo database is tests/data/demo-six-heads.sqlite.gz (`casework demo
--size small`, every message kind in its outbox), upgraded by `casework init`.
"""
from __future__ import annotations

import gzip
import shutil
import sqlite3

import pytest

from notifications.kinds import KINDS
from tests.cli.conftest import Cli
from demo.notify_stub import NotifyStub, placeholders

DEMO = "tests/data/demo-six-heads.sqlite.gz"


@pytest.fixture
def stub():
    with NotifyStub() as running:
        yield running


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory):
    """The demo database brought to the current schema, once (each test takes a copy)."""
    folder = tmp_path_factory.mktemp("demo")
    path = folder / "casework.db"
    with gzip.open(DEMO) as packed, open(path, "wb") as out:
        shutil.copyfileobj(packed, out)
    # A database with cases and a migration to apply: init backs it up first (issue 24).
    Cli(f"sqlite:///{path}", folder).ok("init", env={"CASEWORK_BACKUP_DIR": str(folder)})
    return path


@pytest.fixture
def demo(upgraded, tmp_path) -> Cli:
    path = tmp_path / "casework.db"
    shutil.copy(upgraded, path)
    return Cli(f"sqlite:///{path}", tmp_path)


def settings(stub, **more) -> dict:
    return {"CASEWORK_MAIL": "notify", "CASEWORK_NOTIFY_API_KEY": stub.api_key,
            "CASEWORK_NOTIFY_BASE_URL": stub.base_url, **more}


def all_queued_again(cli: Cli) -> int:
    """Every message of the demo to be sent again (the demo sent them by SMTP)."""
    conn = sqlite3.connect(cli.url.removeprefix("sqlite:///"))
    with conn:
        conn.execute("UPDATE outbox SET state = 'queued', attempts = 0, sent_at = NULL")
        n = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    conn.close()
    return n


def test_the_printed_templates_made_in_notify_send_every_kind_of_a_demo_database(demo, stub):
    printed = demo.ok("notify", "templates", "--json").json()
    ids = {t["kind"]: stub.add_template(t["subject"], t["body"]) for t in printed}
    mapping = demo.write("notify-templates.toml", "".join(f'"{k}" = "{v}"\n' for k, v in ids.items()))
    queued = all_queued_again(demo)

    delivered = demo.ok("outbox", "deliver", env=settings(stub, CASEWORK_NOTIFY_TEMPLATES=mapping))

    assert [t["kind"] for t in printed] == list(KINDS)
    assert delivered.out.strip() == f"sent {queued}, retrying 0, dead 0"      # no 400: nothing missing
    sent = stub.notifications
    conn = sqlite3.connect(demo.url.removeprefix("sqlite:///"))
    kinds = {kind for (kind,) in conn.execute("SELECT DISTINCT kind FROM outbox")}
    conn.close()
    assert {n.template_id for n in sent} == {ids[k] for k in kinds}        # each kind its own
    for n in sent:
        subject, body = stub.templates[n.template_id]
        assert set(placeholders(subject + body)) <= set(n.personalisation)
        assert "((" not in n.subject + n.body
        assert n.body.startswith("Dear ")


def test_the_template_sheet_says_what_each_kind_needs_in_notifys_syntax(demo):
    sheet = demo.ok("notify", "templates").out

    for kind in KINDS:
        assert f"[{kind}]" in sheet
    assert "subject: ((subject))" in sheet and "\n((body))\n" in sheet


def test_outbox_show_gives_notifys_ids_and_receipts_are_asked_for(demo, stub):
    queued = all_queued_again(demo)
    env = settings(stub, CASEWORK_NOTIFY_TEMPLATE=stub.generic_template)
    demo.ok("outbox", "deliver", env=env)
    first = stub.notifications[0]
    row = next(m for m in demo.ok("outbox", "list", "--json").json() if m["key"] == first.reference)

    shown = demo.ok("outbox", "show", str(row["id"]), env=env).out
    receipts = demo.ok("notify", "receipts", env=env).out

    assert f"Notify id: {first.id} (to {first.email_address}, created)" in shown
    assert receipts.strip() == f"delivered {queued}, dead 0, retrying 0, waiting 0"


def test_notify_without_a_template_for_every_kind_is_refused_in_one_line(demo, stub):
    all_queued_again(demo)
    before = demo.ok("outbox", "list", "--json").json()

    ran = demo("outbox", "deliver", env=settings(stub))

    assert ran.code == 1 and len(ran.err.strip().splitlines()) == 1
    assert f"no Notify template for {len(KINDS)} message kind(s): checkpoint.opened" in ran.err
    assert demo.ok("outbox", "list", "--json").json() == before
    assert stub.requests == 0


def test_a_refused_api_key_stops_delivery_in_one_line(demo, stub):
    all_queued_again(demo)
    stub.revoke_key()

    ran = demo("outbox", "deliver", env=settings(stub, CASEWORK_NOTIFY_TEMPLATE=stub.generic_template))

    assert ran.code == 1 and len(ran.err.strip().splitlines()) == 1
    assert ran.err.startswith("Notify refused the API key (403: AuthError: Invalid token: API key revoked)")
    assert {m["attempts"] for m in demo.ok("outbox", "list", "--json").json()} == {0}
