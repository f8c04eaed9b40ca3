"""Backup and restore through the real command line: a round trip keeps every row and file;
a damaged archive, a full database or a broken history is refused, changing nothing."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select, text

from tests.conftest import _pg_admin, pg_url_for
from tests.workflow.monitoring_world import bid_in_monitoring, bulk_bids, exactly_once
from workflow.runtime import archive as archives
from workflow.services import monitoring
from workflow.storage.db import make_engine, reading
from workflow.services.chain import verify
from workflow.storage.tables import history, outbox
from workflow.runtime.sweep import sweep
from workflow.storage.table_dump import rows_of, tables_in

CASEWORK = str(Path(sys.executable).with_name("casework"))
UTC = timezone.utc
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CSV = b"quarter,spend\nQ1,1200.50\n"
FIGURES = {"spend_to_date": "1200.50", "progress": "The shared service desk opened in October."}


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CASEWORK, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def every_row(engine) -> dict[str, list]:
    with reading(engine) as conn:
        return {t.name: list(rows_of(conn, t)) for t in tables_in(conn)}


def stored_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def files(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "files"
    monkeypatch.setenv("CASEWORK_FILES", str(folder))
    return folder


def a_year_in_monitoring(world) -> None:
    """Two bids in monitoring; one return submitted with a PDF, one with a CSV; the ladder run."""
    world.cast()
    refs = [bid_in_monitoring(world, datetime(2013, 10, 1, 12, tzinfo=UTC)) for _ in range(2)]
    with freeze_time(datetime(2013, 12, 20, 9, 30, tzinfo=UTC)):
        sweep(world.engine)
        monitoring.submit_return(
            world.engine,
            f"{refs[0]}/Q1",
            "cllr",
            figures=FIGURES,
            attachment=("q1-evidence.pdf", PDF),
        )
        monitoring.submit_return(
            world.engine, f"{refs[1]}/Q1", "cllr", figures=FIGURES, attachment=("q1.csv", CSV)
        )
    with freeze_time(datetime(2014, 1, 20, 9, 30, tzinfo=UTC)):
        sweep(world.engine)


@pytest.fixture
def empty_target(any_db, tmp_path):
    """A URL for a new, empty database of the same kind as `any_db`."""
    if any_db.dialect.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'casework.db'}"
        return
    name = f"cw_restore_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield pg_url_for(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_a_restored_backup_has_every_row_and_every_evidence_file_of_the_original(
    any_world, any_db, files, empty_target, tmp_path
):
    a_year_in_monitoring(any_world)
    (tmp_path / "restored").mkdir()
    archive = tmp_path / "backup.tar.gz"

    made = run("--db", any_db.test_url, "backup", str(archive))
    # A PostgreSQL archive's rows are checked in a scratch SQLite file, as restore would.
    checked = run("backup", "--verify", str(archive))
    restored_files = tmp_path / "restored-files"
    done = run(
        "restore", str(archive), "--db", empty_target, env={"CASEWORK_FILES": str(restored_files)}
    )

    assert made.returncode == 0, made.stderr
    if any_db.dialect.name == "postgresql":  # the server itself wants its own backup too
        assert "pg_dump" in made.stderr
    assert checked.returncode == 0, checked.stderr
    assert "audit verify: 2 cases" in checked.stdout and "0 broken" in checked.stdout
    assert done.returncode == 0, done.stderr
    assert "audit verify: 2 cases" in done.stdout and "0 broken" in done.stdout
    target = make_engine(empty_target)
    try:
        original, copy = every_row(any_db), every_row(target)
    finally:
        target.dispose()
    assert set(copy) == set(original)
    for table in original:
        assert copy[table] == original[table], table
    assert len(original["history"]) > 20 and len(original["outbox"]) >= 4
    assert len(original["agreements"]) == 2  # each award's agreement, its PDF in the row
    assert stored_files(restored_files) == stored_files(files)
    assert len(stored_files(files)) == 2
    assert run("--db", empty_target, "audit", "verify").returncode == 0


@pytest.fixture(scope="module")
def one_archive(sqlite_template, tmp_path_factory) -> Path:
    """The backup of a year in monitoring (two evidence files), made once for the module: the
    tests that read an archive only read it, and each gets a copy of its own (`archive`)."""
    from tests.builders import World

    folder = tmp_path_factory.mktemp("archive")
    shutil.copy(sqlite_template, folder / "casework.db")
    url = f"sqlite:///{folder / 'casework.db'}"
    engine = make_engine(url)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CASEWORK_FILES", str(folder / "files"))
        a_year_in_monitoring(World(engine))
        engine.dispose()
        path = folder / "backup.tar.gz"
        made = run("--db", url, "backup", str(path))
    assert made.returncode == 0, made.stderr
    return path


@pytest.fixture
def archive(one_archive, tmp_path) -> Path:
    path = tmp_path / "backup.tar.gz"
    shutil.copy(one_archive, path)
    return path


def refused(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def truncated(path: Path, tmp_path: Path) -> Path:
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    return cut


def tampered(path: Path, tmp_path: Path) -> Path:
    """The archive with one byte of the database copy changed, the manifest left as it was."""
    out = tmp_path / "tampered.tar.gz"
    with tarfile.open(path, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "database.sqlite3":
                data = data[:5000] + bytes([data[5000] ^ 1]) + data[5001:]
            dst.addfile(member, io.BytesIO(data))
    return out


@pytest.mark.parametrize(
    "damage, words", [(truncated, ["truncated"]), (tampered, ["database.sqlite3", "SHA-256"])]
)
def test_a_damaged_archive_is_refused_by_verify_and_by_restore(archive, damage, words, tmp_path):
    bad = damage(archive, tmp_path)
    target = tmp_path / "target"
    target.mkdir()

    checked = run("backup", "--verify", str(bad))
    restored = run(
        "restore",
        str(bad),
        "--db",
        f"sqlite:///{target / 'casework.db'}",
        env={"CASEWORK_FILES": str(target / "files")},
    )

    refused(checked, str(bad), *words)
    refused(restored, str(bad), *words)
    assert list(target.iterdir()) == []
    assert run("backup", "--verify", str(archive)).returncode == 0


def test_an_archive_whose_member_is_not_in_the_manifest_is_refused(archive, tmp_path):
    out = tmp_path / "extra.tar.gz"
    with tarfile.open(archive, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member))
        info = tarfile.TarInfo("files/00/planted")
        info.size = 3
        dst.addfile(info, io.BytesIO(b"bad"))

    refused(run("backup", "--verify", str(out)), "files/00/planted", "not in the manifest")


def test_a_restore_into_a_database_that_has_cases_is_refused_and_changes_nothing(
    archive, db, world, files
):
    world.cast()
    world.bid()
    before = every_row(db)

    result = run("restore", str(archive), "--db", db.test_url)

    refused(result, "already has cases", "TCA-2013-0001")
    assert every_row(db) == before


def test_a_backup_whose_history_fails_audit_verify_is_not_restored(world, db, files, tmp_path):
    a_year_in_monitoring(world)
    db.dispose()
    raw = sqlite3.connect(db.url.database)
    raw.execute("DROP TRIGGER history_no_update")
    raw.execute("UPDATE history SET reason = 'rewritten' WHERE id = 3")
    raw.commit()
    raw.close()
    path = tmp_path / "broken.tar.gz"
    assert run("--db", db.test_url, "backup", str(path)).returncode == 0
    target = tmp_path / "target"
    target.mkdir()
    existing = target / "casework.db"
    shutil.copy(db.url.database, tmp_path / "unused.db")

    result = run(
        "restore",
        str(path),
        "--db",
        f"sqlite:///{existing}",
        env={"CASEWORK_FILES": str(target / "files")},
    )

    refused(result, "fails audit verify", "does not match its hash")
    assert list(target.iterdir()) == []


def test_a_backup_whose_admin_log_fails_audit_verify_is_refused_by_verify_and_by_restore(
    world, db, files, tmp_path
):
    world.cast()  # each person added is a row of the admin log
    world.bid()
    db.dispose()
    raw = sqlite3.connect(db.url.database)
    raw.execute("DROP TRIGGER admin_log_no_update")
    raw.execute("UPDATE admin_log SET target = 'someone.else' WHERE id = 2")
    raw.commit()
    raw.close()
    path = tmp_path / "broken.tar.gz"
    assert run("--db", db.test_url, "backup", str(path)).returncode == 0
    target = tmp_path / "target"
    target.mkdir()

    checked = run("backup", "--verify", str(path))
    restored = run(
        "restore",
        str(path),
        "--db",
        f"sqlite:///{target / 'casework.db'}",
        env={"CASEWORK_FILES": str(target / "files")},
    )

    # What `audit verify` would say of the restored database, said before it is written.
    assert run("--db", db.test_url, "audit", "verify").returncode == 1
    refused(checked, str(path), "fails audit verify", "admin log: row 2 does not match its hash")
    refused(restored, "Nothing was restored", "admin log: row 2 does not match its hash")
    assert list(target.iterdir()) == []


@pytest.mark.parametrize(
    "where, words",
    [("missing/backup.tar.gz", ["does not exist"]), ("existing", ["already exists"])],
)
def test_a_backup_to_a_place_that_cannot_take_it_is_refused(db, tmp_path, where, words):
    (tmp_path / "existing").write_text("keep me")

    result = run("--db", db.test_url, "backup", str(tmp_path / where))

    refused(result, "The backup was not taken", *words)
    assert (tmp_path / "existing").read_text() == "keep me"
    assert not (tmp_path / "missing").exists()


def test_a_backup_of_a_postgresql_server_that_does_not_answer_is_refused(tmp_path):
    path = tmp_path / "backup.tar.gz"

    result = run("--db", "postgresql://casework@127.0.0.1:1/casework", "backup", str(path))

    refused(result, "cannot be reached", "Nothing was changed")
    assert list(tmp_path.iterdir()) == []  # no archive, no staging folder left


def test_a_backup_to_a_folder_that_is_not_writable_is_refused(db, tmp_path):
    if os.geteuid() == 0:
        folder = Path("/sys")  # root may write anywhere but sysfs
    else:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)

    result = run("--db", db.test_url, "backup", str(folder / "backup.tar.gz"))

    refused(result, "not writable", str(folder))


def test_backup_verify_reports_what_the_archive_holds(archive):
    result = run("backup", "--verify", str(archive), "--json")

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["ok"] and found["cases"] == 2 and found["files"] == 2
    assert found["dialect"] == "sqlite"
    with tarfile.open(archive, "r:gz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        names = tar.getnames()
    assert set(manifest["members"]) == {n for n in names if n != "manifest.json"}


def test_the_archive_is_gzip_whole_and_ends_with_its_manifest(archive):
    with gzip.open(archive) as raw:
        names = [m.name for m in tarfile.open(fileobj=raw, mode="r|")]
    assert names[-1] == "manifest.json" and names[0] == "database.sqlite3"


# --- a backup while casework is busy ---------------------------------------------------
def spread_due(i: int, n: int) -> date:
    """Returns due every quarter from January 2014, spread over twenty days each."""
    return date(2014, 1 + 3 * (n - 1), 2 + i % 20)


@pytest.mark.slow
def test_a_backup_taken_while_a_sweep_and_deliveries_run_elsewhere_is_that_moment_whole(
    db, files, tmp_path
):
    bulk_bids(db, 2000, spread_due)
    stop, report = tmp_path / "stop", tmp_path / "report.json"
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.workflow.busy_writer", db.test_url, str(stop), str(report)],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        while writer.poll() is None and not history_rows(db):
            threading_wait(0.05)
        began = time.time()
        made = run("--db", db.test_url, "backup", str(tmp_path / "busy.tar.gz"))
        ended = time.time()
        threading_wait(1.0)  # the writer goes on after the copy's moment
    finally:
        stop.touch()
        writer.wait(timeout=300)
    busy = json.loads(report.read_text())

    assert made.returncode == 0, made.stderr
    assert busy["errors"] == [] and busy["steps"] > 0 and busy["sent"] > 0
    unpacked = tmp_path / "unpacked"
    about = archives.extract(tmp_path / "busy.tar.gz", unpacked)["database"]
    copy_began = datetime.fromisoformat(about["snapshot_at"]).timestamp()
    copy_ended = copy_began + about["copy_seconds"]
    assert began < copy_began < copy_ended < ended
    # No write that overlapped the copy waited a second (this machine is shared, so
    # writes elsewhere in the run may; those are not the backup's doing).
    overlapping = [
        took for at, took in busy["slow_writes"] if at < copy_ended and at + took > copy_began
    ]
    assert max(overlapping, default=0.0) < 1.0, (about, busy["slow_writes"])
    copy = make_engine(f"sqlite:///{unpacked / 'database.sqlite3'}")
    try:
        with reading(copy) as conn:
            assert verify(conn).ok
            copied_history = conn.execute(select(history).order_by(history.c.id)).all()
            copied_outbox = conn.execute(select(*queued_columns()).order_by(outbox.c.id)).all()
        copied = exactly_once(copy)
    finally:
        copy.dispose()
    with reading(db) as conn:
        assert verify(conn).ok
        source_history = conn.execute(select(history).order_by(history.c.id)).all()
        source_outbox = conn.execute(select(*queued_columns()).order_by(outbox.c.id)).all()
    # The copy is the source as it was at one moment: a prefix of everything written since,
    # each step with its history row, its checkpoint's record and its message together.
    assert 0 < len(copied_history) < len(source_history)
    assert source_history[: len(copied_history)] == copied_history
    assert source_outbox[: len(copied_outbox)] == copied_outbox
    assert copied["ok"] and copied["history_rows"] == copied["messages"] > 0
    assert exactly_once(db)["ok"]  # nothing in the source lost or done twice


def queued_columns():
    """The columns a message keeps from its queuing on (delivery changes the others)."""
    return [outbox.c.id, outbox.c.key, outbox.c.kind, outbox.c.case_ref, outbox.c.subject]


def history_rows(engine) -> int:
    with reading(engine) as conn:
        return conn.execute(select(func.count()).select_from(history)).scalar()


def threading_wait(seconds: float) -> None:
    threading.Event().wait(seconds)


# --- casework init backs up a database with cases before migrating it -------------
def one_migration_behind(engine) -> None:
    """Undo the newest migration (to one of its parents, where it joined branches)."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from workflow.storage.schema import alembic_config, head_revisions

    newest = ScriptDirectory.from_config(alembic_config()).get_revision(max(head_revisions()))
    down = newest.down_revision
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), down if isinstance(down, str) else down[-1])
    engine.dispose()


