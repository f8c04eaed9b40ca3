"""`casework notify templates|receipts` and `outbox deliver` through GOV.UK Notify (the Notify stub).

The demo database is tests/data/demo-six-heads.sqlite.gz (`casework demo
--size small`, every message kind in its outbox), upgraded by `casework init`.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import sqlite3
import subprocess

import pytest

from notifications.kinds import KINDS
from tests.cli.conftest import CASEWORK, Cli
from demo.notify_stub import NotifyStub

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
    return {
        "CASEWORK_MAIL": "notify",
        "CASEWORK_NOTIFY_API_KEY": stub.api_key,
        "CASEWORK_NOTIFY_BASE_URL": stub.base_url,
        **more,
    }


def all_queued_again(cli: Cli) -> int:
    """Every message of the demo to be sent again (the demo sent them by SMTP)."""
    conn = sqlite3.connect(cli.url.removeprefix("sqlite:///"))
    with conn:
        conn.execute("UPDATE outbox SET state = 'queued', attempts = 0, sent_at = NULL")
        n = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    conn.close()
    return n


@pytest.fixture(scope="module")
def fresh_demo(tmp_path_factory) -> Cli:
    """A demo database made by this casework (`casework demo --size small`): its outbox rows
    keep the personalisation a kind's own Notify template is given."""
    folder = tmp_path_factory.mktemp("fresh")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    ran = subprocess.run(
        [CASEWORK, "demo", "--out", str(folder / "d"), "--size", "small"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    return Cli(f"sqlite:///{folder / 'd' / 'casework.db'}", folder)


def pasted(sheet: str) -> dict[str, tuple[str, str, list[str]]]:
    """`casework notify templates` as an operator reads it: each kind's subject, body and the
    placeholders listed under it."""
    found: dict[str, tuple[str, str, list[str]]] = {}
    for block in sheet.split("\n[")[1:]:
        kind, rest = block.split("]\n", 1)
        subject = re.search(r"^subject: (.*)$", rest, re.M).group(1)
        body = rest.split("\nbody:\n", 1)[1].split("\n# placeholders", 1)[0]
        listed = re.findall(r"^#   \(\((\w+)\)\)", rest, re.M)
        found[kind] = (subject, body, listed)
    return found


@pytest.mark.slow
def test_the_printed_templates_made_in_notify_send_every_kind_of_a_demo_database(fresh_demo, stub):
    demo = fresh_demo
    sheet = pasted(demo.ok("notify", "templates").out)
    # Each kind's own template: the subject and body printed, then every placeholder listed.
    made = {
        kind: (subject, body + "\n\n" + "\n".join(f"{name}=(({name}))" for name in listed))
        for kind, (subject, body, listed) in sheet.items()
    }
    ids = {kind: stub.add_template(*template) for kind, template in made.items()}
    mapping = demo.write(
        "notify-templates.toml", "".join(f'"{k}" = "{v}"\n' for k, v in ids.items())
    )
    queued = all_queued_again(demo)

    delivered = demo.ok("outbox", "deliver", env=settings(stub, CASEWORK_NOTIFY_TEMPLATES=mapping))

    assert list(sheet) == list(KINDS)
    assert [
        (t["kind"], t["subject"], t["body"], [p["name"] for p in t["personalisation"]])
        for t in demo.ok("notify", "templates", "--json").json()
    ] == [(kind, *found) for kind, found in sheet.items()]  # the same, as JSON
    assert delivered.out.strip() == f"sent {queued}, retrying 0, dead 0"  # no 400: nothing missing
    conn = sqlite3.connect(demo.url.removeprefix("sqlite:///"))
    rows = {
        key: (kind, subject, case_ref, personalisation)
        for key, kind, subject, case_ref, personalisation in conn.execute(
            "SELECT key, kind, subject, case_ref, personalisation FROM outbox"
        )
    }
    conn.close()
    assert {n.template_id for n in stub.notifications} == {ids[kind] for kind, *_ in rows.values()}
    for n in stub.notifications:
        kind, subject, case_ref, kept = rows[n.reference]
        assert n.template_id == ids[kind] and kept is not None
        assert list(n.personalisation) == ["subject", "body", *sheet[kind][2][2:]]  # exactly those
        assert "((" not in n.subject + n.body
        # The printed subject, filled in by Notify, is the subject casework wrote.
        assert n.subject == subject
        assert n.body.startswith("Dear ") and f"case_ref={case_ref}\n" in n.body + "\n"


def test_rows_queued_before_their_values_were_kept_go_by_the_generic_template(demo, stub):
    printed = demo.ok("notify", "templates", "--json").json()
    ids = {t["kind"]: stub.add_template(t["subject"], t["body"]) for t in printed}
    mapping = demo.write(
        "notify-templates.toml", "".join(f'"{k}" = "{v}"\n' for k, v in ids.items())
    )
    queued = all_queued_again(demo)  # this demo database predates migration 2302

    delivered = demo.ok(
        "outbox",
        "deliver",
        env=settings(
            stub, CASEWORK_NOTIFY_TEMPLATES=mapping, CASEWORK_NOTIFY_TEMPLATE=stub.generic_template
        ),
    )

    assert delivered.out.strip() == f"sent {queued}, retrying 0, dead 0"
    assert {n.template_id for n in stub.notifications} == {stub.generic_template}
    assert all(set(n.personalisation) == {"subject", "body"} for n in stub.notifications)


def test_the_template_sheet_says_what_each_kind_needs_in_notifys_syntax(demo):
    sheet = demo.ok("notify", "templates").out

    for kind in KINDS:
        assert f"[{kind}]" in sheet
    assert (
        "subject: ((case_ref)): your ((return_name)) monitoring return is open, due by ((due_date))"
        in sheet
    )
    assert "\n((body))\n" in sheet and "#   ((council_name))" in sheet


def test_a_retry_goes_only_to_the_recipients_notify_did_not_accept_and_show_says_which(demo, stub):
    conn = sqlite3.connect(demo.url.removeprefix("sqlite:///"))
    with conn:
        id, to, cc = conn.execute(
            "SELECT id, to_addrs, cc_addrs FROM outbox WHERE cc_addrs != '[]' ORDER BY id LIMIT 1"
        ).fetchone()
        conn.execute("UPDATE outbox SET state = 'sent' WHERE state = 'queued'")  # that one alone
        conn.execute(
            "UPDATE outbox SET state = 'queued', attempts = 0, sent_at = NULL WHERE id = ?", (id,)
        )
    conn.close()
    first, second = json.loads(to)[0], json.loads(cc)[0]
    env = settings(stub, CASEWORK_NOTIFY_TEMPLATE=stub.generic_template)
    stub.fail_for(second, status=500)

    failed = demo.ok("outbox", "deliver", env=env).out
    shown = demo.ok("outbox", "show", str(id), env=env).out
    demo.ok("outbox", "retry", str(id), "--as", "carol.hughes")
    again = demo.ok("outbox", "deliver", env=env).out
    shown_after = demo.ok("outbox", "show", str(id), env=env).out

    assert (failed.strip(), again.strip()) == (
        "sent 0, retrying 1, dead 0",
        "sent 1, retrying 0, dead 0",
    )
    one, two = stub.notifications
    assert (one.email_address, two.email_address) == (first, second)  # the first had it once
    assert f"Notify id: {one.id} (to {first}, created)" in shown
    assert f"Notify id: none yet (to {second}, not accepted)" in shown
    assert (
        f"Notify id: {one.id} (to {first}, created)\nNotify id: {two.id} (to {second}, created)\n"
        in shown_after
    )


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

    ran = demo(
        "outbox", "deliver", env=settings(stub, CASEWORK_NOTIFY_TEMPLATE=stub.generic_template)
    )

    assert ran.code == 1 and len(ran.err.strip().splitlines()) == 1
    assert ran.err.startswith(
        "Notify refused the API key (403: AuthError: Invalid token: API key revoked)"
    )
    assert {m["attempts"] for m in demo.ok("outbox", "list", "--json").json()} == {0}
