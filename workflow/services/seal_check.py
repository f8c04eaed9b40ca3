"""Checking seals against the history as it is now, and proving one row is sealed.

`check` reads every seal (the database's, and the copies kept elsewhere),
checks the seals' own chain and signatures, then streams the history once,
comparing the tree hash of the first `tree_size` rows with each seal's root.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from workflow.errors import CaseNotFound, CaseworkError, Refused
from workflow.services.chain import as_dict, head_of, seal as row_hash
from workflow.services.merkle import (
    EMPTY_ROOT,
    Frontier,
    split,
    node_hash,
    path_ranges,
    root_from_path,
    root_of,
)
from workflow.storage.tables import history
from workflow.services.seals import (
    Seal,
    TreeParts,
    block_rows,
    kept_parts,
    row_leaf,
    tree_parts,
    admin_leaves,
    digest,
    latest,
    leaves,
    read_copies,
    recorded_keys,
    rows_text,
    signature_holds,
    stored,
)


# What a root that no longer matches means, said for an auditor: the rows are counted
# in the order they were written (every case's together), not by a case's own numbers.
CHANGED = (
    " what the seal signed: one or more of these rows (counted in the order written, "
    "all cases together) was changed, removed or inserted after it was signed"
)


@dataclass
class SealReport:
    checked: int = 0
    sealed_rows: int = 0  # rows covered by the newest seal
    problems: list[str] = field(default_factory=list)
    # (seal's label, first row, last row): history rows, counted in the order written from 1,
    # among which one or more is not what that seal signed.
    unmatched: list[tuple[str, int, int]] = field(default_factory=list)


def check(
    conn: Connection, *, trusted: set[str] | None = None, copies: Path | None = None
) -> SealReport:
    """Every seal, its signatures and its root against the rows; each problem named."""
    report = SealReport()
    chain = _gather(stored(conn), copies, report)
    if not chain:
        return report
    keys = trusted if trusted is not None else recorded_keys(conn)
    if not keys:
        report.problems.append(
            "seals cannot be checked without a public key: none was recorded "
            "by `audit keygen`; give one with --public-key FILE"
        )
        return report
    readable = _check_chain(chain, keys, report)
    _check_roots(conn, readable, report)
    _check_admin_roots(conn, readable, report)
    report.checked = len(chain)
    report.sealed_rows = max((s.tree_size for s in readable), default=0)
    return report


def _gather(in_db: list[Seal], copies: Path | None, report: SealReport) -> list[Seal]:
    """The seals to check: the database's, plus copies the database no longer has."""
    by_number = {s.number: s for s in in_db}
    if copies is not None:
        kept, unreadable = read_copies(copies)
        report.problems += unreadable
        for copy in kept:
            mine = by_number.get(copy.number)
            if mine is None:
                report.problems.append(
                    f"{copy.label}: kept in {copies} but missing from the database"
                )
                by_number[copy.number] = copy
            elif mine.document() != copy.document():
                report.problems.append(
                    f"{copy.label}: the database's differs from the copy kept in {copies}"
                )
    return [by_number[n] for n in sorted(by_number)]


def _check_chain(chain: list[Seal], keys: set[str], report: SealReport) -> list[Seal]:
    """Numbers, links, signatures and key changes; returns the seals whose root can be checked."""
    readable, before = [], None
    for s in chain:
        st = s.statement
        if "unreadable" in st or st.get("seal") != s.number:
            report.problems.append(
                f"seal {s.number}: its statement has been altered (not readable)"
            )
            before = None
            continue
        expected = before.number + 1 if before else 1
        if s.number != expected:
            report.problems.append(
                f"seal {expected}: missing (seal {s.number} follows seal {expected - 1})"
            )
        elif st["previous"] != (digest(before.statement) if before else None):
            report.problems.append(
                f"{s.label}: does not follow seal {s.number - 1} (its 'previous' does not match)"
            )
        if not signature_holds(st["key"], s.signature, st):
            report.problems.append(
                f"{s.label}: its signature does not hold (edited, or not signed by key {st['key']})"
            )
        elif (
            before is not None
            and before.statement["key"] != st["key"]
            and not signature_holds(before.statement["key"], s.endorsement, st)
        ):
            report.problems.append(
                f"{s.label}: signed by a new key that the previous key "
                f"did not endorse ({st['key']})"
            )
        readable.append(s)
        before = s
    if not any(s.statement.get("key") in keys for s in readable):
        report.problems.append(
            "no seal is signed by a trusted key (" + ", ".join(sorted(keys)) + ")"
        )
    return readable


