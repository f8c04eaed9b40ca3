"""Fixtures: real databases (SQLite always, PostgreSQL when reachable) and a frozen clock.

SQLite databases are copied from a template migrated once per run; PostgreSQL
ones are cloned from a template database once and put back as it is between tests
(tests/pg_databases.py), so each test starts from a fresh, fully migrated schema
with the bundled programmes loaded.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from workflow.storage.db import make_engine, resolve_url
from workflow.services.setup import init

PG_URL = os.environ.get("CASEWORK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_configure(config):
    """Subprocesses (`casework` commands, servers, workers: hundreds a run) share one bytecode
    cache for the run. With PYTHONDONTWRITEBYTECODE set (as on the shared development machine)
    each would compile every module of the project again, 0.13 s of CPU a command; given a
    cache in a folder of its own (PYTHONPYCACHEPREFIX, as bench/startup.py does), the first
    compiles and the rest read. Nothing is written beside the sources."""
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and not os.environ.get("PYTHONPYCACHEPREFIX"):
        import tempfile

        folder = tempfile.mkdtemp(prefix="casework-pycache-")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        del os.environ["PYTHONDONTWRITEBYTECODE"]
        os.environ["PYTHONPYCACHEPREFIX"] = folder


def _pg_admin():
    return create_engine(resolve_url(PG_URL), isolation_level="AUTOCOMMIT")


def _pg_reason() -> str | None:
    try:
        with _pg_admin().connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as err:  # any failure to connect means: skip, saying why
        return (
            f"PostgreSQL not reachable at {PG_URL} ({type(err).__name__}); "
            f"set CASEWORK_TEST_POSTGRES to run these tests"
        )


PG_UNAVAILABLE = _pg_reason()


def pg_url_for(name: str) -> str:
    base = resolve_url(PG_URL)
    return base.rsplit("/", 1)[0] + "/" + name


def _one_file(path) -> None:
    """Move a SQLite database's write-ahead log into the file, so copying the file copies it all."""
    raw = sqlite3.connect(path, isolation_level=None)
    busy, _, _ = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    raw.close()
    assert busy == 0, "the template's log could not be copied into it"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    init(engine)
    engine.dispose()
    _one_file(path)
    return path


class BuiltOnce:
    """Databases that a builder filled once a run, from the migrated template, for tests to copy
    and change as they like: for scenes that take seconds to build through the services and that
    many tests start from. The same name gives the same database: say in the name what was
    built (and build it from the same fixtures each time: on PostgreSQL the first build's rows
    are what later tests get, whatever their database held before)."""

    def __init__(self, template, folder):
        self.template, self.folder = template, folder
        self.made: dict[str, tuple[object, object]] = {}
        self.made_postgresql: dict[str, tuple[object, object]] = {}

    def path(self, name: str, build):
        """The file `build(engine)` filled (built at the first asking)."""
        return self._made(name, build)[0]

    def into(self, engine, name: str, build):
        """What `build(engine)` returned, with `engine`'s fresh database as it left it: a copy
        on SQLite; on PostgreSQL built in the first test's database, then its rows and
        sequences put in each later test's (tests/pg_databases.py)."""
        if engine.dialect.name != "sqlite":
            return self._into_postgresql(engine, name, build)
        path, result = self._made(name, build)
        copy_into(engine, path)
        return result

    def _into_postgresql(self, engine, name: str, build):
        databases = getattr(engine, "test_databases", None)
        if databases is None:  # not a pg_db database: build it there
            return build(engine)
        if name in self.made_postgresql:
            contents, result = self.made_postgresql[name]
            if databases.put(engine.test_database, contents):
                return result
            return build(engine)  # the test changed more than rows: build it there
        result = build(engine)
        self.made_postgresql[name] = (databases.contents(engine.test_database), result)
        return result

    def _made(self, name: str, build) -> tuple[object, object]:
        if name not in self.made:
            path = self.folder / f"{name}.db"
            shutil.copy(self.template, path)
            engine = make_engine(f"sqlite:///{path}")
            result = build(engine)
            engine.dispose()
            _one_file(path)
            self.made[name] = (path, result)
        return self.made[name]


@pytest.fixture(scope="session")
def built_once(sqlite_template, tmp_path_factory) -> BuiltOnce:
    return BuiltOnce(sqlite_template, tmp_path_factory.mktemp("built"))


class DemoOnce:
    """The small demo year (seed 2013) played once a run, copied whole (its database, mail and
    folder) for each module that reads it or changes it: the report's tests and every page's."""

    def __init__(self, folder):
        self.folder = folder
        self.played = None

    def copy(self, into):
        """A DemoResult as `run_demo(into, seed=2013, size="small", live=False)` returns it."""
        import dataclasses

        from demo import run_demo

        if self.played is None:
            self.played = run_demo(self.folder / "demo", seed=2013, size="small", live=False)
        shutil.copytree(self.played.out, into)
        return dataclasses.replace(
            self.played, out=into, db_url=f"sqlite:///{into / 'casework.db'}"
        )


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> DemoOnce:
    return DemoOnce(tmp_path_factory.mktemp("small-demo"))


