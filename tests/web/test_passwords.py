"""Passwords: set by whoever runs the server, kept only as Argon2id hashes."""

from __future__ import annotations

import os
import pty
import select as io_select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from workflow.services import passwords
from workflow.errors import Malformed, PersonNotFound
from workflow.storage.tables import people as people_t

CASEWORK = str(Path(sys.executable).with_name("casework"))


def hash_of(engine, name: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(people_t.c.password_hash).where(people_t.c.name == name)
        ).scalar()


def run(db, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [CASEWORK, "--db", db.test_url, *args],
        input=stdin,
        text=True,
        capture_output=True,
        timeout=60,
    )


def test_user_passwd_reads_one_line_from_stdin_and_keeps_only_an_argon2id_hash(people):
    done = run(people.engine, "user", "passwd", "carol", stdin="a long enough passphrase\n")

    stored = hash_of(people.engine, "carol")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "password set for carol\n"
    assert "passphrase" not in done.stdout + done.stderr
    # RFC 9106's low-memory profile, argon2-cffi's defaults: 64 MiB, 3 passes, 4 lanes.
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "passphrase" not in stored
    assert passwords.check_password(people.engine, "carol", "a long enough passphrase")


@pytest.mark.parametrize(
    "name, stdin, words",
    [
        ("carol", "short\n", "the password must be at least 10 characters long"),
        ("carol", "", "nothing was given on stdin"),
        ("nobody", "a long enough passphrase\n", "There is no person called 'nobody'"),
    ],
)
def test_user_passwd_refuses_with_a_reason_and_changes_nothing(people, name, stdin, words):
    before = hash_of(people.engine, "carol")

    refused = run(people.engine, "user", "passwd", name, stdin=stdin)

    assert refused.returncode == 1
    assert words in refused.stderr
    assert hash_of(people.engine, "carol") == before


def test_user_passwd_on_a_terminal_asks_twice_without_echoing(people):
    pid, terminal = pty.fork()
    if pid == 0:  # the child: casework on a real terminal
        os.execv(CASEWORK, [CASEWORK, "--db", people.engine.test_url, "user", "passwd", "carol"])
    seen = b""
    try:
        # click prints the question, then getpass turns echo off and prints the last space.
        seen += _read_until(terminal, b"New password: ")
        os.write(terminal, b"typed on a terminal\n")
        seen += _read_until(terminal, b"Repeat for confirmation: ")
        os.write(terminal, b"typed on a terminal\n")
        seen += _read_until(terminal, b"password set for carol")
    except BaseException:
        os.kill(pid, 9)
        raise
    finally:
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"typed on a terminal" not in seen
    assert passwords.check_password(people.engine, "carol", "typed on a terminal")


def _read_until(fd: int, wanted: bytes, timeout: float = 30) -> bytes:
    got, deadline = b"", time.monotonic() + timeout
    while wanted not in got:
        ready, _, _ = io_select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"waited for {wanted!r}, saw {got!r}")
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    return got


def test_a_wrong_password_an_unknown_name_and_no_password_all_fail(people):
    people.person("newcomer", "caseworker")

    assert not passwords.check_password(people.engine, "carol", "not it at all")
    assert not passwords.check_password(people.engine, "nobody", "correct horse battery staple")
    assert not passwords.check_password(people.engine, "newcomer", "")


def test_a_new_password_must_be_long_enough_on_one_line(people):
    with pytest.raises(Malformed, match="at least 10 characters"):
        passwords.set_password(people.engine, "carol", "short")
    with pytest.raises(Malformed, match="one line"):
        passwords.set_password(people.engine, "carol", "two\nlines here")
    with pytest.raises(PersonNotFound):
        passwords.set_password(people.engine, "nobody", "a long enough passphrase")


def test_a_hash_made_with_weaker_parameters_is_strengthened_at_the_next_sign_in(people):
    passwords.set_password(people.engine, "carol", "a long enough passphrase")  # cheap, as in tests
    weak = hash_of(people.engine, "carol")
    previous = passwords.use_hasher(PasswordHasher())
    try:
        assert passwords.check_password(people.engine, "carol", "a long enough passphrase")
    finally:
        passwords.use_hasher(previous)

    assert weak.startswith("$argon2id$v=19$m=8,")
    assert hash_of(people.engine, "carol").startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_sample_passwords_give_a_demo_cast_one_password_hashed_once(people):
    named = passwords.sample_passwords(people.engine, names=["carol", "cllr"])
    everyone = passwords.sample_passwords(people.engine)

    assert named == ["carol", "cllr"]
    assert "audrey" in everyone and "otto" in everyone
    assert passwords.check_password(people.engine, "cllr", passwords.DEMO_PASSWORD)
