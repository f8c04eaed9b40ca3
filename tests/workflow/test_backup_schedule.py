"""The nightly backup: which ones are kept, and each run recorded for `status` and /metrics."""

from __future__ import annotations

import os
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from freezegun import freeze_time

from workflow.runtime.backup_schedule import (
    backup_job,
    last_backup,
    last_due,
    prune,
    taken_at,
    to_keep,
)
from workflow.storage.db import reading
from workflow.errors import SetupError
from workflow.runtime.metrics import REGISTRY
from workflow.runtime.scheduler import build_scheduler
from workflow.runtime.status import status

UTC = timezone.utc


def nightly(start: datetime, days: int) -> list[datetime]:
    return [start + timedelta(days=d) for d in range(days)]


def test_the_newest_fourteen_and_the_first_of_each_month_are_kept():
    taken = nightly(datetime(2014, 1, 1, 1, tzinfo=UTC), 100)  # 1 January to 10 April

    kept = sorted(to_keep(taken))

    firsts = [datetime(2014, m, 1, 1, tzinfo=UTC) for m in (1, 2, 3, 4)]
    assert kept == firsts[:3] + taken[-14:]
    assert firsts[3] in taken[-14:]


def test_the_first_of_a_month_is_counted_in_london_not_utc():
    # 00:30 UTC on 1 July is 01:30 in London: July's first; 23:30 UTC on 30 June is June's.
    june, july = datetime(2014, 6, 30, 23, 30, tzinfo=UTC), datetime(2014, 7, 1, 0, 30, tzinfo=UTC)
    taken = [
        datetime(2014, 6, 1, 1, tzinfo=UTC),
        june,
        july,
        datetime(2014, 7, 2, 0, 30, tzinfo=UTC),
    ]

    assert to_keep(taken, keep_last=0) == {taken[0], june}


def test_pruning_deletes_only_scheduled_backups_the_rules_do_not_keep(tmp_path):
    for at in nightly(datetime(2014, 1, 20, 1, tzinfo=UTC), 30):
        (tmp_path / f"casework-{at:%Y%m%dT%H%M%S}.tar.gz").write_bytes(b"x")
    (tmp_path / "before-upgrade.tar.gz").write_bytes(b"mine")

    gone = prune(tmp_path)

    left = sorted(p.name for p in tmp_path.iterdir())
    assert "before-upgrade.tar.gz" in left
    dated = sorted(taken_at(Path(n)) for n in left if taken_at(Path(n)))
    assert dated[0] == datetime(2014, 1, 20, 1, tzinfo=UTC)  # January's first
    assert dated[1] == datetime(2014, 2, 1, 1, tzinfo=UTC)  # February's first
    assert len(dated) == 16 and len(gone) == 14


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_nightly_backup_is_written_recorded_for_status_and_counted(db, tmp_path):
    job = backup_job(db, tmp_path, files_root=tmp_path / "files", seal_dir=None)
    before = metric("casework_backups_total", outcome="ok")

    with freeze_time(datetime(2014, 3, 4, 1, 0, 2, tzinfo=UTC)):
        job()

    made = tmp_path / "casework-20140304T010002.tar.gz"
    assert tarfile.is_tarfile(made)
    with reading(db) as conn:
        record = last_backup(conn)
    assert record["ok"] is True and record["path"] == str(made) and record["kept"] == 1
    assert metric("casework_backups_total", outcome="ok") == before + 1
    assert metric("casework_last_backup_timestamp_seconds") > 0


@pytest.fixture
def ran_once(db, tmp_path):
    """The nightly job, run once at 01:00 on 4 March 2014; then its folder goes away."""
    folder = tmp_path / "backups"
    folder.mkdir()
    job = backup_job(db, folder, files_root=tmp_path / "files", seal_dir=None)
    with freeze_time(datetime(2014, 3, 4, 1, tzinfo=UTC)):
        job()

    def lose_folder() -> None:
        folder.rename(tmp_path / "gone")  # the backup disk went away

    job.lose_folder = lose_folder
    return job


def test_a_failed_nightly_backup_is_recorded_and_keeps_the_last_good_one(db, ran_once):
    ran_once.lose_folder()
    failed_before = metric("casework_backups_total", outcome="failed")

    with freeze_time(datetime(2014, 3, 5, 1, tzinfo=UTC)):
        ran_once()

    with reading(db) as conn:
        record = last_backup(conn)
    assert record["ok"] is False and "does not exist" in record["error"]
    assert record["last_ok_at"].startswith("2014-03-04T01:00")
    assert metric("casework_backups_total", outcome="failed") == failed_before + 1