def copy_into(engine, path) -> None:
    """Make the fresh SQLite database behind `engine` a copy of the one at `path` (SQLite's
    online backup, through the engine's own connection: nothing of the engine's is replaced)."""
    source = sqlite3.connect(path)
    try:
        with engine.connect() as conn:
            driver = conn.connection.driver_connection
            source.backup(driver)
            # The copy is written to the log; into the file with it, as a copied file would be.
            # The engine's own checkpointing thread (storage/wal.py) may be at it too: then again.
            for _ in range(500):
                busy, _, _ = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    break
                time.sleep(0.01)
            assert busy == 0, "the copy's log could not be moved into its file"
    finally:
        source.close()


@pytest.fixture(scope="session")
def pg_template():
    if PG_UNAVAILABLE:
        pytest.skip(PG_UNAVAILABLE)
    name = f"cw_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(pg_url_for(name))
    init(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_db(sqlite_template, tmp_path):
    path = tmp_path / "casework.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    engine.test_url = f"sqlite:///{path}"
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_databases(pg_template):
    from tests.pg_databases import PgDatabases

    databases = PgDatabases(_pg_admin(), pg_url_for, pg_template)
    yield databases
    databases.close()


@pytest.fixture
def pg_db(pg_databases):
    """A PostgreSQL database as the migrated template is (a clone, or one reset to it)."""
    name = pg_databases.take()
    engine = make_engine(pg_url_for(name))
    engine.test_url = pg_url_for(name)
    engine.test_databases, engine.test_database = pg_databases, name
    yield engine
    engine.dispose()
    pg_databases.give_back(name)


@pytest.fixture
def db(sqlite_db):
    """The embedded default: a fresh SQLite database."""
    return sqlite_db


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db(request):
    """The same test on SQLite and, when reachable, on PostgreSQL."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


@pytest.fixture
def world(db):
    from tests.builders import World

    return World(db)


@pytest.fixture
def any_world(any_db):
    from tests.builders import World

    return World(any_db)


# --- Two processes: scripts/test.sh runs `pytest -n 2 --dist loadfile` (pytest-xdist) --------
# Each file runs whole in one worker (its module fixtures built once), and each worker has its
# own session fixtures: a SQLite template, PostgreSQL databases named after its pid, its own
# small demo year. The two files that read the demo year are one unit, so it is played once.
# The files that take longest start first, so the two workers finish together rather than one
# waiting for the other's last long file (xdist would otherwise start the files with the most
# tests first). A file missing from SLOW_FIRST only starts later; nothing else depends on it.
SHARED_DEMO = ("tests/demo/test_report.py", "tests/web/test_every_page.py")
SLOW_FIRST = (  # the longest files of a run on 2026-12-06, longest first
    "tests/notifications/test_delivery_faults.py",
    SHARED_DEMO[0],
    "tests/cli/test_tca_round.py",
    "tests/workflow/test_backup.py",
    "tests/cli/test_db_faults.py",
    "tests/workflow/test_payment_properties.py",
    "tests/cli/test_admin_cli.py",
    "tests/cli/test_notify_cli.py",
    "tests/demo/test_demo_edges.py",
    "tests/web/test_browser.py",
    "tests/cli/test_read_as.py",
    "tests/demo/test_demo.py",
    "tests/workflow/test_sweep_concurrency.py",
    "tests/web/test_browser_apply.py",
    "tests/cli/test_agreement_cli.py",
    "tests/web/test_agreement_browser.py",
    "tests/web/test_serve.py",
    "tests/web/test_browser_forms.py",
    "tests/web/test_browser_admin.py",
)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's, absent under -p no:xdist
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SlowFilesFirst(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return SHARED_DEMO[0] if path in SHARED_DEMO else path

        def _assign_work_unit(self, node) -> None:
            for scope in SLOW_FIRST:
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
                    break
            super()._assign_work_unit(node)

    return SlowFilesFirst(config, log)


# --- Wall time per test, opt in: CASEWORK_TEST_TIMES=path ----------------------------------
# pytest's own durations read time.perf_counter, which freezegun replaces (a frozen test's
# setup "takes" 1.4 billion seconds). CLOCK_MONOTONIC read through clock_gettime is not
# patched by freezegun nor by workflow.clock.simulate (tests/test_wall_times.py checks it).
# Each line of the file: seconds (setup + call + teardown), then the test's node id; a
# fixture's setup is also written as "fixture <scope> <name>" lines. scripts/test_times.py
# sums them by module and by fixture.


def _wall() -> float:
    import time

    return time.clock_gettime(time.CLOCK_MONOTONIC)


_TIMES = os.environ.get("CASEWORK_TEST_TIMES")


if _TIMES:
    _times_file = open(_TIMES, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (whole run)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item, nextitem):
        started = _wall()
        yield
        _times_file.write(f"{_wall() - started:.4f}\t{item.nodeid}\n")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(fixturedef, request):
        started = _wall()
        yield
        _times_file.write(
            f"{_wall() - started:.4f}\tfixture {fixturedef.scope} "
            f"{fixturedef.argname}\t{request.node.nodeid}\n"
        )
