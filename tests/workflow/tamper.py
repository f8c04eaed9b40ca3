"""What an attacker with write access to the database does: guards off, hashes recomputed.

Each function works as the database's own administrator could, in SQL, then
recomputes the chain so that the chain alone no longer shows anything.
"""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import text

from workflow.services.chain import Entry, seal as row_hash

GUARDED = ("history", "cases", "seals", "audit_keys", "admin_log")


@contextmanager
def guards_off(engine):
    """A transaction with the append-only triggers and foreign keys out of the way."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in GUARDED:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            # Foreign keys are system triggers: a superuser turns them off this way.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            yield conn
            for table in GUARDED:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        return
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        driver.execute(
            "PRAGMA foreign_keys=OFF"
        )  # as in the sqlite3 shell (only outside a transaction)
        try:
            with conn.begin():
                names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
                for (name,) in list(names):
                    conn.execute(text(f'DROP TRIGGER "{name}"'))
                yield conn
        finally:
            driver.execute("PRAGMA foreign_keys=ON")


def case_id(conn, ref: str) -> int:
    return conn.execute(text("SELECT id FROM cases WHERE ref = :r"), {"r": ref}).scalar_one()


def rechain(conn, ref: str) -> None:
    """Recompute every hash of a case's chain, and its head, from the rows as they now are."""
    cid = case_id(conn, ref)
    rows = (
        conn.execute(text("SELECT * FROM history WHERE case_id = :c ORDER BY seq"), {"c": cid})
        .mappings()
        .all()
    )
    prev, seq = "0" * 64, 0
    for seq, row in enumerate(rows, start=1):
        at = row["at"]
        if isinstance(at, str):
            from datetime import datetime, timezone

            at = datetime.fromisoformat(at)
            at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        payload = row["payload"]
        if isinstance(payload, str):
            import json

            payload = json.loads(payload)
        entry = Entry(
            to_state=row["to_state"],
            trigger=row["trigger"],
            actor=row["actor"],
            role=row["role"],
            at=at,
            from_state=row["from_state"],
            checkpoint=row["checkpoint"],
            reason=row["reason"],
            payload=payload,
            payment=row.get("payment"),
        )
        digest = row_hash(ref, seq, prev, entry)
        conn.execute(
            text("UPDATE history SET seq = :s, prev_hash = :p, hash = :h WHERE id = :i"),
            {"s": seq, "p": prev, "h": digest, "i": row["id"]},
        )
        prev = digest
    conn.execute(
        text("UPDATE cases SET last_seq = :s, last_hash = :h WHERE id = :c"),
        {"s": seq, "h": prev, "c": cid},
    )


def rewrite_row(engine, ref: str, seq: int, actor: str = "mallory") -> None:
    with guards_off(engine) as conn:
        conn.execute(
            text("UPDATE history SET actor = :a WHERE case_id = :c AND seq = :s"),
            {"a": actor, "c": case_id(conn, ref), "s": seq},
        )
        rechain(conn, ref)


def delete_row(engine, ref: str, seq: int) -> None:
    with guards_off(engine) as conn:
        conn.execute(
            text("DELETE FROM history WHERE case_id = :c AND seq = :s"),
            {"c": case_id(conn, ref), "s": seq},
        )
        # Renumber what follows (two steps: (case, seq) is unique), then re-link.
        conn.execute(
            text("UPDATE history SET seq = -seq WHERE case_id = :c AND seq > :s"),
            {"c": case_id(conn, ref), "s": seq},
        )
        conn.execute(
            text("UPDATE history SET seq = -seq - 1 WHERE case_id = :c AND seq < 0"),
            {"c": case_id(conn, ref)},
        )
        rechain(conn, ref)


def insert_row(engine, ref: str, after_seq: int) -> None:
    """A made-up row slipped in after `after_seq` (it gets the next free id), chain re-linked."""
    with guards_off(engine) as conn:
        cid = case_id(conn, ref)
        conn.execute(
            text("UPDATE history SET seq = -seq WHERE case_id = :c AND seq > :s"),
            {"c": cid, "s": after_seq},
        )
        conn.execute(
            text("UPDATE history SET seq = -seq + 1 WHERE case_id = :c AND seq < 0"), {"c": cid}
        )
        conn.execute(
            text(
                "INSERT INTO history (case_id, seq, checkpoint, from_state, to_state, trigger, actor, "
                "role, reason, at, payload, prev_hash, hash) SELECT case_id, :n, checkpoint, "
                "to_state, to_state, 'remind', 'mallory', 'caseworker', 'made up', at, payload, "
                "prev_hash, hash FROM history WHERE case_id = :c AND seq = :s"
            ),
            {"c": cid, "s": after_seq, "n": after_seq + 1},
        )
        rechain(conn, ref)