def _check_roots(conn: Connection, chain: list[Seal], report: SealReport) -> None:
    """One pass over the rows: the tree hash at each seal's size against its root."""
    wanted = sorted({s.tree_size for s in chain})
    roots: dict[int, str] = {}
    tree, rows = Frontier(), leaves(conn)
    for size in wanted:
        tree.extend(islice(rows, size - tree.size))
        if tree.size < size:
            break  # fewer rows than this seal covered
        roots[size] = tree.root().hex()
    good_up_to = 0  # the rows an earlier, matching seal shows unchanged
    for s in sorted(chain, key=lambda s: s.tree_size):
        size = s.tree_size
        if roots.get(size) == s.statement["root"]:
            good_up_to = max(good_up_to, size)
            continue
        first = good_up_to + 1 if good_up_to < size else 1
        gone = "" if size in roots else f" (only {tree.size:,} rows are left)"
        report.problems.append(f"{s.label}: rows {first:,}-{size:,} no longer match{CHANGED}{gone}")
        report.unmatched.append((s.label, first, size))


@dataclass(frozen=True)
class CaseUnmatched:
    """A seal that no longer matches a stretch of history holding some of one case's rows."""

    seal: str  # its label: `seal 2 (2027-03-01)`
    first: int  # the stretch of history, counted in the order written
    last: int
    seqs: tuple[int, ...]  # the case's rows (their numbers in its chain) in that stretch


def unmatched_for_case(conn: Connection, report: SealReport, case_id: int) -> list[CaseUnmatched]:
    """The seals `check` found no longer matching that cover rows of case `case_id`, each
    with those rows. A seal's root says only that some row of its stretch changed, not which:
    a case's rows may be the changed ones or sit beside them, and its own chain may hold (a
    row rewritten with every hash after it recomputed)."""
    out = []
    for label, first, last in report.unmatched:
        ids = select(history.c.id).order_by(history.c.id)
        low = conn.execute(ids.offset(first - 1).limit(1)).scalar()
        if low is None:
            continue
        high = conn.execute(ids.offset(last - 1).limit(1)).scalar()
        q = select(history.c.seq).where(history.c.case_id == case_id, history.c.id >= low)
        if high is not None:
            q = q.where(history.c.id <= high)
        seqs = tuple(int(n) for n in conn.execute(q.order_by(history.c.seq)).scalars())
        if seqs:
            out.append(CaseUnmatched(label, first, last, seqs))
    return out


def _check_admin_roots(conn: Connection, chain: list[Seal], report: SealReport) -> None:
    """The admin log's tree at each seal's `admin_tree_size` against its `admin_root`
    (seals made before the admin log existed have neither, and are not asked)."""
    with_admin = sorted(
        (s for s in chain if isinstance(s.statement.get("admin_tree_size"), int)),
        key=lambda s: s.statement["admin_tree_size"],
    )
    if not with_admin:
        return
    roots: dict[int, str] = {}
    tree, rows = Frontier(), admin_leaves(conn)
    for size in sorted({s.statement["admin_tree_size"] for s in with_admin}):
        tree.extend(islice(rows, size - tree.size))
        if tree.size < size:
            break
        roots[size] = tree.root().hex()
    good_up_to = 0
    for s in with_admin:
        size = s.statement["admin_tree_size"]
        if roots.get(size) == s.statement.get("admin_root"):
            good_up_to = max(good_up_to, size)
            continue
        first = good_up_to + 1 if good_up_to < size else 1
        gone = "" if size in roots else f" (only {tree.size:,} rows are left)"
        report.problems.append(
            f"{s.label}: admin log rows {first:,}-{size:,} no longer match{CHANGED}{gone}"
        )


# --- proofs -----------------------------------------------------------------------
class NotSealed(Refused):
    pass


def proof(conn: Connection, ref: str, seq: int) -> dict[str, Any]:
    """A history row, the newest seal covering it and its inclusion path (DESIGN section 11)."""
    head = head_of(conn, ref)
    if head is None:
        raise CaseNotFound(ref)
    row = conn.execute(
        select(history).where(history.c.case_id == head.case_id, history.c.seq == seq)
    ).first()
    if row is None:
        raise CaseworkError(f"{ref} has no history row {seq} (its rows are 1-{head.last_seq}).")
    newest = latest(conn)
    tree = sealed_tree(conn, newest) if newest is not None else None
    if tree is not None:
        last = tree.last_id
    else:  # nothing sealed, or its tree cannot be had (the rows it covers changed)
        last = _last_sealed_id(conn, newest) if newest is not None else 0
    if newest is None or row.id > last:
        covered = (
            f"the latest seal covers {rows_text(newest.tree_size)}"
            if newest
            else "nothing is sealed yet"
        )
        raise NotSealed(
            f"{ref} row {seq} is not sealed yet ({covered}); run `casework audit seal` first."
        )
    index = tree.index_of(conn, row.id) if tree is not None else None
    path = tree.path(conn, index) if tree is not None and index is not None else []
    unproved = why_unproved(ref, row, index, newest, path)
    if unproved == ALTERED:
        raise NotSealed(
            f"{ref} row {seq} has been changed since it was written: what it says no "
            f"longer matches its hash, so it is not the row {newest.label} signed "
            f"(`casework audit verify` names every row and seal affected)."
        )
    if unproved == OFF_PATH:
        raise NotSealed(
            f"{ref} row {seq} cannot be proved against {newest.label}: the rows it "
            f"signed were changed after it (a row rewritten, removed or inserted and the "
            f"hashes recomputed), so its path no longer leads to the root it signed "
            f"(`casework audit verify` names the rows that no longer match)."
        )
    return {
        "row": as_dict(row, ref),
        "leaf_index": index,
        "tree_size": newest.tree_size,
        "seal": newest.document(),
        "inclusion_path": [p.hex() for p in path],
    }


