"""PostgreSQL databases for tests: each test gets a database that is, row for row and object for
object, the migrated template, without paying for a new database each time.

`CREATE DATABASE ... TEMPLATE` and `DROP DATABASE` cost 0.3 s a test on a quiet machine and a
second or more on a busy one (both wait on the disk). So a database a test has finished with is
kept and, before the next test takes it, put back as the template left it:

- every other session on it is ended (a test's stray connection cannot write into the next);
- its catalogue is compared with the template's (tables, columns, triggers and whether they are
  enabled, constraints, indexes, functions, schemas, types, owners and grants, settings): a test
  that changed any of that (dropped a trigger, downgraded a migration) leaves a database that is
  dropped, and the next test gets a new clone;
- otherwise its rows are deleted, the template's rows copied back in (COPY, byte for byte), and
  every sequence set where the template's stands.

Rows are deleted with `session_replication_role = replica`, which holds back the triggers that
refuse deleting history (and the foreign keys' checks) for that one transaction only. Where the
test server's user may not set it (not a superuser), every test gets a new clone, as before.
"""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass

import psycopg
from sqlalchemy import text

# Every object a test could change outside its rows, in the database's own schemas (not the
# system's, nor the temporary schemas sessions leave behind). Object ids are never reused soon,
# so a dropped and re-created trigger differs from the one the template has.
_USER_NAMESPACES = "SELECT oid FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"
_IN_USER = f"IN (SELECT oid FROM pg_class WHERE relnamespace IN ({_USER_NAMESPACES}))"
_CATALOGUE = f"""
SELECT md5(string_agg(line, E'\\n' ORDER BY line)) FROM (
    SELECT concat_ws(' ', 'namespace', oid, nspname, nspowner, nspacl) AS line
        FROM pg_namespace WHERE oid IN ({_USER_NAMESPACES})
    UNION ALL SELECT concat_ws(' ', 'class', oid, relname, relkind, relowner, relacl,
        relrowsecurity, relhastriggers, reloptions)
        FROM pg_class WHERE relnamespace IN ({_USER_NAMESPACES})
    UNION ALL SELECT concat_ws(' ', 'column', attrelid, attnum, attname, atttypid, atttypmod,
        attnotnull, atthasdef, attisdropped, attidentity, attgenerated, attacl)
        FROM pg_attribute WHERE attrelid {_IN_USER}
    UNION ALL SELECT concat_ws(' ', 'default', oid, adrelid, adnum) FROM pg_attrdef
    UNION ALL SELECT concat_ws(' ', 'trigger', oid, tgrelid, tgname, tgenabled) FROM pg_trigger
    UNION ALL SELECT concat_ws(' ', 'constraint', oid, conname, convalidated)
        FROM pg_constraint WHERE connamespace IN ({_USER_NAMESPACES})
    UNION ALL SELECT concat_ws(' ', 'index', indexrelid, indisvalid) FROM pg_index
        WHERE indrelid {_IN_USER}
    UNION ALL SELECT concat_ws(' ', 'function', oid, proname, md5(prosrc), proowner, proacl)
        FROM pg_proc WHERE pronamespace IN ({_USER_NAMESPACES})
    UNION ALL SELECT concat_ws(' ', 'type', oid, typname) FROM pg_type
        WHERE typnamespace IN ({_USER_NAMESPACES})
    UNION ALL SELECT concat_ws(' ', 'enum', oid, enumlabel) FROM pg_enum
    UNION ALL SELECT concat_ws(' ', 'rule', oid, rulename, ev_enabled) FROM pg_rewrite
        WHERE ev_class {_IN_USER}
    UNION ALL SELECT concat_ws(' ', 'policy', oid) FROM pg_policy
    UNION ALL SELECT concat_ws(' ', 'extension', oid, extversion) FROM pg_extension
    UNION ALL SELECT concat_ws(' ', 'event trigger', oid, evtenabled) FROM pg_event_trigger
    UNION ALL SELECT concat_ws(' ', 'publication', oid) FROM pg_publication
    UNION ALL SELECT concat_ws(' ', 'large object', oid) FROM pg_largeobject_metadata
    UNION ALL SELECT concat_ws(' ', 'setting', setrole, setconfig) FROM pg_db_role_setting
        WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
    UNION ALL SELECT concat_ws(' ', 'database', datdba, datacl, datallowconn, datconnlimit)
        FROM pg_database WHERE datname = current_database()
) AS catalogue
"""
_TABLES = f"""
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.oid IN ({_USER_NAMESPACES}) ORDER BY 1
"""
_SEQUENCES = f"""
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND n.oid IN ({_USER_NAMESPACES}) ORDER BY 1
"""