def test_serve_backs_up_at_one_in_the_morning_london_time_when_a_folder_is_set(
    db, tmp_path, caplog
):
    midday = datetime(2014, 6, 30, 12, tzinfo=UTC)
    with caplog.at_level("INFO", logger="casework.scheduler"):
        scheduler = build_scheduler(
            db, every_minutes=5, deliver=False, environ={"CASEWORK_BACKUP_DIR": str(tmp_path)}
        )

    trigger = scheduler.get_job("backup").trigger

    assert trigger.get_next_fire_time(None, midday) == datetime(2014, 7, 1, 0, 0, tzinfo=UTC)
    winter = datetime(2014, 12, 1, 12, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, winter) == datetime(2014, 12, 2, 1, 0, tzinfo=UTC)
    assert (
        f"backing up nightly at 01:00 Europe/London into {tmp_path}; the missed night's "
        "backup in a minute"
    ) in caplog.messages  # the log shows serve was given the folder


def test_without_a_backup_folder_serve_takes_no_backups(db):
    scheduler = build_scheduler(db, every_minutes=5, deliver=False, environ={})

    assert scheduler.get_job("backup") is None


def test_a_backup_folder_that_does_not_exist_stops_serve_at_start(db, tmp_path):
    with pytest.raises(SetupError, match="CASEWORK_BACKUP_DIR .* is not a folder"):
        build_scheduler(
            db,
            every_minutes=5,
            deliver=False,
            environ={"CASEWORK_BACKUP_DIR": str(tmp_path / "missing")},
        )


def test_a_backup_folder_that_is_not_writable_stops_serve_at_start(db, tmp_path):
    if os.geteuid() == 0:
        folder = Path("/sys")  # root may write anywhere but sysfs
    else:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)

    with pytest.raises(SetupError, match="CASEWORK_BACKUP_DIR .* is not writable"):
        build_scheduler(
            db, every_minutes=5, deliver=False, environ={"CASEWORK_BACKUP_DIR": str(folder)}
        )


def test_status_shows_the_last_backup_and_is_stale_when_it_failed(db, ran_once):
    with freeze_time(datetime(2014, 3, 4, 9, tzinfo=UTC)):
        good = status(db)["backup"]
    ran_once.lose_folder()
    with freeze_time(datetime(2014, 3, 5, 1, tzinfo=UTC)):
        ran_once()
        failed = status(db)["backup"]

    assert good["ok"] and not good["stale"] and good["age_seconds"] == 8 * 3600
    assert not failed["ok"] and failed["stale"] and "does not exist" in failed["error"]


def test_status_lists_every_backup_kept_newest_first(db, tmp_path):
    job = backup_job(db, tmp_path, files_root=tmp_path / "files", seal_dir=None)
    for day in (3, 4):
        with freeze_time(datetime(2014, 3, day, 1, tzinfo=UTC)):
            job()

    with freeze_time(datetime(2014, 3, 4, 9, tzinfo=UTC)):
        kept = status(db)["backup"]["backups"]

    assert [k["file"] for k in kept] == [
        "casework-20140304T010000.tar.gz",
        "casework-20140303T010000.tar.gz",
    ]
    assert kept[0]["at"].startswith("2014-03-04T01:00") and all(k["bytes"] > 0 for k in kept)


def test_a_night_missed_while_serve_was_down_is_made_up_a_minute_after_it_starts(
    db, ran_once, tmp_path
):
    # The last backup ran at 01:00 on 4 March; serve was down over the night of the 5th.
    with freeze_time(datetime(2014, 3, 5, 9, tzinfo=UTC)):
        scheduler = build_scheduler(
            db, every_minutes=5, deliver=False, environ={"CASEWORK_BACKUP_DIR": str(tmp_path)}
        )
    makeup = scheduler.get_job("backup-missed")
    assert makeup is not None
    assert makeup.trigger.run_date == datetime(2014, 3, 5, 9, 1, tzinfo=UTC)