ALTERED = "altered"  # what the row says no longer matches its own hash
OFF_PATH = "off_path"  # its inclusion path does not lead to the root the seal signed


def why_unproved(
    ref: str, row: Any, index: int | None, newest: Seal, path: list[bytes]
) -> str | None:
    """Why a sealed row cannot be proved to be what `newest` signed (ALTERED, OFF_PATH), or
    None when its inclusion path leads to the signed root: what an auditor checks with the
    public key alone, so a proof that would fail their check is never handed over."""
    if row_hash(ref, row.seq, row.prev_hash, row) != row.hash:
        return ALTERED
    root = (
        root_from_path(index, newest.tree_size, row_leaf(row.hash), path)
        if index is not None
        else None
    )
    if root is None or root.hex() != newest.statement.get("root"):
        return OFF_PATH
    return None


# --- the newest seal's tree, for proofs --------------------------------------------
class SealedTree:
    """The tree the newest seal signed, as proofs read it: the parts kept when it was made
    (`seals.keep_parts`) or worked out from the rows, the subtrees' hashes worked out once
    and remembered, and a row's block read when a proof needs it. A proof is only ever
    believed once its path leads to the signed root (`why_unproved`)."""

    def __init__(self, seal: Seal, parts: TreeParts, *, kept: bool):
        self.seal, self.parts, self.kept = seal, parts, kept
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._blocks: dict[int, tuple[list[int], list[bytes]]] = {}

    @property
    def last_id(self) -> int:
        """The id of the last row the seal covers: rows after it are not sealed yet."""
        return self.parts.last_id

    def holds(self, conn: Connection) -> bool:
        """Whether these parts make the root the seal signed."""
        size = self.seal.tree_size
        root = self._node(conn, 0, size) if size else EMPTY_ROOT
        return root.hex() == self.seal.statement.get("root")

    def index_of(self, conn: Connection, row_id: int) -> int | None:
        """A sealed row's place among the leaves (None: it has none, as when a row was put
        among the sealed ones after the seal)."""
        parts, span = self.parts, 1 << self.parts.height
        if parts.last_ids and row_id <= parts.last_ids[-1]:
            block = bisect_left(parts.last_ids, row_id)
            ids, _ = self._block(conn, block)
            return block * span + ids.index(row_id) if row_id in ids else None
        if row_id in parts.tail_ids:
            return len(parts.roots) * span + parts.tail_ids.index(row_id)
        return None

    def beside(self, row_id: int, index: int | None) -> tuple[int, int] | None:
        """The stretch of rows (counted in write order from 1) that, as they are now, make up
        the nearest part of a sealed row's path: its block, when the block's root is all
        that was kept of it, so a change anywhere in it fails this row's proof too. None:
        every sibling is as sealed (kept leaf by leaf, or every row read), so a failed
        proof is this row's own."""
        parts, height = self.parts, self.parts.height
        if not self.kept or not parts.last_ids or row_id > parts.last_ids[-1]:
            return None
        block = index >> height if index is not None else bisect_left(parts.last_ids, row_id)
        return (block << height) + 1, (block + 1) << height

    def path(self, conn: Connection, index: int) -> list[bytes]:
        """Leaf `index`'s inclusion path (RFC 9162), nearest sibling first."""
        return [self._node(conn, lo, hi) for lo, hi in path_ranges(index, self.seal.tree_size)]

    def _node(self, conn: Connection, lo: int, hi: int) -> bytes:
        """The tree hash of leaves [lo, hi): a node of RFC 9162's tree (a node of at most a
        block's size lies inside one block; a larger one starts at a block's start)."""
        found = self._nodes.get((lo, hi))
        if found is not None:
            return found
        parts, height = self.parts, self.parts.height
        blocks_end = len(parts.roots) << height
        if lo >= blocks_end:
            node = root_of(parts.tail[lo - blocks_end : hi - blocks_end])
        elif lo >> height == (hi - 1) >> height:
            block = lo >> height
            if hi - lo == 1 << height:
                node = parts.roots[block]
            else:
                start = block << height
                node = root_of(self._block(conn, block)[1][lo - start : hi - start])
        else:
            k = split(hi - lo)
            node = node_hash(self._node(conn, lo, lo + k), self._node(conn, lo + k, hi))
        self._nodes[(lo, hi)] = node
        return node

    def _block(self, conn: Connection, block: int) -> tuple[list[int], list[bytes]]:
        if block not in self._blocks:
            self._blocks[block] = block_rows(conn, self.parts, block)
        return self._blocks[block]


