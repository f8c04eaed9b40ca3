"""One case's rows proved against the newest seal by their inclusion paths (RFC 9162), from
the tree kept with the seal and the rows' own blocks: the same paths as from every row, the
changed rows named, and nothing kept can make a changed row pass."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, select, update

from tests.workflow import tamper
from tests.workflow.test_seals import _history as _bids
from workflow.services import seals
from workflow.services.chain import rows_for
from workflow.services.merkle import inclusion_path
from workflow.services.seal_check import OFF_PATH, case_sealing, proof, sealed_tree
from workflow.storage.db import reading
from workflow.storage.tables import history, meta


@pytest.fixture
def w(any_world, monkeypatch):
    # Blocks of 4 rows, so a small history has complete blocks as well as a tail.
    monkeypatch.setattr(seals, "BLOCK_HEIGHT", 2)
    return any_world.cast()


@pytest.fixture
def key(w):
    k = Ed25519PrivateKey.generate()
    seals.record_key(w.engine, k.public_key())
    return k


def _case_rows(conn, ref: str) -> list:
    return rows_for(conn, tamper.case_id(conn, ref))


def _positions(conn) -> dict[int, int]:
    """Each row's place in write order, from 0 (its leaf index)."""
    ids = conn.execute(select(history.c.id).order_by(history.c.id)).scalars()
    return {row_id: n for n, row_id in enumerate(ids)}


def test_every_path_from_the_kept_tree_is_the_one_worked_out_from_every_row(w, key):
    _bids(w)
    made = seals.seal(w.engine, key)

    with reading(w.engine) as conn:
        tree = sealed_tree(conn, made)
        every = list(seals.leaves(conn))
        places = _positions(conn)
        found = {
            row_id: (tree.index_of(conn, row_id), tree.path(conn, tree.index_of(conn, row_id)))
            for row_id in places
        }

    assert tree.kept and len(tree.parts.roots) >= 4 and tree.parts.tail
    for row_id, n in places.items():
        assert found[row_id] == (n, inclusion_path(iter(every), n, made.tree_size)), row_id


def test_a_case_is_held_by_its_own_proofs_and_a_changed_row_elsewhere_is_named_by_its_block(w, key):
    first, second, third = _bids(w)
    made = seals.seal(w.engine, key)
    later = _bids(w, 1)[0]
    tamper.rewrite_row(w.engine, second, 2)  # every hash after it recomputed: its chain holds

    with reading(w.engine) as conn:
        places = _positions(conn)
        changed = {places[r.id] for r in _case_rows(conn, second) if r.seq >= 2}
        found = {ref: case_sealing(conn, ref, _case_rows(conn, ref)) for ref in (first, third)}
        own = case_sealing(conn, second, _case_rows(conn, second))
        after = case_sealing(conn, later, _case_rows(conn, later))
        rows = {ref: _case_rows(conn, ref) for ref in (first, second, third, later)}

    for ref in (first, third):
        for row in rows[ref]:
            block = places[row.id] >> 2
            if any(n >> 2 == block for n in changed):
                # A changed row shares its block: the seal kept only the block's root.
                assert found[ref].not_as_sealed[row.seq] == (
                    OFF_PATH,
                    ((block << 2) + 1, (block + 1) << 2),
                )
            else:
                assert row.seq in found[ref].sealed
    assert {r.seq for r in rows[second] if r.seq >= 2} <= set(own.not_as_sealed)
    assert own.sealed == [1] or places[rows[second][0].id] >> 2 in {n >> 2 for n in changed}
    assert after.not_yet == [r.seq for r in rows[later]] and not after.sealed
    assert found[first].newest.number == made.number and found[first].whole is None


def test_without_a_kept_tree_the_rows_are_read_and_proofs_still_hold(w, key):
    (ref,) = _bids(w, 1)
    made = seals.seal(w.engine, key)
    with w.engine.begin() as conn:
        conn.execute(delete(meta).where(meta.c.key.like("seal_tree%")))

    with reading(w.engine) as conn:
        tree = sealed_tree(conn, made)
        rows = _case_rows(conn, ref)
        found = case_sealing(conn, ref, rows)
        given = proof(conn, ref, 2)

    assert tree is not None and not tree.kept
    assert found.sealed == [r.seq for r in rows] and not found.not_as_sealed
    assert given["tree_size"] == made.tree_size


def test_a_kept_tree_altered_to_match_a_changed_row_does_not_make_it_pass(w, key):
    first, second = _bids(w, 2)
    made = seals.seal(w.engine, key)
    tamper.rewrite_row(w.engine, second, 1)
    with reading(w.engine) as conn:
        honest = seals.tree_parts(conn, limit=made.tree_size)  # the rows as they are now
    with w.engine.begin() as conn:
        conn.execute(delete(meta).where(meta.c.key.like("seal_tree%")))
        seals.keep_parts(conn, made, honest)  # the administrator's own tree, kept as the seal's

    with reading(w.engine) as conn:
        found = case_sealing(conn, second, _case_rows(conn, second))
        head = conn.execute(select(func.count()).select_from(meta)).scalar()

    assert head and not found.sealed and found.whole is not None
    assert any(made.label in p and "no longer match" in p for p in found.whole.problems)


def test_a_kept_tree_that_is_wrong_is_not_believed_and_the_rows_are_read(w, key):
    (ref,) = _bids(w, 1)
    seals.seal(w.engine, key)
    with w.engine.begin() as conn:
        conn.execute(
            update(meta)
            .where(meta.c.key == seals.TREE_KEY)
            .values(value={"seal": 1, "height": 2, "blocks": 0, "tail_ids": [], "tail": ""})
        )

    with reading(w.engine) as conn:
        rows = _case_rows(conn, ref)
        found = case_sealing(conn, ref, rows)

    assert found.sealed == [r.seq for r in rows] and not found.not_as_sealed


def test_without_a_kept_tree_a_rewritten_row_is_refused_a_proof_not_called_unsealed(w, key):
    from workflow.services.seal_check import NotSealed

    first, second = _bids(w, 2)
    made = seals.seal(w.engine, key)
    tamper.rewrite_row(w.engine, second, 1)
    with w.engine.begin() as conn:
        conn.execute(delete(meta).where(meta.c.key.like("seal_tree%")))

    with reading(w.engine) as conn, pytest.raises(NotSealed) as refused:
        proof(conn, second, 1)

    assert f"{second} row 1 cannot be proved against {made.label}" in str(refused.value)
