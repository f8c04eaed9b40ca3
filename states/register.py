"""The register of English councils (`GB-LAE`), shipped in states/reference/.

One reading of the register for every part of casework that asks it:
publishing names a council's 360Giving org-id from it, and due diligence
(`org_in_register`) asks whether an organisation is in it. An organisation is
found by its 360Giving org-id when it has one (`GB-LAE-` and the register's
key), else by its name, official or short, as the councils stood on
REGISTER_DAY.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources

__all__ = [
    "Council",
    "REGISTER_DAY",
    "ORG_ID_PREFIX",
    "council_named",
    "council_keyed",
    "normalise",
]

REGISTER_DAY = date(2013, 4, 1)  # councils as they were when the programmes ran
ORG_ID_PREFIX = "GB-LAE-"


@dataclass(frozen=True)
class Council:
    key: str
    name: str
    official_name: str
    start: date | None
    end: date | None

    def existed_on(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


def normalise(name: str) -> str:
    """A name as the register is searched: case, '&', hyphens and punctuation set aside."""
    text = name.casefold().replace("&", " and ").replace("-", " ")
    text = re.sub(r"[.,'’()]", "", text)
    return " ".join(text.split())


@lru_cache(maxsize=1)
def _councils() -> tuple[Council, ...]:
    text = (resources.files("states") / "reference" / "local-authority-eng.csv").read_text("utf-8")
    return tuple(
        Council(
            row["key"],
            row["name"],
            row["official-name"],
            date.fromisoformat(row["start-date"]) if row["start-date"] else None,
            date.fromisoformat(row["end-date"]) if row["end-date"] else None,
        )
        for row in csv.DictReader(io.StringIO(text))
    )


@lru_cache(maxsize=1)
def _by_name() -> dict[str, tuple[Council, ...]]:
    by_name: dict[str, list[Council]] = {}
    for council in _councils():
        for name in {normalise(council.name), normalise(council.official_name)}:
            by_name.setdefault(name, []).append(council)
    return {k: tuple(v) for k, v in by_name.items()}


def council_named(name: str, on: date = REGISTER_DAY) -> list[Council]:
    """English councils in the register called `name` (official name or name) on `on`."""
    found = _by_name().get(normalise(name), ())
    return sorted({c for c in found if c.existed_on(on)}, key=lambda c: c.key)


def council_keyed(org_id: str, on: date = REGISTER_DAY) -> Council | None:
    """The council whose 360Giving org-id is `org_id` (GB-LAE-BIR) and that existed on `on`."""
    if not org_id.upper().startswith(ORG_ID_PREFIX):
        return None
    key = org_id[len(ORG_ID_PREFIX) :].upper()
    return next((c for c in _councils() if c.key == key and c.existed_on(on)), None)
