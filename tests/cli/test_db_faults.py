"""Every database fault is one line on stderr, exit 1, and the rows as they were.

Each test runs the real `casework` in a subprocess against a real SQLite file
(or an unreachable PostgreSQL server) that something has gone wrong with:
another process holding the write lock, a read-only file or folder, a file
that is not a database, a damaged page, a full disk.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import PG_UNAVAILABLE, pg_url_for

CASEWORK = str(Path(sys.executable).with_name("casework"))
ORG = [
    "org",
    "add",
    "E07000083",
    "--name",
    "Tewkesbury Borough Council",
    "--email",
    "returns@tewkesbury.gov.uk",
]


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    yield path
    for each in (path, *path.iterdir()):
        writable(each)


@pytest.fixture
def db(folder, sqlite_template) -> Path:
    path = folder / "casework.db"
    shutil.copy(sqlite_template, path)
    return path


def read_only(path: Path) -> None:
    """Make a file or folder read-only, even to root (who ignores permission bits)."""
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("root cannot make a file read-only here (no chattr +i)")
    else:
        path.chmod(0o555 if path.is_dir() else 0o444)


def writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o755 if path.is_dir() else 0o644)


def run(db: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {
        **os.environ,
        "CASEWORK_DB": f"sqlite:///{db}",
        "CASEWORK_MAIL": f"file:{db.parent.parent / 'mail'}",
    }
    full_env.pop("CASEWORK_DEBUG", None)
    return subprocess.run(
        [CASEWORK, *args],
        capture_output=True,
        text=True,
        env={**full_env, **(env or {})},
        timeout=120,
        cwd=db.parent.parent,
    )


def rows(db: Path) -> dict:
    """Every row of every table, read from a copy (reading the file itself could change it)."""
    copy = Path(tempfile.mkdtemp()) / "copy.db"
    for suffix in ("", "-wal"):
        if Path(f"{db}{suffix}").exists():
            shutil.copy(f"{db}{suffix}", f"{copy}{suffix}")
    conn = sqlite3.connect(copy)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    finally:
        conn.close()
        shutil.rmtree(copy.parent)


def one_line_refusal(ran: subprocess.CompletedProcess, *words: str) -> str:
    assert ran.returncode == 1, (ran.returncode, ran.stdout, ran.stderr)
    lines = ran.stderr.splitlines()
    assert len(lines) == 1, ran.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_a_read_with_the_write_lock_held_elsewhere_answers_at_once(db):
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        ran = run(db, "org", "list")
        took = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ran.returncode == 0, ran.stderr
    assert took < 15, f"the read waited {took:.1f} s (a writer waits 30)"


def test_a_write_that_never_gets_the_lock_says_so_after_its_wait(db):
    before = rows(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        ran = run(db, *ORG, env={"CASEWORK_LOCK_WAIT": "0.5"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_line_refusal(ran, "is locked", "waited for 0.5 s", "Nothing was changed")
    assert rows(db) == before


def test_a_read_command_in_a_folder_without_a_database_creates_nothing(folder):
    ran = run(folder / "casework.db", "case", "list")
    one_line_refusal(ran, "There is no database at", "casework init")
    assert list(folder.iterdir()) == []


# Every read command, with arguments naming things that exist or not: either
# way it reads, and it must leave the folder as it found it.
READS = {
    "status": [],
    "org list": [],
    "user list": [],
    "programme list": [],
    "programme show": ["tca-2013"],
    "programme ranking": ["tca-2013"],
    "programme fund": ["tca-2013"],
    "case show": ["TCA-2013-0001"],
    "case list": [],
    "case history": ["TCA-2013-0001"],
    "audit verify": [],
    "audit export": ["--format", "csv"],
    "audit admin": [],
    "assess show": ["TCA-2013-0001"],
    "checkpoint list": [],
    "checkpoint show": ["TCA-2013-0001/Q1"],
    "outbox list": [],
    "outbox show": ["1"],
    "token list": [],
    "publish 360giving": ["tca-2013"],
    "agreement show": ["TCA-2013-0001"],
    "payment list": [],
    "payment show": ["P1"],
    "payment export": [],
    "variation list": [],
    "diligence show": ["TCA-2013-0001"],
    "review list": [],
}


def test_no_read_command_creates_or_changes_a_file_of_a_closed_database(folder):
    from workflow.cli._common import READ_COMMANDS

    assert set(READS) == READ_COMMANDS
    db = folder / "casework.db"
    for setup in (["init"], ORG):
        assert run(db, *setup).returncode == 0
    names, before = sorted(p.name for p in folder.iterdir()), db.read_bytes()
    assert names == ["casework.db"]  # closed cleanly: its log folded back in and removed

    for command, args in READS.items():
        ran = run(db, *command.split(), *args)
        assert ran.returncode in (0, 1), (
            command,
            ran.stderr,
        )  # 1: no such case, nothing to publish...
        assert "Traceback" not in ran.stderr, (command, ran.stderr)
        assert sorted(p.name for p in folder.iterdir()) == names, command
        assert db.read_bytes() == before, command


def test_a_read_while_a_writer_that_just_started_holds_the_lock_answers_at_once(folder):
    db = folder / "casework.db"
    assert run(db, "init").returncode == 0
    holder = sqlite3.connect(db, isolation_level=None)  # on a closed file: it makes the log
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE scratch (x)")  # rolled back below
    try:
        started = time.monotonic()
        ran = run(db, "org", "list")
        took = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ran.returncode == 0, ran.stderr
    assert took < 15, f"the read waited {took:.1f} s (a writer waits 30)"


def test_a_read_only_database_file_refuses_writes_in_one_line_and_still_reads(db):
    before = rows(db)
    read_only(db)

    one_line_refusal(run(db, *ORG), "cannot be written", "writable")
    assert run(db, "org", "list").returncode == 0  # a read needs no write
    assert rows(db) == before


def test_a_read_only_folder_refuses_writes_in_one_line(db, folder):
    before = rows(db)
    read_only(folder)  # the -wal and -shm files cannot be made

    line = one_line_refusal(run(db, *ORG), "casework.db", "folder")
    assert "writ" in line
    assert run(db, "org", "list").returncode == 0  # a read needs no -wal made
    assert rows(db) == before


def test_read_only_wal_and_shm_files_refuse_writes_in_one_line(db):
    before = rows(db)
    keeper = sqlite3.connect(db, isolation_level=None)  # keeps the -wal and -shm files there
    keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()
    try:
        for suffix in ("-wal", "-shm"):
            read_only(Path(f"{db}{suffix}"))
        line = one_line_refusal(run(db, *ORG), "casework.db")
    finally:
        for suffix in ("-wal", "-shm"):
            writable(Path(f"{db}{suffix}"))
        keeper.close()
    assert "-wal" in line and "writ" in line
    assert rows(db) == before


def test_a_file_that_is_not_a_database_is_named_in_one_line(db):
    db.write_bytes(b"These are the minutes of the March meeting.\n" * 200)
    before = db.read_bytes()

    for command in (["org", "list"], ORG, ["status"], ["sweep"]):
        one_line_refusal(run(db, *command), "is not a casework database", "--db")
    assert db.read_bytes() == before


def _damage_table(db: Path, table: str) -> None:
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\x00" * 16)  # page type 0: no such b-tree page


def test_a_damaged_page_is_one_line_suggesting_a_check_and_a_restore_and_nothing_is_written(db):
    run(db, *ORG)
    _damage_table(db, "organisations")
    before = db.read_bytes()

    another = [
        "org",
        "add",
        "E07000084",
        "--name",
        "Cheltenham Borough Council",
        "--email",
        "returns@cheltenham.gov.uk",
    ]
    for command in (["org", "list"], ["status"], ["init"], another):
        one_line_refusal(run(db, *command), "is damaged", "PRAGMA integrity_check", "backup")
    assert db.read_bytes() == before
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk needs root")
def test_a_full_disk_is_one_line_and_nothing_is_changed(db, folder):
    disk = folder / "disk"
    disk.mkdir()
    size = db.stat().st_size + 64 * 1024
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        small = disk / "casework.db"
        shutil.copy(db, small)
        before = rows(small)
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)  # take what is left
        try:
            while os.write(filler, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(filler)
        ran = run(
            small,
            "org",
            "add",
            "E07000084",
            "--name",
            "Cheltenham Borough Council",
            "--email",
            "returns@cheltenham.gov.uk",
        )
        one_line_refusal(ran, "is full", "Free some space")
        assert rows(small) == before
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_an_unreachable_database_server_is_one_line(folder):
    env = {"CASEWORK_DB": "postgresql://casework@127.0.0.1:1/casework"}
    for command in (["org", "list"], ORG, ["status"]):
        full_env = {**os.environ, **env}
        full_env.pop("CASEWORK_DEBUG", None)
        ran = subprocess.run(
            [CASEWORK, *command],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=60,
            cwd=folder,
        )
        one_line_refusal(ran, "cannot be reached", "Connection refused")


@pytest.mark.skipif(PG_UNAVAILABLE is not None, reason=PG_UNAVAILABLE or "")
def test_a_server_that_answers_but_has_no_such_database_or_user_says_so(folder):
    missing_db = pg_url_for("casework_no_such_database")
    no_user = pg_url_for("test").replace("://postgres@", "://casework_no_such_user@")
    runs = []
    for url in (missing_db, no_user):
        full_env = {**os.environ, "CASEWORK_DB": url}
        full_env.pop("CASEWORK_DEBUG", None)
        runs.append(
            subprocess.run(
                [CASEWORK, "status"], capture_output=True, text=True, env=full_env, timeout=60
            )
        )

    line = one_line_refusal(runs[0], "answered, but has no database casework_no_such_database")
    assert line.endswith(
        ": create it (createdb casework_no_such_database) or name another with --db or "
        "CASEWORK_DB. Nothing was changed."
    )
    assert "cannot be reached" not in line
    line = one_line_refusal(
        runs[1], "answered, but refused the connection", 'role "casework_no_such_user"'
    )
    assert "check the user and password" in line and "cannot be reached" not in line


def test_casework_debug_adds_the_traceback(db):
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        ran = run(db, *ORG, env={"CASEWORK_DEBUG": "1", "CASEWORK_LOCK_WAIT": "0.2"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ran.returncode == 1
    assert "Traceback" in ran.stderr and "sqlite3.OperationalError" in ran.stderr
    assert ran.stderr.rstrip().splitlines()[-1].startswith(f"The database {db} is locked")


def _take_write_lock(db: Path) -> sqlite3.Connection:
    """The write lock, got between two of a busy writer's transactions (a try every ms)."""
    holder = sqlite3.connect(db, isolation_level=None, timeout=0)
    deadline = time.monotonic() + 60
    while True:
        try:
            holder.execute("BEGIN IMMEDIATE")
            return holder
        except sqlite3.OperationalError:
            assert time.monotonic() < deadline, "never got the write lock"
            time.sleep(0.001)