@dataclass(frozen=True)
class Contents:
    """A database's rows (each table as COPY writes it) and where each sequence stands."""

    rows: dict[str, bytes]
    sequences: list[tuple[str, int, bool]]


class PgDatabases:
    """Clones of `template` handed to tests one at a time, reset between them (see above)."""

    def __init__(self, admin, url_for, template: str):
        self.admin, self.url_for, self.template = admin, url_for, template
        self.free: list[str] = []
        self.made: set[str] = set()
        run = f"cw_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._names = (f"{run}_{n}" for n in itertools.count())
        self.resets = self.clones = 0
        self.not_reset: list[str] = []  # why a database was dropped rather than reset
        with self._connect(template) as conn:
            self.catalogue = conn.execute(_CATALOGUE).fetchone()[0]
            self.tables = [t for (t,) in conn.execute(_TABLES)]
            self.sequence_names = [s for (s,) in conn.execute(_SEQUENCES)]
            try:
                with conn.transaction():
                    conn.execute("SET LOCAL session_replication_role = replica")
                self.may_reset = True
            except psycopg.errors.InsufficientPrivilege:
                self.may_reset = False
        self.initial = self.contents(template)

    def _connect(self, name: str) -> psycopg.Connection:
        url = self.url_for(name).replace("postgresql+psycopg://", "postgresql://", 1)
        return psycopg.connect(url, autocommit=True)

    def contents(self, name: str) -> Contents:
        """What `name` holds now (its tables and sequences are the template's)."""
        rows: dict[str, bytes] = {}
        with self._connect(name) as conn:
            for table in self.tables:
                with conn.cursor().copy(f"COPY {table} TO STDOUT") as copy:
                    data = b"".join(bytes(block) for block in copy)
                if data:
                    rows[table] = data
            sequences = [
                (seq, *conn.execute(f"SELECT last_value, is_called FROM {seq}").fetchone())
                for seq in self.sequence_names
            ]
        return Contents(rows, sequences)

    def take(self) -> str:
        """A database as the template is, for one test."""
        while self.free:
            name = self.free.pop()
            if self._reset(name):
                self.resets += 1
                return name
            self._drop(name)
        name = next(self._names)
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        self.made.add(name)
        self.clones += 1
        return name

    def give_back(self, name: str) -> None:
        """The test is done with it: reset before the next test takes it, else dropped."""
        if self.may_reset:
            self.free.append(name)
        else:
            self._drop(name)

    def close(self) -> None:
        for name in list(self.made):
            self._drop(name)

    def _drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.made.discard(name)
        if name in self.free:
            self.free.remove(name)

    def _reset(self, name: str) -> bool:
        """Put `name` back as the template is; False when only a new clone will do."""
        others = text(
            "SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
        )
        with self.admin.connect() as conn:
            for _ in range(20):  # a session just closed may still be on its way out
                pids = conn.execute(others, {"name": name}).scalars().all()
                if not pids:
                    break
                for pid in pids:  # waits up to 1 s for each to end
                    conn.execute(text("SELECT pg_terminate_backend(:pid, 1000)"), {"pid": pid})
            left = len(pids)
            prepared = conn.execute(
                text("SELECT count(*) FROM pg_prepared_xacts WHERE database = :name"),
                {"name": name},
            ).scalar()
        if left or prepared:
            self.not_reset.append(f"{left} sessions would not end, {prepared} prepared")
            return False
        return self.put(name, self.initial)

    def put(self, name: str, contents: Contents) -> bool:
        """Make `name`'s rows and sequences `contents`, and nothing else; False (and nothing
        done) when its catalogue is not the template's."""
        if not self.may_reset:
            return False
        with self._connect(name) as conn:
            if conn.execute(_CATALOGUE).fetchone()[0] != self.catalogue:
                self.not_reset.append("catalogue changed")
                return False
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")
                conn.execute("; ".join(f"DELETE FROM {table}" for table in self.tables))
                for table, data in contents.rows.items():
                    with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                        copy.write(data)
                for seq, last_value, is_called in contents.sequences:
                    conn.execute("SELECT setval(%s, %s, %s)", (seq, last_value, is_called))
        return True
