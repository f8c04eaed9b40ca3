"""Checking seals against the history as it is now, and proving one row is sealed.

`check` reads every seal (the database's, and the copies kept elsewhere),
checks the seals' own chain and signatures, then streams the history once,
comparing the tree hash of the first `tree_size` rows with each seal's root.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from workflow.errors import CaseNotFound, CaseworkError, Refused
from workflow.services.chain import as_dict, head_of, seal as row_hash
from workflow.services.merkle import Frontier, inclusion_path, root_from_path
from workflow.storage.tables import history
from workflow.services.seals import (
    Seal,
    row_leaf,
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


@dataclass(frozen=True)
class NotYetSealed:
    """A case none of whose rows any seal covers: all were written after the newest seal's
    last row, so no seal's root can say anything about them (yet)."""

    rows: int  # the case's history rows
    newest: str | None  # the newest seal's label (None: nothing is sealed)
    sealed_rows: int  # the history rows it covers, counted in the order written


def not_yet_sealed(
    conn: Connection, case_id: int, *, copies: Path | None = None
) -> NotYetSealed | None:
    """The case's rows when no seal covers any of them, else None (some are sealed, or the
    seals themselves do not hold, so only the whole `check` can say what they cover).

    The cheap part of `check` is done (the seals gathered, their chain, signatures and keys);
    the costly one, the rows' roots, is not needed when the case's first row comes after
    every row the newest seal covers: a seal covers the first `tree_size` rows in the order
    written (history ids), so counting the rows before the case's first one says it."""
    report = SealReport()
    chain = _gather(stored(conn), copies, report)
    if chain:
        keys = recorded_keys(conn)
        if not keys:
            return None
        readable = _check_chain(chain, keys, report)
        if report.problems or not all(
            isinstance(s.statement.get("tree_size"), int) for s in readable
        ):
            return None
    newest = max(chain, key=lambda s: s.tree_size) if chain else None
    size = newest.tree_size if newest else 0
    first, count = conn.execute(
        select(func.min(history.c.id), func.count()).where(history.c.case_id == case_id)
    ).one()
    if first is None:
        return None
    before = conn.execute(
        select(func.count()).select_from(history).where(history.c.id < first)
    ).scalar_one()
    if before < size:
        return None
    return NotYetSealed(int(count), newest.label if newest else None, size)


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
    index = conn.execute(
        select(func.count()).select_from(history).where(history.c.id < row.id)
    ).scalar_one()
    newest = latest(conn)
    if newest is None or newest.tree_size <= index:
        covered = (
            f"the latest seal covers {rows_text(newest.tree_size)}"
            if newest
            else "nothing is sealed yet"
        )
        raise NotSealed(
            f"{ref} row {seq} is not sealed yet ({covered}); run `casework audit seal` first."
        )
    path = inclusion_path(leaves(conn), index, newest.tree_size)
    _refuse_unsealed_as_it_stands(ref, row, index, newest, path)
    return {
        "row": as_dict(row, ref),
        "leaf_index": index,
        "tree_size": newest.tree_size,
        "seal": newest.document(),
        "inclusion_path": [p.hex() for p in path],
    }


def _refuse_unsealed_as_it_stands(
    ref: str, row: Any, index: int, newest: Seal, path: list[bytes]
) -> None:
    """A proof is handed to an auditor to check with the public key alone: one that
    would fail their check is refused here, saying what happened to the row."""
    if row_hash(ref, row.seq, row.prev_hash, row) != row.hash:
        raise NotSealed(
            f"{ref} row {row.seq} has been changed since it was written: what it says no "
            f"longer matches its hash, so it is not the row {newest.label} signed "
            f"(`casework audit verify` names every row and seal affected)."
        )
    root = root_from_path(index, newest.tree_size, row_leaf(row.hash), path)
    if root is None or root.hex() != newest.statement.get("root"):
        raise NotSealed(
            f"{ref} row {row.seq} cannot be proved against {newest.label}: the rows it "
            f"signed were changed after it (a row rewritten, removed or inserted and the "
            f"hashes recomputed), so its path no longer leads to the root it signed "
            f"(`casework audit verify` names the rows that no longer match)."
        )
