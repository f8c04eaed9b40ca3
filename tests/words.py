"""Finding codes shown to people as if they were words (DESIGN.md section 12)."""

from __future__ import annotations

import html
import re

from notifications.kinds import KINDS
from states import DEFINITIONS
from states.ladder import DEFAULT_LADDER
from states.programme import ARRANGEMENTS

# Every code a person could meet that no plain word would be mistaken for: states,
# triggers and ladder steps written with "_", categories, arrangements, message kinds.
CODES = sorted(
    {c for d in DEFINITIONS.values() for c in (*d.states, *d.triggers) if "_" in c}
    | {"single_operation", "shared_arrangement", "esg_top_up"}
    | {a for a in ARRANGEMENTS if "_" in a}
    | set(KINDS)
    | {s.name for s in DEFAULT_LADDER if "_" in s.name},
    key=len,
    reverse=True,
)


def codes_in(text: str) -> list[str]:
    """The codes `text` shows as words. A code in brackets after its words ("Withdraw
    (withdraw)"), or inside a reference, address or path (TCA-2013-0001/Q1:escalated_1),
    is there to be typed or followed, not read, and is left out."""
    prose = re.sub(r"<[^>]+>", " ", html.unescape(text))
    prose = re.sub(r"\([a-z_]+\)|\S*[/:@]\S*", " ", prose)
    return [c for c in CODES if re.search(rf"(?<![\w.]){re.escape(c)}(?![\w])", prose)]
