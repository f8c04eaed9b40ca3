"""Typed, frozen records of a case and of a checkpoint, as every read produces them.

A service, a face or the sweep holds a `CaseRecord` or a `CheckpointRecord`,
never a driver row: the prepared statements of the hot path build them
(`Prepared(..., record=CaseRecord)`) and any other read goes through
`CaseRecord.of(row)`. A read that leaves columns out (the sweep does not read
a case's documents) leaves those fields at their defaults. After a change the
chain writer (`workflow.services.chain.change`) returns the record as it is now.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, Callable, Mapping, Self, Sequence, TypeVar

__all__ = ["CaseRecord", "CheckpointRecord"]


class _Record:
    __slots__ = ()

    @classmethod
    def of(cls, row: Any) -> Self:
        """The record of a SQLAlchemy row of its table (columns it does not hold are left out)."""
        return _build(cls, row._mapping)

    @classmethod
    def all(cls, result: Any) -> list[Self]:
        """The records of every row of a SQLAlchemy result, its columns matched once.

        The same records as `of` row by row, without a mapping built for each
        row (a list of a thousand cases felt that).
        """
        known = _FIELDS[cls]
        at = [(i, name, name in _TUPLES) for i, name in enumerate(result.keys()) if name in known]
        return [
            cls(
                **{
                    name: (tuple(row[i]) if tup and row[i] is not None else row[i])
                    for i, name, tup in at
                }
            )
            for row in result
        ]


@dataclass(frozen=True, slots=True)
class CaseRecord(_Record):
    id: int
    ref: str
    kind: str  # bid | area
    programme: str
    state: str
    version: int
    title: str = ""
    category: str | None = None
    lead: str = ""
    amount_pence: int | None = None
    caseworker: str | None = None
    at_risk: bool = False
    last_seq: int = 0  # the chain's head: its last row's number
    last_hash: str = ""  # ... and that row's hash
    definition_version: int = 1
    partners: tuple[str, ...] = ()
    application: Mapping[str, Any] | None = None  # None when the read left it out
    contribution_pence: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def pence(self) -> int:
        """A bid's amount in pence: every bid past its draft has one (ValueError for an area,
        or a draft that has not said yet: the rules at `submit` ask for it)."""
        if self.amount_pence is None:
            raise ValueError(
                f"{self.ref} has no amount (an area's money is its contribution; "
                f"a draft may not have said yet)"
            )
        return self.amount_pence

    @property
    def document(self) -> Mapping[str, Any]:
        """The application; ValueError when the read that made this record left it out."""
        if self.application is None:
            raise ValueError(f"{self.ref} was read without its application")
        return self.application


@dataclass(frozen=True, slots=True)
class CheckpointRecord(_Record):
    id: int
    ref: str
    case_id: int
    state: str
    version: int
    due: date
    level: int = 0
    n: int = 0
    steps_done: tuple[str, ...] = ()
    next_step_at: datetime | None = None
    scheduled_at: datetime | None = None
    figures: Mapping[str, Any] | None = None
    attachment_sha256: str | None = None
    attachment_name: str | None = None
    submitted_at: datetime | None = None


_TUPLES = {"partners", "steps_done"}  # JSON lists, held as tuples so a record stays frozen
_FIELDS: dict[type[_Record], frozenset[str]] = {
    cls: frozenset(f.name for f in fields(cls)) for cls in (CaseRecord, CheckpointRecord)
}
R = TypeVar("R", bound=_Record)


def _build(cls: type[R], values: Mapping[str, Any]) -> R:
    known = _FIELDS[cls]
    kept = {
        k: (tuple(v) if k in _TUPLES and v is not None else v)
        for k, v in values.items()
        if k in known
    }
    return cls(**kept)


def maker(cls: type[R], keys: list[str]) -> Callable[[Sequence[Any]], R]:
    """A function building a `cls` record from one row's values in `keys` order (Prepared)."""
    known = _FIELDS[cls]
    picked = [(i, k, k in _TUPLES) for i, k in enumerate(keys) if k in known]

    def make(values: Sequence[Any]) -> R:
        return cls(
            **{
                k: (tuple(values[i]) if tup and values[i] is not None else values[i])
                for i, k, tup in picked
            }
        )

    return make
