"""Errors raised by pure code in states/; workflow/errors.py wraps them for people."""

from __future__ import annotations


class DocumentError(ValueError):
    """A document (application, return, command-line value) is malformed.

    `problems` holds every fault found, each naming its field:
    `"amount: '£250,000' is not an amount in pounds (digits, at most two decimals)"`.
    """

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class ProgrammeFileError(ValueError):
    """A programme file is missing a field or contradicts itself; nothing is loaded."""

    def __init__(self, problems: list[str] | str, source: str = ""):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(self.problems))