@pytest.fixture
def behind(world, db, files):
    world.cast()
    world.bid()
    one_migration_behind(db)
    return db


def test_init_on_a_database_with_cases_refuses_to_migrate_without_a_backup_folder(behind, tmp_path):
    from workflow.storage.schema import current_revisions

    before = current_revisions(behind)

    result = run("--db", behind.test_url, "init", env={"CASEWORK_BACKUP_DIR": ""})

    refused(result, "CASEWORK_BACKUP_DIR", "--no-backup", "Nothing was changed")
    assert current_revisions(behind) == before


@pytest.fixture
def any_behind(any_world, any_db, files):
    any_world.cast()
    any_world.bid()
    one_migration_behind(any_db)
    return any_db


def test_init_backs_up_a_database_with_cases_before_migrating_it(any_behind, tmp_path):
    """On PostgreSQL too, whose backup reads every table as rows: the tables as the
    database has them, without the columns the pending migration adds."""
    from workflow.storage.schema import head_revisions, current_revisions

    folder = tmp_path / "backups"
    folder.mkdir()
    before = every_row(any_behind)

    result = run("--db", any_behind.test_url, "init", env={"CASEWORK_BACKUP_DIR": str(folder)})
    [made] = list(folder.iterdir())
    back = f"sqlite:///{tmp_path / 'back.db'}"
    restored = run("restore", str(made), "--db", back)

    assert result.returncode == 0, result.stderr
    assert f"before migrating, backup written: {made} (1 cases, " in result.stdout
    assert "evidence files, 0 seal copies from CASEWORK_SEAL_DIR;" in result.stdout
    assert archives.verify(made)["database"]["cases"] == 1
    assert current_revisions(any_behind) == head_revisions()
    assert restored.returncode == 0, restored.stderr
    assert "run `casework init` to upgrade it" in restored.stdout
    assert every_row(make_engine(back)) == before