def sealed_tree(conn: Connection, newest: Seal) -> SealedTree | None:
    """The newest seal's tree: the parts kept when it was made, or (a seal made before they
    were kept, or parts that do not make its root) worked out from the rows, reading the
    whole history; None when neither makes the signed root (rows the seal covers changed
    and nothing kept says which: `check` names the stretch)."""
    return _kept_tree(conn, newest) or _tree_of_rows(conn, newest)


def _kept_tree(conn: Connection, newest: Seal) -> SealedTree | None:
    parts = kept_parts(conn, newest)
    if parts is None:
        return None
    kept = SealedTree(newest, parts, kept=True)
    return kept if kept.holds(conn) else None


def _tree_of_rows(conn: Connection, newest: Seal) -> SealedTree | None:
    rows = SealedTree(newest, tree_parts(conn, limit=newest.tree_size), kept=False)
    return rows if rows.parts.size == newest.tree_size and rows.holds(conn) else None


def _last_sealed_id(conn: Connection, newest: Seal) -> int:
    """The id of the last row `newest` covers, counted from the rows (it covers the first
    `tree_size` in write order): read when no tree was kept."""
    if not newest.tree_size:
        return 0
    q = select(history.c.id).order_by(history.c.id).offset(newest.tree_size - 1).limit(1)
    last = conn.execute(q).scalar()
    return int(last) if last is not None else 1 << 62  # fewer rows than it sealed


# --- one case against the newest seal -------------------------------------------------
@dataclass
class CaseSealing:
    """A case's rows against the newest seal, each proved by its inclusion path (what the
    auditor's page about one case shows, without reading every case's rows)."""

    newest: Seal | None = None
    sealed: list[int] = field(default_factory=list)  # rows (seq) proved to be as sealed
    # row (seq): why not (ALTERED, OFF_PATH) and, for OFF_PATH, the rows beside it whose
    # change would fail it too (`SealedTree.beside`; None: it is this row that changed)
    not_as_sealed: dict[int, tuple[str, tuple[int, int] | None]] = field(default_factory=dict)
    not_yet: list[int] = field(default_factory=list)  # rows written after the newest seal
    problems: list[str] = field(default_factory=list)  # the seals' own: no proof is given
    whole: SealReport | None = None  # when no proof could be given: every seal checked

    @property
    def key(self) -> str | None:
        return self.newest.statement.get("key") if self.newest else None


def case_sealing(
    conn: Connection, ref: str, rows: list[Any], *, copies: Path | None = None
) -> CaseSealing:
    """The case's `rows` (its history, in order) against the newest seal: its chain of seals
    and signatures checked (cheap), then each sealed row proved by its inclusion path as
    `audit proof` gives it. Rows written after the seal are not yet sealed. When the newest
    seal's tree cannot be had (its rows changed and nothing kept says how), every seal is
    checked against every row (`check`, seconds on a large history) to say where."""
    out = SealReport()
    chain = _gather(stored(conn), copies, out)
    if chain:
        keys = recorded_keys(conn)
        if not keys:
            out.problems.append("no public key was recorded by `audit keygen`")
        else:
            _check_chain(chain, keys, out)
    found = CaseSealing(problems=out.problems)
    newest = max(chain, key=lambda s: s.tree_size) if chain else None
    if newest is None or out.problems:
        found.not_yet = [r.seq for r in rows] if newest is None else []
        return found
    found.newest = newest
    tree = _kept_tree(conn, newest)
    last_sealed = tree.last_id if tree is not None else _last_sealed_id(conn, newest)
    if any(row.id <= last_sealed for row in rows) and tree is None:
        # No kept tree to read (a seal made before they were kept, or one altered since):
        # the rows are read whole, once.
        tree = _tree_of_rows(conn, newest)
        if tree is None:
            found.whole = check(conn, copies=copies)
            return found
    for row in rows:
        if tree is None or row.id > last_sealed:
            found.not_yet.append(row.seq)
            continue
        index = tree.index_of(conn, row.id)
        path = tree.path(conn, index) if index is not None else []
        why = why_unproved(ref, row, index, newest, path)
        if why is None:
            found.sealed.append(row.seq)
        else:
            near = tree.beside(row.id, index) if why == OFF_PATH else None
            found.not_as_sealed[row.seq] = (why, near)
    return found
