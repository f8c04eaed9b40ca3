"""What can go wrong, in a caseworker's words.

CaseworkError
 ├─ NotFound ─ CaseNotFound, PersonNotFound, ProgrammeNotFound, OrganisationNotFound, CheckpointNotFound
 ├─ Refused ─ InvalidTransition, GuardFailed, PermissionDenied, RuleViolation, Malformed
 │           (ValueRefused (DocumentRefused)), ReasonRequired
 ├─ ConflictError
 ├─ PreconditionFailed, TokenRefused, KeyInUse, KeyReused (the API's own refusals)
 └─ SetupError (a database that cannot be opened, a definition that no longer fits the data)

The command line prints str(err) on stderr and exits 1; the web app and the
API show the same message, with the status of `HTTP`, the one table of what
each refusal is over HTTP. Facts are kept as attributes for --json and tests.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Callable, Sequence, overload

from states.errors import DocumentError
from states.words import allowed_now, humanise

if TYPE_CHECKING:
    from states.definition import Definition


class CaseworkError(Exception):
    """Base of every refusal the services raise."""

    @property
    def message(self) -> str:
        return str(self)

    @property
    def command_line(self) -> str:
        """The message as the command line prints it (where people type codes)."""
        return str(self)


class NotFound(CaseworkError):
    pass


class CaseNotFound(NotFound):
    def __init__(self, ref: str):
        self.ref = ref
        super().__init__(f"There is no case {ref}.")


class CheckpointNotFound(NotFound):
    def __init__(self, ref: str):
        self.ref = ref
        super().__init__(f"There is no monitoring return {ref}.")


class NotFoundWithHint(NotFound):
    """Not found; on the command line, followed by the command that lists what there is (a
    web page or an API answer has no command line to send people to)."""

    hint = ""

    @property
    def command_line(self) -> str:
        return f"{self} {self.hint}"


class PersonNotFound(NotFoundWithHint):
    hint = "`casework user list` shows who there is."

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"There is no person called '{name}'.")


class ProgrammeNotFound(NotFoundWithHint):
    hint = "`casework programme list` shows the loaded ones."

    def __init__(self, code: str):
        self.code = self.programme = code  # `programme`: the fact an API problem names
        super().__init__(f"There is no programme '{code}'.")


class OrganisationNotFound(NotFoundWithHint):
    hint = "`casework org list` shows the known ones."

    def __init__(self, code: str):
        self.code = code
        super().__init__(f"There is no organisation '{code}'.")


class TargetNotFound(NotFoundWithHint):
    """An admin-log filter naming no organisation, person or programme (and no logged change)."""

    hint = "`casework org list`, `user list` and `programme list` show what there is."

    def __init__(self, target: str):
        self.target = target
        super().__init__(
            f"There is no organisation, person or programme '{target}', and the admin log "
            f"records no change to one."
        )


class Refused(CaseworkError):
    pass


def _trigger_words(definition: "Definition | None", trigger: str) -> str:
    return definition.trigger_label(trigger) if definition is not None else humanise(trigger)


class InvalidTransition(Refused):
    """`TCA-2013-0001 is Under assessment, so it cannot be 'Offer the award'. Allowed now:
    Ask the council a question, Moderate the scores, Withdraw.` The command line's form
    (`command_line`) puts each trigger's code after its label, since people type codes
    there; a trigger the definition does not have at all gets "did you mean"."""

    def __init__(
        self,
        ref: str,
        state: str,
        trigger: str,
        allowed: Sequence[str],
        *,
        definition: "Definition | None" = None,
    ):
        self.ref, self.state, self.trigger, self.allowed = ref, state, trigger, tuple(allowed)
        self.definition = definition
        super().__init__(self._say(with_codes=False))

    @property
    def command_line(self) -> str:
        return self._say(with_codes=True)

    def _say(self, *, with_codes: bool) -> str:
        d = self.definition
        now = allowed_now([(t, _trigger_words(d, t)) for t in self.allowed], with_codes=with_codes)
        if d is not None and self.trigger not in d.triggers:
            guess = difflib.get_close_matches(self.trigger, d.triggers, n=1, cutoff=0.6)
            hint = f" — did you mean {guess[0]}?" if guess else "."
            return f"{self.ref}: no such trigger '{self.trigger}'{hint} Allowed now: {now}."
        state = d.state_label(self.state) if d is not None else humanise(self.state)
        what = _trigger_words(d, self.trigger)
        if with_codes:
            what = f"{what}' ({self.trigger})"
        else:
            what += "'"
        return f"{self.ref} is {state}, so it cannot be '{what}. Allowed now: {now}."


class GuardFailed(Refused):
    def __init__(
        self,
        ref: str,
        trigger: str,
        violations: Sequence[str],
        *,
        definition: "Definition | None" = None,
    ):
        self.ref, self.trigger, self.violations = ref, trigger, tuple(violations)
        self.words = _trigger_words(definition, trigger)
        listed = "; ".join(self.violations)
        super().__init__(f"{ref} cannot be '{self.words}': {listed}.".replace("..", "."))


class RuleViolation(Refused):
    def __init__(self, message: str, violations: Sequence[str] = ()):
        self.violations = tuple(violations) or (message,)
        super().__init__(message)


class PermissionDenied(Refused):
    def __init__(self, message: str, *, person: str = "", trigger: str = ""):
        self.person, self.trigger = person, trigger
        super().__init__(message)


class ReasonRequired(Refused):
    def __init__(self, ref: str, trigger: str, *, definition: "Definition | None" = None):
        self.ref, self.trigger = ref, trigger
        self.words = _trigger_words(definition, trigger)
        super().__init__(f"'{self.words}' on {ref} needs a reason: say why.")

    @property
    def command_line(self) -> str:
        return (
            f"'{self.words}' ({self.trigger}) on {self.ref} needs a reason: give one with --reason."
        )


class Malformed(Refused):
    """Input that is not well-formed; nothing was created or changed."""

    def __init__(self, what: str, problems: Sequence[str], *, plural: bool = False):
        self.what, self.problems = what, tuple(problems)
        said = "; ".join(self.problems)
        # "The payment was refused: ...": what was refused, then why (it said "The payment
        # refused:", which reads as if the payment had done the refusing). A problem that
        # ends in a question ("did you mean submitted?") is not stopped again.
        verb = "were" if plural else "was"
        super().__init__(
            f"{what} {verb} refused: {said}" + ("" if said.endswith(("?", ".")) else ".")
        )

    @classmethod
    def from_document(cls, what: str, err: DocumentError) -> "Malformed":
        return cls(what, err.problems)

    @classmethod
    def unknown(
        cls,
        what: str,
        value: str,
        allowed: Sequence[str],
        label: Callable[[str], str] | None = None,
    ) -> "Malformed":
        """A filter value that names nothing: `The state 'sumbitted' was refused: it is not one of
        Draft (draft), Submitted (submitted), … — did you mean submitted?`: each by its
        `label`, with the code people type (DESIGN section 12); the guess is a code to type."""
        guess = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.6)
        hint = f" — did you mean {guess[0]}?" if guess else ""
        listed = ", ".join(f"{label(a)} ({a})" if label else a for a in allowed)
        return cls(f"The {what} '{value}'", [f"it is not one of {listed}{hint}"])


class ValueRefused(Malformed):
    """A value the request was read for, refused by casework's own rules: money written
    wrongly (`states.money`), a date that is not one or not allowed, text `states.text`
    refuses (a control character), a remittance reference that is not one clean line.

    A Malformed everywhere else (the command line prints it and exits 1; a page shows it in
    its error summary, still 400). Over the API the request could be read, so it is 422;
    what the API could not read at all (not JSON, the wrong shape or types, a query
    parameter or header that does not parse, a cursor it never gave) stays Malformed, 400.
    Raised where a service judges the value, so every face gets the same words."""


class DocumentRefused(ValueRefused):
    """An application document that is well-formed JSON but breaks the document rules
    (DESIGN section 7: an unknown programme or organisation, money written wrongly...).
    A Malformed everywhere; the API answers it 422, as a request it could read."""


class ConflictError(CaseworkError):
    def __init__(self, ref: str, detail: str = "", *, current_version: int | None = None):
        # current_version: what the case is at, when the refusal is a stale page's
        self.ref, self.current_version = ref, current_version
        super().__init__(
            detail
            or f"{ref} was changed by someone else at the same moment; "
            f"nothing of yours was written. Look at it again and retry."
        )


class SetupError(CaseworkError):
    pass


@overload
def checked_text(field: str, value: str, *, one_line: bool = False) -> str: ...
@overload
def checked_text(field: str, value: str | None, *, one_line: bool = False) -> str | None: ...


def checked_text(field: str, value: str | None, *, one_line: bool = False) -> str | None:
    """Text a person typed, kept exactly, or ValueRefused naming `field` (states.text's one
    rule)."""
    from states.text import text_problem

    bad = text_problem(field, value, one_line=one_line) if value else None
    if bad is not None:
        raise ValueRefused(f"The {field}", [bad])
    return value


class PreconditionFailed(CaseworkError):
    """If-Match named a version the case (or return) no longer has."""

    def __init__(self, ref: str, detail: str, current_version: int | None = None):
        self.ref, self.current_version = ref, current_version
        super().__init__(detail)


class PreconditionRequired(CaseworkError):
    """A write that must name the version it changes (If-Match) named none (RFC 6585, 428)."""


class TokenRefused(CaseworkError):
    """The request carried no token, or one that is unknown, revoked or expired."""


class KeyInUse(CaseworkError):
    def __init__(self, key: str):
        self.key = key
        super().__init__(
            f"A request with Idempotency-Key '{key}' is still being worked on; "
            f"send it again in a moment to get its answer."
        )


class KeyReused(CaseworkError):
    def __init__(self, key: str):
        self.key = key
        super().__init__(
            f"Idempotency-Key '{key}' was already used for a different request; "
            f"nothing was done. Use a new key for a new request."
        )


# What each refusal is over HTTP, most specific first: (class, status, problem type, title).
# The web pages and the API both answer with it; nothing else maps errors to statuses
# (save that a page answers every Malformed 400, ValueRefused included: web.errors).
HTTP: tuple[tuple[type[CaseworkError], int, str, str], ...] = (
    (TokenRefused, 401, "unauthenticated", "No valid API token"),
    (PermissionDenied, 403, "permission-denied", "Not allowed for this person"),
    (NotFound, 404, "not-found", "Not found"),
    (InvalidTransition, 409, "invalid-transition", "Not possible in the current state"),
    (KeyInUse, 409, "idempotency-key-in-use", "A request with this key is still running"),
    (PreconditionFailed, 412, "precondition-failed", "Changed since the version you sent"),
    (PreconditionRequired, 428, "precondition-required", "If-Match is required"),
    (ConflictError, 409, "conflict", "Changed by someone else at the same moment"),
    (KeyReused, 422, "idempotency-key-reused", "Key already used for another request"),
    (GuardFailed, 422, "rule-refused", "Refused by the programme's rules"),
    (ReasonRequired, 422, "reason-required", "A reason is needed"),
    (RuleViolation, 422, "rule-refused", "Refused by the programme's rules"),
    (DocumentRefused, 422, "document-refused", "The document breaks the document rules"),
    (ValueRefused, 422, "value-refused", "A value breaks casework's rules"),
    (Malformed, 400, "malformed", "Malformed input"),
    (Refused, 422, "refused", "Refused"),
    # The database cannot be reached or opened: try again later (not the caller's fault).
    (SetupError, 503, "unavailable", "The service cannot work right now"),
    (CaseworkError, 400, "refused", "Refused"),
)


def http_kind(err: CaseworkError) -> tuple[int, str, str]:
    """(status, problem type, title) of `err`, from the table."""
    for cls, status, slug, title in HTTP:
        if isinstance(err, cls):
            return status, slug, title
    raise TypeError(f"not a casework error: {err!r}")


def http_status(err: CaseworkError) -> int:
    return http_kind(err)[0]
