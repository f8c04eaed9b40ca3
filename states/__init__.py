"""Definitions and pure rules: states, transitions, roles, programme rules.

Nothing here does I/O or imports another part of the project; the engine in
`workflow/` reads these definitions and the rules, the diagrams are drawn from
them, and the tests check them.
"""

from states.definition import Definition, T
from states.bid import BID
from states.area import AREA
from states.checkpoint import CHECKPOINT
from states.payment import PAYMENT
from states.variation import VARIATION
from states.roles import ROLES, CASE_ROLES

DEFINITIONS: dict[str, Definition] = {
    d.kind: d for d in (BID, AREA, CHECKPOINT, PAYMENT, VARIATION)
}

__all__ = [
    "Definition",
    "T",
    "BID",
    "AREA",
    "CHECKPOINT",
    "PAYMENT",
    "VARIATION",
    "DEFINITIONS",
    "ROLES",
    "CASE_ROLES",
]