def test_init_with_no_backup_migrates_without_one(behind, tmp_path):
    from workflow.storage.schema import head_revisions, current_revisions

    result = run("--db", behind.test_url, "init", "--no-backup", env={"CASEWORK_BACKUP_DIR": ""})

    assert result.returncode == 0, result.stderr
    assert current_revisions(behind) == head_revisions()


# --- seals ------------------------------------------------------------------------------
@pytest.fixture
def sealed(world, db, files, tmp_path, monkeypatch):
    """A year in monitoring, sealed, with the seal's copy in CASEWORK_SEAL_DIR."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from workflow.services.seals import record_key, seal, write_copy

    a_year_in_monitoring(world)
    key = Ed25519PrivateKey.generate()
    record_key(db, key.public_key())
    folder = tmp_path / "seals"
    write_copy(seal(db, key), folder)
    monkeypatch.setenv("CASEWORK_SEAL_DIR", str(folder))
    return folder


def test_a_restore_checks_the_history_against_its_seals_and_puts_their_copies_back(
    sealed, db, tmp_path
):
    archive = tmp_path / "sealed.tar.gz"
    assert run("--db", db.test_url, "backup", str(archive)).returncode == 0
    target = tmp_path / "target"
    target.mkdir()

    done = run(
        "restore",
        str(archive),
        "--db",
        f"sqlite:///{target / 'casework.db'}",
        env={"CASEWORK_FILES": str(target / "files"), "CASEWORK_SEAL_DIR": str(target / "seals")},
    )

    assert done.returncode == 0, done.stderr
    assert "seals: 1 checked; the newest covers rows 1-" in done.stdout
    assert [p.name for p in (target / "seals").iterdir()] == ["seal-000001.json"]
    assert (target / "seals" / "seal-000001.json").read_bytes() == (
        sealed / "seal-000001.json"
    ).read_bytes()


def test_a_backup_whose_history_was_rewritten_with_recomputed_hashes_is_not_restored(
    sealed, db, tmp_path
):
    from tests.workflow import tamper

    tamper.rewrite_row(db, "TCA-2013-0001", 3)  # the chain still verifies
    with reading(db) as conn:
        assert verify(conn).ok
    archive = tmp_path / "rewritten.tar.gz"
    assert run("--db", db.test_url, "backup", str(archive)).returncode == 0
    target = tmp_path / "target"
    target.mkdir()

    result = run(
        "restore",
        str(archive),
        "--db",
        f"sqlite:///{target / 'casework.db'}",
        env={"CASEWORK_FILES": str(target / "files")},
    )

    refused(result, "does not match its seals", "seal 1", "no longer match")
    assert list(target.iterdir()) == []


def with_history_changed(path: Path, tmp_path: Path, change) -> Path:
    """The archive rebuilt around a database copy whose history `change` altered, its
    manifest's SHA-256 and size made to match: every hash holds, only the history tells."""
    import hashlib

    out, scratch = tmp_path / "history-changed.tar.gz", tmp_path / "copy.sqlite3"
    with tarfile.open(path, "r:gz") as src:
        scratch.write_bytes(src.extractfile("database.sqlite3").read())
        copy = make_engine(f"sqlite:///{scratch}")
        change(copy)
        copy.dispose()
        data = scratch.read_bytes()
        with tarfile.open(out, "w:gz") as dst:
            for member in src.getmembers():
                body = src.extractfile(member).read()
                if member.name == "database.sqlite3":
                    body = data
                elif member.name == "manifest.json":
                    manifest = json.loads(body)
                    manifest["members"]["database.sqlite3"] = {
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                    }
                    body = json.dumps(manifest).encode()
                member.size = len(body)
                dst.addfile(member, io.BytesIO(body))
    return out


