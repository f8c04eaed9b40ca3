"""A write through the API's two preconditions, the same way for every resource: If-Match
(the version the caller last saw; a stale one is 412 with the current version) and
Idempotency-Key (the same request again is answered from the stored answer, in the unit of
work that did the change)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Engine

from workflow.api.deps import answer_response, etag, parse_if_match
from workflow.api.idempotency import Answer, fingerprint, json_text, once_in, parse_key
from workflow.api.problems import PreconditionFailed, problem_answer
from workflow.errors import ConflictError
from workflow.services import access, lifecycle
from workflow.services.engine import Actor
from workflow.services.unit_of_work import UnitOfWork
from workflow.storage.db import reading
from workflow.storage.records import CaseRecord

# The change: given the unit of work and the version If-Match named (or None), the
# resource as it now stands (with its "version").
Change = Callable[[UnitOfWork, "int | None"], dict[str, Any]]


def visible_case(engine: Engine, actor: Actor, ref: str) -> CaseRecord:
    """The case `ref`, refused as not found when the caller may not see it."""
    with reading(engine) as conn:
        case = lifecycle.load_case(conn, ref)
    access.check_visible(actor, case)
    return case


def body_text(body: BaseModel) -> str:
    """A request body as its fingerprint takes it: the same fields give the same text."""
    return json.dumps(body.model_dump(), sort_keys=True)


@dataclass(frozen=True)
class Preconditions:
    """The two headers, checked before anything is read (a malformed one is a 400)."""

    if_match: str | None
    expected: int | None
    key: str | None

    @classmethod
    def of(cls, if_match: str | None, idempotency_key: str | None) -> "Preconditions":
        return cls(if_match, parse_if_match(if_match), parse_key(idempotency_key))

    def write(
        self,
        engine: Engine,
        actor: Actor,
        request: tuple[bytes | str | None, ...],
        target: str,
        change: Change,
        *,
        status: int = 200,
        current: Callable[[UnitOfWork], int] | None = None,
    ) -> Response:
        """Run `change` once for this key; `request` is what makes two requests the same one
        (the action, the resource, the body), `target` the resource a 412 names, and
        `current` reads its version when the conflict did not say it."""
        expected = self.expected

        def work(uow: UnitOfWork) -> Answer:
            try:
                done = change(uow, expected)
            except ConflictError as err:
                if expected is None:
                    raise
                version = err.current_version or (current(uow) if current else None)
                raise PreconditionFailed(target, str(err), current_version=version) from None
            return Answer(status, json_text(done), {"ETag": etag(done["version"])})

        fp = fingerprint(*request, self.if_match)
        return answer_response(once_in(engine, actor.name, self.key, fp, work, problem_answer))
