"""The demo's edges: the folder it writes into, its options, its mail names, a missing renderer."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from states import BID
from demo.summary import casework_command
from demo import FolderInUse
from demo import report
from demo.mailcatch import eml_name
from demo.run import prepare_folder

CASEWORK = str(Path(sys.executable).with_name("casework"))


def casework(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    return subprocess.run([CASEWORK, *args], capture_output=True, text=True, env=env, timeout=60)


def test_an_existing_folder_is_refused_without_force_and_left_alone(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")

    ran = casework("demo", "--out", str(out), "--size", "small")

    assert ran.returncode == 1
    assert f"{out} already exists" in ran.stderr and "--force" in ran.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_force_replaces_only_what_the_demo_wrote(tmp_path):
    out = tmp_path / "demo"
    (out / "mail").mkdir(parents=True)
    (out / "mail" / "000001-x.eml").write_bytes(b"old")
    (out / "casework-files").mkdir()
    for name in ("casework.db", "casework.db-wal", "report.html", "notes.txt"):
        (out / name).write_text("old")

    with pytest.raises(FolderInUse, match="--force"):
        prepare_folder(out, force=False)
    prepare_folder(out, force=True)

    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_file_where_the_folder_should_be_is_refused_even_with_force(tmp_path):
    out = tmp_path / "demo"
    out.write_text("not a folder")

    with pytest.raises(Exception, match="is a file, not a folder"):
        prepare_folder(out, force=True)

    assert out.read_text() == "not a folder"


def test_an_unknown_size_is_a_usage_error(tmp_path):
    ran = casework("demo", "--out", str(tmp_path / "x"), "--size", "huge")

    assert ran.returncode == 2
    assert "'huge' is not small or full" in ran.stderr
    assert not (tmp_path / "x").exists()


def test_a_kept_message_is_named_after_its_outbox_row_and_key():
    raw = (
        b"Message-ID: <casework.42.1f3a9c0d2b7e@casework.localhost>\r\n"
        b"X-Casework-Key: TCA-2013-0001/Q2:escalated_1\r\n\r\nbody\r\n"
    )

    assert eml_name(raw, 7) == (
        "000042-TCA-2013-0001_Q2_escalated_1.eml",
        "TCA-2013-0001/Q2:escalated_1",
    )
    assert eml_name(b"Subject: hi\r\n\r\nbody\r\n", 7) == ("x000007-message.eml", None)


def test_a_state_machine_is_drawn_as_svg_from_its_definition():
    drawing = report._diagram("bid")

    assert drawing.svg is not None and drawing.svg.startswith("<svg")
    drawn = {html.unescape(text) for text in re.findall(r">([^<>]*)</text>", drawing.svg)}
    for state in BID.states:  # by the words people read, not the codes
        assert BID.state_label(state) in drawn


def test_without_the_renderer_a_diagram_is_its_mermaid_text_with_a_note(monkeypatch):
    monkeypatch.setattr(report, "renderer_path", lambda: None)

    drawing = report._diagram("checkpoint")

    assert drawing.svg is None
    assert "pip install graphviz-pure" in drawing.note
    assert drawing.mermaid.startswith("stateDiagram-v2")


def test_the_closing_command_works_in_the_shell_the_readmes_first_command_left():
    # The README runs `.venv/bin/casework demo` from the repository and never activates
    # the venv: what the demo prints last must run there as it is pasted.
    repo = Path(__file__).resolve().parents[2]
    script = Path(sys.executable).parent / "casework"
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(repo)}
    if repo not in script.parents:
        pytest.skip("the tests do not run from a venv inside the repository, as the README's does")

    command = casework_command(str(script.relative_to(repo)), str(repo))
    ran = subprocess.run(
        ["bash", "-c", f"{command} --help"],
        cwd=repo,
        env=bare,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert command == ".venv/bin/casework"
    assert ran.returncode == 0, ran.stderr
    assert "serve" in ran.stdout
    assert (
        subprocess.run(
            ["bash", "-c", "casework --help"], cwd=repo, env=bare, capture_output=True
        ).returncode
        == 127
    )  # what it printed before


def test_a_message_sent_again_after_a_late_answer_is_kept_once(tmp_path):
    # What a loaded machine did (issue 18, point 9): the sender gave up waiting
    # for the capture server's answer, which had already kept the message, and
    # sent it again. The folder still holds one file per message.
    import asyncio

    from demo.mailcatch import MailCatcher
    from notifications import SmtpTransport, build_message, message_id_for, send_all

    when = datetime(2014, 4, 7, 8, tzinfo=timezone.utc)
    msg = build_message(
        sender="casework@example.gov.uk",
        to=["returns@tewkesbury.gov.uk"],
        cc=[],
        subject="Reminder",
        text="Due Friday.",
        html="<p>Due Friday.</p>",
        message_id=message_id_for(42, "TCA-2013-0001/Q2:reminder", "casework.localhost"),
        date=when,
        key="TCA-2013-0001/Q2:reminder",
    )
    with MailCatcher(tmp_path / "mail") as catcher:
        transport = SmtpTransport("127.0.0.1", catcher.port)
        first = asyncio.run(send_all(transport, [msg]))
        again = asyncio.run(send_all(transport, [msg]))
        kept, repeats = len(catcher.caught), catcher.repeats

    assert type(first[0]).__name__ == type(again[0]).__name__ == "Sent"
    assert [p.name for p in (tmp_path / "mail").iterdir()] == [
        "000042-TCA-2013-0001_Q2_reminder.eml"
    ]
    assert (kept, repeats) == (1, 1)


def _burn(seconds: float) -> None:
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@pytest.mark.slow
def test_the_saved_mail_equals_the_sent_rows_with_both_cores_busy(tmp_path):
    import email
    import email.policy
    import multiprocessing
    import sqlite3

    from demo.mailcatch import file_name
    from demo.run import run_demo

    burners = [
        multiprocessing.get_context("spawn").Process(target=_burn, args=(600,), daemon=True)
        for _ in range(os.cpu_count() or 2)
    ]
    for burner in burners:
        burner.start()
    try:
        result = run_demo(tmp_path / "d", size="small", live=False)
    finally:
        for burner in burners:
            burner.terminate()
            burner.join(10)

    db = sqlite3.connect(tmp_path / "d" / "casework.db")
    sent = {
        file_name(id, key)
        for id, key in db.execute("SELECT id, key FROM outbox WHERE state = 'sent'")
    }
    db.close()
    files = {p.name for p in (tmp_path / "d" / "mail").glob("*.eml")}
    assert sent and files == sent
    assert result.mail_received == len(sent)
    for name in files:
        kept = email.message_from_bytes(
            (tmp_path / "d" / "mail" / name).read_bytes(), policy=email.policy.default
        )
        assert name.endswith(re.sub(r"[^A-Za-z0-9.-]+", "_", kept["X-Casework-Key"]) + ".eml")


@pytest.mark.slow
def test_with_mail_through_notify_every_message_reaches_notify_once_and_is_delivered(tmp_path):
    import sqlite3

    from demo.mailcatch import file_name

    ran = casework("demo", "--out", str(tmp_path / "d"), "--size", "small", "--mail", "notify")

    assert ran.returncode == 0, ran.stderr[-2000:]
    db = sqlite3.connect(tmp_path / "d" / "casework.db")
    rows = db.execute("SELECT id, key, state, receipt, to_addrs, cc_addrs FROM outbox").fetchall()
    db.close()
    assert rows and {(state, receipt) for _, _, state, receipt, _, _ in rows} == {
        ("sent", "delivered")
    }
    files = {p.name for p in (tmp_path / "d" / "mail").glob("*.eml")}
    assert files == {file_name(id, key) for id, key, *_ in rows}
    assert f"{len(rows)} received by GOV.UK Notify's stand-in" in ran.stdout.replace(",", "")


def test_a_mail_route_the_demo_does_not_know_is_refused(tmp_path):
    ran = casework("demo", "--out", str(tmp_path / "d"), "--size", "small", "--mail", "pigeon")

    assert ran.returncode != 0 and "'pigeon' is not smtp or notify" in ran.stderr
    assert not (tmp_path / "d").exists()