def reason_rewritten(engine) -> None:
    """A history row's reason changed in place: its hash no longer matches."""
    from tests.workflow import tamper

    with tamper.guards_off(engine) as conn:
        conn.execute(text("UPDATE history SET reason = 'rewritten' WHERE id = 3"))


def rewritten_with_hashes(engine) -> None:
    """A row rewritten and every hash after it recomputed: the chain holds, the seal does not."""
    from tests.workflow import tamper

    tamper.rewrite_row(engine, "TCA-2013-0001", 3)


@pytest.mark.parametrize(
    "change, words",
    [
        (reason_rewritten, ["fails audit verify", "does not match its hash"]),
        (rewritten_with_hashes, ["does not match its seals", "seal 1", "no longer match"]),
    ],
)
def test_an_archive_whose_history_was_changed_under_a_matching_manifest_is_refused_by_verify_and_by_restore(  # noqa: E501
    sealed, db, tmp_path, change, words
):
    good = tmp_path / "sealed.tar.gz"
    assert run("--db", db.test_url, "backup", str(good)).returncode == 0
    bad = with_history_changed(good, tmp_path, change)
    archives.verify(bad)  # every member matches the manifest
    target = tmp_path / "target"
    target.mkdir()

    checked = run("backup", "--verify", str(bad))
    passed = run("backup", "--verify", str(good))
    restored = run(
        "restore",
        str(bad),
        "--db",
        f"sqlite:///{target / 'casework.db'}",
        env={"CASEWORK_FILES": str(target / "files")},
    )

    refused(checked, f"{bad} was refused: the history in it", *words)
    refused(restored, f"Nothing was restored: the history in {bad}", *words)
    assert list(target.iterdir()) == []
    assert passed.returncode == 0, passed.stderr
    assert "audit verify: " in passed.stdout
    assert "seals: 1 checked; the newest covers rows 1-" in passed.stdout


def test_backup_verify_checks_the_seals_against_the_public_key_given(sealed, db, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from workflow.services.seals import public_text, recorded_keys

    archive = tmp_path / "sealed.tar.gz"
    assert run("--db", db.test_url, "backup", str(archive)).returncode == 0
    with reading(db) as conn:
        (ours,) = recorded_keys(conn)
    (tmp_path / "ours.pub").write_text(ours + "\n")
    (tmp_path / "other.pub").write_text(public_text(Ed25519PrivateKey.generate().public_key()))

    right = run("backup", "--verify", str(archive), "--public-key", str(tmp_path / "ours.pub"))
    wrong = run("backup", "--verify", str(archive), "--public-key", str(tmp_path / "other.pub"))

    assert right.returncode == 0, right.stderr
    refused(wrong, f"{archive} was refused", "does not match its seals", "no seal is signed by")
