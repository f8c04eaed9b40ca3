"""A backup restored into a database `init` made: the admin log's rows are the archive's."""

from __future__ import annotations

from tests.workflow.test_backup import empty_target, run  # noqa: F401, F811 - a fixture
from workflow.services import admin_log
from workflow.services.setup import init
from workflow.storage.db import make_engine, reading


def test_a_restore_replaces_the_rows_init_wrote_to_the_admin_log(
    any_world,
    any_db,
    empty_target,  # noqa: F811
    tmp_path,
):
    any_world.cast()
    (tmp_path / "restored").mkdir()
    archive = tmp_path / "backup.tar.gz"
    assert run("--db", any_db.test_url, "backup", str(archive)).returncode == 0
    target = make_engine(empty_target)
    init(target)  # its programme loads: rows of its own admin log
    target.dispose()

    done = run("restore", str(archive), "--db", empty_target)

    assert done.returncode == 0, done.stderr
    target = make_engine(empty_target)
    try:
        with reading(target) as conn, reading(any_db) as original:
            assert admin_log.rows(conn) == admin_log.rows(original)
            assert admin_log.verify(conn).problems == []
    finally:
        target.dispose()
    refused = run("--db", empty_target, "audit", "verify")
    assert refused.returncode == 0, refused.stdout
