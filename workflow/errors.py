"""What can go wrong, in a caseworker's words.

CaseworkError
 ├─ NotFound ─ CaseNotFound, PersonNotFound, ProgrammeNotFound, OrganisationNotFound, CheckpointNotFound
 ├─ Refused ─ InvalidTransition, GuardFailed, PermissionDenied, RuleViolation, Malformed, ReasonRequired
 ├─ ConflictError
 └─ SetupError (a database that cannot be opened, a definition that no longer fits the data)

The command line prints str(err) on stderr and exits 1; the web app and the
API show the same message. Facts are kept as attributes for --json and tests.
"""
from __future__ import annotations

from typing import Sequence

from states.errors import DocumentError


class CaseworkError(Exception):
    """Base of every refusal the services raise."""

    status = 400

    @property
    def message(self) -> str:
        return str(self)


class NotFound(CaseworkError):
    status = 404


class CaseNotFound(NotFound):
    def __init__(self, ref: str):
        self.ref = ref
        super().__init__(f"There is no case {ref}.")


class CheckpointNotFound(NotFound):
    def __init__(self, ref: str):
        self.ref = ref
        super().__init__(f"There is no monitoring return {ref}.")


class PersonNotFound(NotFound):
    def __init__(self, name: str):
        self.name = name
        super().__init__(f"There is no person called '{name}'. `casework user list` shows who there is.")


class ProgrammeNotFound(NotFound):
    def __init__(self, code: str):
        self.code = code
        super().__init__(f"There is no programme '{code}'. `casework programme list` shows the loaded ones.")


class OrganisationNotFound(NotFound):
    def __init__(self, code: str):
        self.code = code
        super().__init__(f"There is no organisation '{code}'. `casework org list` shows the known ones.")


class Refused(CaseworkError):
    status = 422


class InvalidTransition(Refused):
    status = 409

    def __init__(self, ref: str, state: str, trigger: str, allowed: Sequence[str]):
        self.ref, self.state, self.trigger, self.allowed = ref, state, trigger, tuple(allowed)
        now = ", ".join(self.allowed) or "nothing"
        super().__init__(f"{ref} is {state.replace('_', ' ')}, so it cannot be "
                         f"'{trigger}'. Allowed now: {now}.")


class GuardFailed(Refused):
    def __init__(self, ref: str, trigger: str, violations: Sequence[str]):
        self.ref, self.trigger, self.violations = ref, trigger, tuple(violations)
        listed = "; ".join(self.violations)
        super().__init__(f"{ref} cannot be '{trigger}': {listed}.".replace("..", "."))


class RuleViolation(Refused):
    def __init__(self, message: str, violations: Sequence[str] = ()):
        self.violations = tuple(violations) or (message,)
        super().__init__(message)


class PermissionDenied(Refused):
    status = 403

    def __init__(self, message: str, *, person: str = "", trigger: str = ""):
        self.person, self.trigger = person, trigger
        super().__init__(message)


class ReasonRequired(Refused):
    def __init__(self, ref: str, trigger: str):
        self.ref, self.trigger = ref, trigger
        super().__init__(f"'{trigger}' on {ref} needs a reason: give one with --reason.")


class Malformed(Refused):
    """Input that is not well-formed; nothing was created or changed."""

    status = 400

    def __init__(self, what: str, problems: Sequence[str]):
        self.what, self.problems = what, tuple(problems)
        super().__init__(f"{what} refused: " + "; ".join(self.problems) + ".")

    @classmethod
    def from_document(cls, what: str, err: DocumentError) -> "Malformed":
        return cls(what, err.problems)


class ConflictError(CaseworkError):
    status = 409

    def __init__(self, ref: str, detail: str = ""):
        self.ref = ref
        super().__init__(detail or f"{ref} was changed by someone else at the same moment; "
                                   f"nothing of yours was written. Look at it again and retry.")


class SetupError(CaseworkError):
    status = 500
