"""Merkle tree hashing as RFC 9162 (Certificate Transparency 2.0) section 2.1 defines it.

leaf = SHA-256(0x00 || data); node = SHA-256(0x01 || left || right); a tree of
n > 1 leaves splits at k, the largest power of two smaller than n; the empty
tree's hash is SHA-256 of nothing. Leaves are fed one at a time and only the
frontier (the roots of the complete subtrees so far, at most log2 n hashes) is
kept, so a tree over millions of history rows needs a few kilobytes.

Written here rather than taken from a library: pymerkle 7 (maintained) keeps
every leaf (in memory or in its own SQLite file) and hashes entries itself,
while here the leaves are already hashes streamed from the database;
merkletools and merkly predate RFC 9162's domain separation or ignore it.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class Frontier:
    """A tree being built leaf by leaf, holding only its complete subtrees' roots."""

    __slots__ = ("size", "_stack")

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []  # roots of complete subtrees, largest first

    def add(self, leaf: bytes) -> None:
        """Add a leaf's hash (already `leaf_hash`ed)."""
        n, h, stack = self.size, leaf, self._stack
        while n & 1:  # each trailing 1 bit is a subtree of the same size
            h = node_hash(stack.pop(), h)
            n >>= 1
        stack.append(h)
        self.size += 1

    def root(self) -> bytes:
        """The tree hash of the leaves added so far (RFC 9162 MTH)."""
        if not self._stack:
            return EMPTY_ROOT
        acc = self._stack[-1]
        for h in reversed(self._stack[:-1]):
            acc = node_hash(h, acc)
        return acc

    def add_subtree(self, root: bytes, height: int) -> None:
        """Add a complete subtree of 2**height leaves; the tree's size must be a multiple of it."""
        if self.size & ((1 << height) - 1):
            raise ValueError(f"a subtree of {1 << height} leaves cannot follow {self.size} leaves")
        n, h, stack = self.size >> height, root, self._stack
        while n & 1:
            h = node_hash(stack.pop(), h)
            n >>= 1
        stack.append(h)
        self.size += 1 << height

    def extend(self, leaves: Iterable[bytes], height: int = 12) -> None:
        """Add many leaves: whole blocks of 2**height at a time, hashed level by level.

        Hashing a block's levels with one comprehension each is about twice as
        fast as adding its leaves one by one; memory stays one block.
        """
        block_size, block = 1 << height, []
        aligned = not self.size & (block_size - 1)
        sha = hashlib.sha256
        for leaf in leaves:
            if not aligned:
                self.add(leaf)
                aligned = not self.size & (block_size - 1)
                continue
            block.append(leaf)
            if len(block) == block_size:
                level = block
                while len(level) > 1:
                    level = [
                        sha(b"\x01" + level[i] + level[i + 1]).digest()
                        for i in range(0, len(level), 2)
                    ]
                self.add_subtree(level[0], height)
                block = []
        for leaf in block:
            self.add(leaf)


def root_of(leaves: Iterable[bytes]) -> bytes:
    tree = Frontier()
    tree.extend(leaves)
    return tree.root()


def path_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges [start, end) whose tree hashes make up leaf `index`'s inclusion path.

    In RFC 9162's PATH order: the sibling nearest the leaf first.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split(hi - lo)
        if index - lo < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
    out.reverse()
    return out


def inclusion_path(leaves: Iterable[bytes], index: int, size: int) -> list[bytes]:
    """Leaf `index`'s inclusion path in the tree of the first `size` leaves, in one pass."""
    ranges = sorted(path_ranges(index, size))
    trees = [Frontier() for _ in ranges]
    at = 0
    for i, leaf in enumerate(leaves):
        if i >= size:
            break
        while at < len(ranges) and i >= ranges[at][1]:
            at += 1
        if at < len(ranges) and ranges[at][0] <= i:
            trees[at].add(leaf)
    by_range = {r: t.root() for r, t in zip(ranges, trees)}
    return [by_range[r] for r in path_ranges(index, size)]


def root_from_path(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root a leaf and its inclusion path lead to (RFC 9162 2.1.3.2); None if malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)