def test_the_write_lock_taken_mid_sweep_is_one_line_and_the_next_sweep_does_the_rest_once(db):
    from datetime import date, datetime, timedelta, timezone

    from tests.workflow.monitoring_world import bulk_bids, exactly_once
    from workflow.storage.db import make_engine

    today = datetime.now(timezone.utc).date()
    engine = make_engine(f"sqlite:///{db}")
    bulk_bids(
        engine,
        200,
        lambda i, n: (
            today - timedelta(days=60)
            if n == 1
            else date(today.year + 2, 1, 4) + timedelta(days=91 * n)
        ),
    )  # a whole ladder each
    engine.dispose()

    def steps() -> int:
        reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return reader.execute("SELECT count(*) FROM history WHERE actor = 'system'").fetchone()[
                0
            ]
        finally:
            reader.close()

    sweeping = subprocess.Popen(
        [CASEWORK, "sweep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=db.parent,
        env={
            **{k: v for k, v in os.environ.items() if k != "CASEWORK_DEBUG"},
            "CASEWORK_DB": f"sqlite:///{db}",
            "CASEWORK_LOCK_WAIT": "1",
            "CASEWORK_MAIL": f"file:{db.parent / 'mail'}",
        },
    )
    while steps() < 20:
        assert sweeping.poll() is None, sweeping.communicate()
        time.sleep(0.01)
    holder = _take_write_lock(db)  # mid-sweep, held longer than its 1 s wait
    try:
        out, err = sweeping.communicate(timeout=120)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    ran = subprocess.CompletedProcess(sweeping.args, sweeping.returncode, out, err)
    one_line_refusal(ran, "is locked", "waited for 1 s", "Nothing was changed")
    engine = make_engine(f"sqlite:///{db}")
    stopped_at = exactly_once(engine)
    assert stopped_at["ok"] and 20 <= stopped_at["history_rows"] < 200 * 6, stopped_at
    assert run(db, "sweep").returncode == 0
    after = exactly_once(engine)
    assert after["ok"] and after["history_rows"] == 200 * 6, after
    engine.dispose()


def test_case_advance_with_the_write_lock_held_elsewhere_is_one_line_and_changes_nothing(db):
    from datetime import date

    from tests.workflow.monitoring_world import bulk_bids
    from workflow.storage.db import make_engine

    engine = make_engine(f"sqlite:///{db}")
    bulk_bids(engine, 1, lambda i, n: date(2030, 1, 4))
    engine.dispose()
    before = rows(db)
    holder = _take_write_lock(db)
    try:
        ran = run(
            db,
            "case",
            "advance",
            "TCA-2013-000001",
            "suspend",
            "--as",
            "carol",
            "--reason",
            "Audit found a problem",
            env={"CASEWORK_LOCK_WAIT": "0.5"},
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_line_refusal(ran, "is locked", "waited for 0.5 s", "Nothing was changed")
    assert rows(db) == before


@pytest.mark.parametrize(
    "table, command",
    [
        ("checkpoints", ["sweep"]),
        ("cases", ["case", "show", "TCA-2013-000001"]),
        (
            "cases",
            [
                "case",
                "advance",
                "TCA-2013-000001",
                "suspend",
                "--as",
                "carol",
                "--reason",
                "Audit found a problem",
            ],
        ),
    ],
)
def test_sweep_case_show_and_advance_write_nothing_into_a_damaged_page(db, table, command):
    from datetime import date

    from tests.workflow.monitoring_world import bulk_bids
    from workflow.storage.db import make_engine

    engine = make_engine(f"sqlite:///{db}")
    bulk_bids(engine, 3, lambda i, n: date(2013, 12, 1))  # every step due
    engine.dispose()
    _damage_table(db, table)
    before = db.read_bytes()

    one_line_refusal(run(db, *command), "is damaged", "PRAGMA integrity_check", "backup")
    assert db.read_bytes() == before
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