def test_the_made_up_backup_is_written_when_its_minute_comes(db, ran_once, tmp_path):
    folder = tmp_path / "nightly"
    folder.mkdir()
    with freeze_time(datetime(2014, 3, 5, 9, tzinfo=UTC)):
        scheduler = build_scheduler(
            db, every_minutes=5, deliver=False, environ={"CASEWORK_BACKUP_DIR": str(folder)}
        )
    with freeze_time(datetime(2014, 3, 5, 9, 1, tzinfo=UTC)):
        scheduler.get_job("backup-missed").func()

    assert [p.name for p in folder.iterdir()] == ["casework-20140305T090100.tar.gz"]


def test_serve_started_just_before_one_takes_the_night_s_backup_once_not_twice(
    db, ran_once, tmp_path
):
    folder = tmp_path / "nightly"
    folder.mkdir()
    # Down over the night of the 5th; started at 00:59:30 on the 6th (GMT: London's time).
    with freeze_time(datetime(2014, 3, 6, 0, 59, 30, tzinfo=UTC)):
        scheduler = build_scheduler(
            db, every_minutes=5, deliver=False, environ={"CASEWORK_BACKUP_DIR": str(folder)}
        )
    with freeze_time(datetime(2014, 3, 6, 1, 0, tzinfo=UTC)):
        scheduler.get_job("backup").func()  # the night's own, at 01:00
    with freeze_time(datetime(2014, 3, 6, 1, 0, 30, tzinfo=UTC)):
        scheduler.get_job("backup-missed").func()  # the make-up, its minute after start

    assert [p.name for p in folder.iterdir()] == ["casework-20140306T010000.tar.gz"]


def test_no_backup_is_made_up_when_the_night_s_own_ran(db, ran_once, tmp_path):
    with freeze_time(datetime(2014, 3, 4, 23, tzinfo=UTC)):  # same London day, after 01:00
        scheduler = build_scheduler(
            db, every_minutes=5, deliver=False, environ={"CASEWORK_BACKUP_DIR": str(tmp_path)}
        )

    assert scheduler.get_job("backup-missed") is None


def test_the_night_is_counted_from_one_in_the_morning_london_time():
    summer = datetime(2014, 7, 1, 0, 30, tzinfo=UTC)  # 01:30 BST
    assert last_due(summer) == datetime(2014, 7, 1, 0, 0, tzinfo=UTC)
    just_before = datetime(2014, 12, 2, 0, 59, tzinfo=UTC)  # 00:59 GMT
    assert last_due(just_before) == datetime(2014, 12, 1, 1, 0, tzinfo=UTC)


def test_the_status_command_shows_a_line_for_each_backup_kept(tmp_path):
    import os
    import subprocess
    import sys

    from workflow.storage.db import make_engine
    from workflow.services.setup import init

    url = f"sqlite:///{tmp_path / 'casework.db'}"
    engine = make_engine(url)
    init(engine)
    folder = tmp_path / "backups"
    folder.mkdir()
    job = backup_job(engine, folder, files_root=tmp_path / "files", seal_dir=None)
    for day in (3, 4):
        with freeze_time(datetime(2014, 3, day, 1, tzinfo=UTC)):
            job()
    engine.dispose()

    casework = str(Path(sys.executable).with_name("casework"))
    shown = subprocess.run(
        [casework, "--db", url, "status"],
        capture_output=True,
        text=True,
        env={**os.environ, "CASEWORK_DB": url},
        timeout=60,
    )

    lines = [line for line in shown.stdout.splitlines() if line.strip().startswith("kept")]
    assert len(lines) == 2, shown.stdout + shown.stderr
    assert "1am, 4 March 2014" in lines[0] and "casework-20140304T010000.tar.gz" in lines[0]


def test_status_is_stale_where_a_backup_folder_is_set_and_no_backup_was_ever_taken(db, tmp_path):
    sweep_now = datetime(2014, 3, 4, 9, tzinfo=UTC)
    with freeze_time(sweep_now):
        from workflow.runtime.sweep import sweep

        sweep(db)
        asked = status(db, environ={"CASEWORK_BACKUP_DIR": str(tmp_path)})
        not_asked = status(db, environ={})

    assert not asked["ok"] and asked["backup"]["stale"] and asked["backup"]["at"] is None
    assert asked["backup"]["error"] == (
        "none taken yet: `casework serve` takes the first a minute after it starts with "
        "CASEWORK_BACKUP_DIR set (is serve given it too?)"
    )
    assert not_asked["ok"] and "backup" not in not_asked
