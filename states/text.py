"""The one check for text a person types: reasons, comments, questions, file names, documents.

Text is kept exactly as given (DESIGN section 7). Tab and newline are
allowed; any other control character is refused (an escape sequence in a
reason would otherwise reach an operator's terminal through `case history`,
and PostgreSQL refuses NUL outright), and so are the bidirectional embeddings,
overrides and isolates, which make text display in a different order from the
one it holds ("Trojan Source", CVE-2021-42574). Every face calls this through
the services, so the command line, the web and the API refuse alike.
"""

from __future__ import annotations

import unicodedata

__all__ = ["text_problem", "BIDI_CONTROLS", "TEXT_PATTERN"]

# LRE RLE PDF LRO RLO, LRI RLI FSI PDI
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# The same rule as a JSON Schema pattern, for the API's document (C0 and C1 controls
# but tab and newline, DEL, and the bidirectional controls above).
TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]*$"


def text_problem(field: str, value: str, *, one_line: bool = False) -> str | None:
    """Why `value` may not be kept as `field`, as a sentence starting with the field; None if it may."""
    allowed = "\t" if one_line else "\t\n"
    for ch in value:
        if ch in allowed:
            continue
        if unicodedata.category(ch) == "Cc":
            what = "tabs" if one_line else "tabs and new lines"
            return (
                f"{field}: contains a control character (U+{ord(ch):04X}); only {what} are allowed"
            )
        if ch in BIDI_CONTROLS:
            return (
                f"{field}: contains a bidirectional control character (U+{ord(ch):04X}), "
                f"which makes text display in a different order from the one it holds"
            )
    return None
