"""Seals: signed Merkle roots over the whole history (DESIGN section 11).

The hash chain shows a changed row, but whoever can write the database can
recompute every hash after it. A seal is an Ed25519 signature, by a key that
never enters the database, over the RFC 9162 tree hash of every history row's
hash in the order the rows were written (row id): a row rewritten, removed,
replaced or inserted among the sealed ones changes that root.

A seal signs its statement, `{seal, tree_size, root, sealed_at, previous,
key}` as canonical JSON (sorted keys, no spaces); `previous` is the SHA-256 of
the previous seal's statement, so seals form a chain of their own. The first
seal under a new key is also signed by the key before it (`endorsement`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from workflow import clock
from workflow.storage.db import reading
from workflow.errors import ConflictError, SetupError
from workflow.services.chain import moment
from workflow.services.merkle import Frontier, leaf_hash
from workflow.storage.tables import admin_log, audit_keys, history, meta, seals

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
# cryptography (about 40 ms to import) is imported where a key is made, read or used, so
# `audit verify` on a database with no seals, and every other command, goes without it.

KEY_SETTING = "CASEWORK_AUDIT_KEY"
PREVIOUS_KEY_SETTING = "CASEWORK_AUDIT_PREVIOUS_KEY"
DIR_SETTING = "CASEWORK_SEAL_DIR"
STATEMENT_FIELDS = ("seal", "tree_size", "root", "sealed_at", "previous", "key")
# The admin log's own tree (DESIGN section 10), signed beside the history's: in every seal
# made since the admin log existed, absent from those before, so their statements (and
# signatures) are byte for byte what they were.
ADMIN_FIELDS = ("admin_tree_size", "admin_root")
ROWS_PER_SEAL = 10_000  # `serve` seals after this many new rows (and daily)


def rows_text(size: int) -> str:
    """The rows a seal covers, as people read them: `rows 1-48,200`, or `no rows`."""
    return f"rows 1-{size:,}" if size else "no rows"


# --- keys --------------------------------------------------------------------
def public_text(key: Ed25519PublicKey) -> str:
    """A public key as people copy it: base64 of its 32 raw bytes."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_key_from_text(value: str) -> Ed25519PublicKey:
    """A public key from its base64 text; ValueError when it is not one."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(value.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise ValueError(
            f"'{value.strip()[:60]}' is not an Ed25519 public key "
            f"(base64 of 32 bytes, as `audit keygen` prints it)"
        ) from None


def read_public_key(path: Path) -> str:
    """The public key in a file (the line `audit keygen` printed), as its base64 text."""
    try:
        value = path.read_text(encoding="ascii").strip()
    except OSError as err:
        why = (err.strerror or str(err)).lower()
        raise SetupError(f"The public key file {path} cannot be read ({why}).") from None
    except UnicodeDecodeError:
        raise SetupError(
            f"{path} is not a public key file: it should hold the one line of base64 "
            f"that `casework audit keygen` printed."
        ) from None
    try:
        return public_text(public_key_from_text(value))
    except ValueError as err:
        raise SetupError(f"{path}: {err}") from None


def generate(out: Path) -> Ed25519PrivateKey:
    """A new private key written to `out` (mode 0600; an existing file is never overwritten)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SetupError(
            f"{out} already exists; a key is never overwritten (choose another file)"
        ) from None
    except OSError as err:
        raise SetupError(f"{out} cannot be written: {err.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def load_private_key(path: str | Path, setting: str = KEY_SETTING) -> Ed25519PrivateKey:
    path = Path(path)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as err:
        raise SetupError(
            f"{setting}: the key file {path} cannot be read ({err.strerror})."
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SetupError(
            f"{setting}: the key file {path} can be read by others "
            f"(mode {stat.S_IMODE(mode):o}); make it 600 (chmod 600 {path})."
        )
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise SetupError(
            f"{setting}: {path} is not an Ed25519 private key "
            f"(make one with `casework audit keygen --out FILE`)."
        )
    return key


def key_from_env(
    environ: Mapping[str, str] = os.environ, setting: str = KEY_SETTING
) -> Ed25519PrivateKey | None:
    path = environ.get(setting)
    return load_private_key(path, setting) if path else None


def record_key(engine: Engine, key: Ed25519PublicKey) -> None:
    """Keep the public key where `audit verify` finds it when given none."""
    with engine.begin() as conn:
        conn.execute(
            audit_keys.insert().values(public_key=public_text(key), created_at=clock.now())
        )


def recorded_keys(conn: Connection) -> set[str]:
    return set(conn.execute(select(audit_keys.c.public_key)).scalars())


# --- statements ---------------------------------------------------------------
def canonical(statement: Mapping[str, Any]) -> bytes:
    """The bytes a seal's signature covers."""
    fields = STATEMENT_FIELDS + tuple(k for k in ADMIN_FIELDS if k in statement)
    return json.dumps(
        {k: statement[k] for k in fields}, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")


def digest(statement: Mapping[str, Any]) -> str:
    """What the next seal names as its `previous`."""
    return hashlib.sha256(canonical(statement)).hexdigest()


def signature_holds(public_key: str, signature: str | None, statement: Mapping[str, Any]) -> bool:
    from cryptography.exceptions import InvalidSignature

    if not signature:
        return False
    try:
        public_key_from_text(public_key).verify(
            base64.b64decode(signature, validate=True), canonical(statement)
        )
        return True
    except (InvalidSignature, ValueError, binascii.Error, TypeError):
        return False


def _sign(key: Ed25519PrivateKey, statement: Mapping[str, Any]) -> str:
    return base64.b64encode(key.sign(canonical(statement))).decode("ascii")


@dataclass(frozen=True)
class Seal:
    number: int
    statement: dict[str, Any]
    signature: str
    endorsement: str | None = None

    @property
    def tree_size(self) -> int:
        return int(self.statement["tree_size"])

    @property
    def label(self) -> str:
        """How a seal is named to people: `seal 12 (2027-03-01)`."""
        return f"seal {self.number} ({str(self.statement.get('sealed_at', ''))[:10]})"

    def document(self) -> dict[str, Any]:
        """The seal as one JSON object: its statement, signature and endorsement."""
        return {**self.statement, "signature": self.signature, "endorsement": self.endorsement}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> "Seal":
        """A seal from its JSON object; ValueError naming what is missing or malformed."""
        missing = [k for k in (*STATEMENT_FIELDS, "signature") if k not in doc]
        if missing:
            raise ValueError(f"it has no {', '.join(missing)}")
        statement = {k: doc[k] for k in STATEMENT_FIELDS}
        statement.update({k: doc[k] for k in ADMIN_FIELDS if k in doc})
        if not isinstance(statement["seal"], int) or not isinstance(statement["tree_size"], int):
            raise ValueError("its seal number and tree_size must be whole numbers")
        if "admin_tree_size" in statement and not isinstance(statement["admin_tree_size"], int):
            raise ValueError("its admin_tree_size must be a whole number")
        return cls(statement["seal"], statement, doc["signature"], doc.get("endorsement"))


def stored(conn: Connection) -> list[Seal]:
    """Every seal in the database, in order; a statement that is not JSON is left unparsed."""
    out = []
    for row in conn.execute(select(seals).order_by(seals.c.number)):
        try:
            statement = json.loads(row.statement)
        except ValueError:
            statement = {"seal": row.number, "unreadable": row.statement}
        out.append(Seal(row.number, statement, row.signature, row.endorsement))
    return out


def latest(conn: Connection) -> Seal | None:
    row = conn.execute(select(seals).order_by(seals.c.number.desc()).limit(1)).first()
    if row is None:
        return None
    return Seal(row.number, json.loads(row.statement), row.signature, row.endorsement)


# --- the rows' leaves -----------------------------------------------------------
def row_leaf(row_hash: str) -> bytes:
    """The Merkle leaf of a row (or admin log row) with this hash."""
    # A row's hash is 64 hex digits; anything else is hashed as it stands, so it
    # still makes a leaf (one that no longer matches any seal made before).
    try:
        return leaf_hash(bytes.fromhex(row_hash))
    except (ValueError, TypeError):
        return leaf_hash(str(row_hash).encode("utf-8"))


def leaves(conn: Connection, *, upto_id: int | None = None) -> Iterator[bytes]:
    """Every history row's leaf hash in write order, streamed (memory stays flat)."""
    sha = hashlib.sha256
    for _, row_hash in _id_and_hash(conn, upto_id=upto_id):
        try:
            yield sha(b"\x00" + bytes.fromhex(row_hash)).digest()
        except (ValueError, TypeError):
            yield row_leaf(row_hash)


def _id_and_hash(
    conn: Connection,
    *,
    upto_id: int | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> Iterator[Any]:
    """History rows' (id, hash) in write order, streamed: those with an id above `after_id`
    and up to `upto_id`, at most `limit` of them."""
    if conn.dialect.name == "sqlite":
        # Straight from the driver: SQLAlchemy's rows cost twice the hashing over a million rows.
        where = [("id <= ?", upto_id), ("id > ?", after_id)]
        given = [(sql, v) for sql, v in where if v is not None]
        sql = "SELECT id, hash FROM history"
        if given:
            sql += " WHERE " + " AND ".join(w for w, _ in given)
        sql += " ORDER BY id" + (f" LIMIT {int(limit)}" if limit is not None else "")
        driver: Any = conn.connection.driver_connection  # a DB-API connection: untyped
        rows: Iterator[Any] = driver.execute(sql, tuple(v for _, v in given))
        return rows
    q = select(history.c.id, history.c.hash).order_by(history.c.id)
    if upto_id is not None:
        q = q.where(history.c.id <= upto_id)
    if after_id is not None:
        q = q.where(history.c.id > after_id)
    if limit is not None:
        q = q.limit(limit)
    return iter(conn.execution_options(yield_per=20_000).execute(q))


def admin_leaves(conn: Connection, *, upto_id: int | None = None) -> Iterator[bytes]:
    """Every admin-log row's leaf hash in write order (its id): the seals' second tree."""
    from workflow.services.admin_log import hashes

    for row_hash in hashes(conn, upto_id=upto_id):
        yield row_leaf(row_hash)


def _admin_boundary(conn: Connection) -> int:
    """The last admin-log row a seal may cover. Rows are numbered under the log's head
    lock, so one committed later always has a higher id: no lock is needed here."""
    return int(conn.execute(select(func.coalesce(func.max(admin_log.c.id), 0))).scalar_one())


def _boundary(engine: Engine) -> int:
    """The last history row id a seal may cover: every row up to it is committed.

    PostgreSQL hands out ids before commit, so a row with a lower id can become
    visible after one with a higher id. SHARE mode waits for every transaction
    that is writing history to end (and holds new ones back for a moment), so
    no row at or below the id read here can appear later. SQLite writes one
    transaction at a time, so any snapshot is already such a boundary.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE history IN SHARE MODE"))
        boundary: int = conn.execute(select(func.coalesce(func.max(history.c.id), 0))).scalar_one()
        return boundary


def unsealed_rows(engine: Engine) -> int:
    with reading(engine) as conn:
        total = conn.execute(select(func.count()).select_from(history)).scalar_one()
        last = latest(conn)
    return total - (last.tree_size if last else 0)


# --- the sealed tree, kept for proofs ------------------------------------------------
# An inclusion proof needs the tree hashes of subtrees all over the history: worked out from
# the rows, that is the whole history read for one row. So a seal keeps, beside itself in
# `meta`, its tree cut into blocks of 2**BLOCK_HEIGHT rows in write order: each complete
# block's root (with its last row's id), and the rows after the last one (ids and leaves),
# exactly as it hashed them. A proof then reads these and the one block its row is in.
# Nothing here is trusted: a proof built from them is checked against the root the seal
# signed, so a kept tree that was altered fails proofs, and cannot make a changed row pass.
BLOCK_HEIGHT = 8
TREE_KEY = "seal_tree"  # {seal, tree_size, root, height, blocks, tail_ids, tail}
CHUNK_KEY = "seal_tree:{:06d}"  # {height, last_ids, roots}: CHUNK_BLOCKS blocks a row
CHUNK_BLOCKS = 1024


@dataclass
class TreeParts:
    """A tree of history rows cut as proofs read it: the roots of its complete blocks of
    2**height rows and each block's last row id, then the rows after the last block."""

    height: int
    roots: list[bytes]
    last_ids: list[int]
    tail_ids: list[int]
    tail: list[bytes]  # leaves

    @property
    def size(self) -> int:
        return (len(self.roots) << self.height) + len(self.tail)

    @property
    def last_id(self) -> int:
        """The id of the tree's last row (0: an empty tree)."""
        if self.tail_ids:
            return self.tail_ids[-1]
        return self.last_ids[-1] if self.last_ids else 0

    def frontier(self) -> Frontier:
        tree = Frontier()
        for root in self.roots:
            tree.add_subtree(root, self.height)
        for leaf in self.tail:
            tree.add(leaf)
        return tree


def tree_parts(
    conn: Connection, *, upto_id: int | None = None, limit: int | None = None
) -> TreeParts:
    """The history's tree (rows up to `upto_id`, the first `limit`), cut into its parts in
    one pass; each block hashed level by level (as `Frontier.extend`), memory a block."""
    height = BLOCK_HEIGHT
    span, sha = 1 << height, hashlib.sha256
    parts = TreeParts(height, [], [], [], [])
    ids, block = parts.tail_ids, parts.tail
    for row_id, row_hash in _id_and_hash(conn, upto_id=upto_id, limit=limit):
        try:
            block.append(sha(b"\x00" + bytes.fromhex(row_hash)).digest())
        except (ValueError, TypeError):
            block.append(row_leaf(row_hash))
        ids.append(row_id)
        if len(block) == span:
            level = block
            while len(level) > 1:
                level = [
                    sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)
                ]
            parts.roots.append(level[0])
            parts.last_ids.append(int(row_id))
            ids.clear()
            block.clear()
    parts.tail_ids[:] = [int(i) for i in ids]
    return parts


def block_rows(conn: Connection, parts: TreeParts, block: int) -> tuple[list[int], list[bytes]]:
    """The ids and leaves of the rows in a complete block of `parts`, as they are now."""
    after = parts.last_ids[block - 1] if block else None
    rows = list(_id_and_hash(conn, after_id=after, limit=1 << parts.height))
    return [int(r[0]) for r in rows], [row_leaf(r[1]) for r in rows]


def keep_parts(conn: Connection, made: Seal, parts: TreeParts) -> None:
    """Keep the tree `made` signed (its parts) in `meta`, in its transaction: block rows
    already kept as they are stay untouched, so a seal writes what is new."""
    kept = dict(
        conn.execute(select(meta.c.key, meta.c.value).where(meta.c.key.like("seal_tree%"))).all()
    )

    def put(key: str, value: dict[str, Any]) -> None:
        if key not in kept:
            conn.execute(meta.insert().values(key=key, value=value))
        elif kept[key] != value:
            conn.execute(meta.update().where(meta.c.key == key).values(value=value))

    for n, at in enumerate(range(0, len(parts.roots), CHUNK_BLOCKS)):
        put(
            CHUNK_KEY.format(n),
            {
                "height": parts.height,
                "last_ids": parts.last_ids[at : at + CHUNK_BLOCKS],
                "roots": b"".join(parts.roots[at : at + CHUNK_BLOCKS]).hex(),
            },
        )
    put(
        TREE_KEY,
        {
            "seal": made.number,
            "tree_size": made.tree_size,
            "root": made.statement["root"],
            "height": parts.height,
            "blocks": len(parts.roots),
            "tail_ids": parts.tail_ids,
            "tail": b"".join(parts.tail).hex(),
        },
    )


def kept_parts(conn: Connection, newest: Seal) -> TreeParts | None:
    """The parts kept when `newest` was made, or None (seals made before trees were kept,
    or what is kept is not whole: the caller works the tree out from the rows)."""
    head = conn.execute(select(meta.c.value).where(meta.c.key == TREE_KEY)).scalar()
    if not isinstance(head, dict) or head.get("seal") != newest.number:
        return None
    try:
        height, blocks = int(head["height"]), int(head["blocks"])
        chunks = [CHUNK_KEY.format(n) for n in range(-(-blocks // CHUNK_BLOCKS))]
        found = dict(
            conn.execute(select(meta.c.key, meta.c.value).where(meta.c.key.in_(chunks))).all()
        )
        roots_hex = "".join(str(found[k]["roots"]) for k in chunks)
        last_ids = [int(i) for k in chunks for i in found[k]["last_ids"]]
        tail = bytes.fromhex(str(head["tail"]))
        parts = TreeParts(
            height,
            [bytes.fromhex(roots_hex[i : i + 64]) for i in range(0, len(roots_hex), 64)],
            last_ids,
            [int(i) for i in head["tail_ids"]],
            [tail[i : i + 32] for i in range(0, len(tail), 32)],
        )
        if any(found[k].get("height") != height for k in chunks):
            return None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    whole = len(parts.roots) == len(parts.last_ids) == blocks
    if not whole or len(parts.tail) != len(parts.tail_ids) or parts.size != newest.tree_size:
        return None
    return parts


# --- sealing --------------------------------------------------------------------
def seal(
    engine: Engine,
    key: Ed25519PrivateKey,
    *,
    previous_key: Ed25519PrivateKey | None = None,
    now: datetime | None = None,
) -> Seal:
    """Seal every history row written so far; the new seal is stored and returned.

    The tree is built outside the write transaction (a million rows take
    seconds), then the seal is added only if no other seal was made meanwhile.
    """
    upto = _boundary(engine)
    admin_tree = Frontier()
    with reading(engine) as conn:
        parts = tree_parts(conn, upto_id=upto)
        admin_tree.extend(admin_leaves(conn, upto_id=_admin_boundary(conn)))
    tree = parts.frontier()
    with engine.begin() as conn:
        last = latest(conn)
        if last is not None and last.tree_size > tree.size:
            raise ConflictError(
                "history", "another seal covering more rows was made meanwhile; nothing was sealed"
            )
        statement: dict[str, Any] = {
            "seal": (last.number + 1) if last else 1,
            "tree_size": tree.size,
            "root": tree.root().hex(),
            "sealed_at": moment(now or clock.now()),
            "previous": digest(last.statement) if last else None,
            "key": public_text(key.public_key()),
            "admin_tree_size": admin_tree.size,
            "admin_root": admin_tree.root().hex(),
        }
        endorsement = _endorsement(last, statement, previous_key)
        made = Seal(statement["seal"], statement, _sign(key, statement), endorsement)
        try:
            conn.execute(
                seals.insert().values(
                    number=made.number,
                    statement=canonical(statement).decode("utf-8"),
                    signature=made.signature,
                    endorsement=endorsement,
                )
            )
        except IntegrityError:
            raise ConflictError(
                "history", "another seal was made at the same moment; nothing was sealed"
            ) from None
        keep_parts(conn, made, parts)
    return made


def _endorsement(
    last: Seal | None, statement: dict[str, Any], previous_key: Ed25519PrivateKey | None
) -> str | None:
    """The old key's signature on a new key's first seal; refused without the old key."""
    if last is None or last.statement.get("key") == statement["key"]:
        return None
    if previous_key is None or public_text(previous_key.public_key()) != last.statement.get("key"):
        raise SetupError(
            f"{last.label} was signed by key {last.statement.get('key')}; this is a new key, "
            f"so its first seal must be signed by the old one too: give the old key with "
            f"--previous-key FILE (or {PREVIOUS_KEY_SETTING}). Nothing was sealed."
        )
    return _sign(previous_key, statement)


def write_copy(made: Seal, directory: str | Path) -> Path:
    """The seal as one JSON file in `directory`, for copying off the server."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"seal-{made.number:06d}.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(
        json.dumps(made.document(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    os.replace(partial, path)  # never a half-written copy under the final name
    return path


def read_copies(directory: str | Path) -> tuple[list[Seal], list[str]]:
    """The seals kept in `directory`, and a line for each file that is not one."""
    found, problems = [], []
    for path in sorted(Path(directory).glob("seal-*.json")):
        try:
            found.append(Seal.from_document(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, AttributeError, TypeError) as err:
            problems.append(f"{path.name}: not a seal ({err})")
    return found, problems


def seal_and_copy(
    engine: Engine,
    key: Ed25519PrivateKey,
    *,
    previous_key: Ed25519PrivateKey | None = None,
    environ: Mapping[str, str] = os.environ,
) -> tuple[Seal, Path | None]:
    made = seal(engine, key, previous_key=previous_key)
    directory = seal_dir(environ)
    return made, (write_copy(made, directory) if directory else None)


def seal_dir(environ: Mapping[str, str] = os.environ) -> Path | None:
    """Where the seals' copies are kept (CASEWORK_SEAL_DIR), or None when it is not set."""
    configured = environ.get(DIR_SETTING, "").strip()
    return Path(configured) if configured else None