def replace_row(engine, ref: str, seq: int) -> None:
    """The same id, new content: SQLite's INSERT OR REPLACE, PostgreSQL's delete and insert."""
    with guards_off(engine) as conn:
        cid = case_id(conn, ref)
        row = conn.execute(
            text("SELECT id FROM history WHERE case_id = :c AND seq = :s"), {"c": cid, "s": seq}
        ).scalar_one()
        copy = (
            "SELECT id, case_id, seq, checkpoint, from_state, to_state, trigger, 'mallory', "
            "role, reason, at, payload, prev_hash, hash FROM history WHERE id = :i"
        )
        columns = (
            "(id, case_id, seq, checkpoint, from_state, to_state, trigger, actor, role, "
            "reason, at, payload, prev_hash, hash)"
        )
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"CREATE TEMP TABLE kept AS {copy}"), {"i": row})
            conn.execute(text("DELETE FROM history WHERE id = :i"), {"i": row})
            conn.execute(text(f"INSERT INTO history {columns} SELECT * FROM kept"))
        else:
            conn.execute(text(f"INSERT OR REPLACE INTO history {columns} {copy}"), {"i": row})
        rechain(conn, ref)


def delete_case(engine, ref: str) -> None:
    with guards_off(engine) as conn:
        cid = case_id(conn, ref)
        for table in ("case_orgs", "checkpoints", "ledger", "declarations", "scores"):
            conn.execute(text(f"DELETE FROM {table} WHERE case_id = :c"), {"c": cid})
        conn.execute(text("DELETE FROM cases WHERE id = :c"), {"c": cid})


def edit_seal(engine, number: int, **changes) -> None:
    import json

    with guards_off(engine) as conn:
        statement = json.loads(
            conn.execute(
                text("SELECT statement FROM seals WHERE number = :n"), {"n": number}
            ).scalar_one()
        )
        statement.update(changes)
        conn.execute(
            text("UPDATE seals SET statement = :s WHERE number = :n"),
            {"s": json.dumps(statement, sort_keys=True, separators=(",", ":")), "n": number},
        )


# --- the admin log ---------------------------------------------------------------
def rechain_admin(conn) -> None:
    """Recompute every admin-log hash, and the log's head in `meta`, from the rows as they are."""
    import json
    from datetime import datetime, timezone

    from workflow.services.admin_log import row_hash as admin_hash

    rows = conn.execute(text("SELECT * FROM admin_log ORDER BY id")).mappings().all()
    prev, last = "0" * 64, 0
    for row in rows:
        at = row["at"]
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
            at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        before, after = (
            json.loads(v) if isinstance(v, str) else v for v in (row["before"], row["after"])
        )
        digest = admin_hash(
            row["id"],
            at,
            row["actor"],
            row["role"],
            row["action"],
            row["target"],
            before,
            after,
            prev,
        )
        conn.execute(
            text("UPDATE admin_log SET prev_hash = :p, hash = :h WHERE id = :i"),
            {"p": prev, "h": digest, "i": row["id"]},
        )
        prev, last = digest, row["id"]
    head = json.dumps({"last_id": last, "last_hash": prev})
    cast = "CAST(:v AS JSON)" if conn.dialect.name == "postgresql" else ":v"
    conn.execute(text(f"UPDATE meta SET value = {cast} WHERE key = 'admin_log'"), {"v": head})


def rewrite_admin_row(engine, row_id: int, actor: str = "mallory", *, rechain: bool = True) -> None:
    """Put another name on an admin-log row (and, as an attacker would, recompute the hashes)."""
    with guards_off(engine) as conn:
        conn.execute(
            text("UPDATE admin_log SET actor = :a WHERE id = :i"), {"a": actor, "i": row_id}
        )
        if rechain:
            rechain_admin(conn)
