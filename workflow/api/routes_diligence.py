"""Due diligence (DESIGN.md section 9): a case's checklist, and a caseworker's record of a check
(Idempotency-Key; multipart, with at most one evidence file as a return's)."""

from __future__ import annotations

import hashlib
from typing import Optional

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import Response

from states.text import TEXT_PATTERN
from workflow.api.deps import REPLAYED, answer_response, caller, engine_of, errors, json_response
from workflow.api.idempotency import Answer, fingerprint, json_text, once_in, parse_key
from workflow.api.problems import problem_answer
from workflow.api.routes_cases import IDEMPOTENCY_KEY, REF
from workflow.api.routes_returns import _attachment
from workflow.api.schemas import Diligence
from workflow.services import access, diligence
from workflow.services.engine import Actor
from workflow.services.unit_of_work import UnitOfWork

router = APIRouter(tags=["cases"])

CHECK = Path(
    ...,
    pattern=r"^[a-z][a-z0-9_]{0,39}$",
    examples=["fraud_risk"],
    description="A check the case's programme file lists (`checks[].check`).",
)


@router.get(
    "/cases/{ref}/diligence",
    response_model=Diligence,
    responses=errors(401, 403, 404),
    summary="A case's due-diligence checklist",
    description="As `casework diligence show REF --json`: each check the programme "
    "file lists for the case, where it stands, who recorded it, when and "
    "on what evidence, and what is still needed before the case can be "
    "found eligible. Staff only.",
)
def show_diligence(request: Request, ref: str = REF, actor: Actor = Depends(caller)) -> Response:
    access.require(actor, "cases")
    return json_response(diligence.show(engine_of(request), ref, actor.name))


@router.post(
    "/cases/{ref}/diligence/{check}",
    response_model=Diligence,
    responses=errors(401, 403, 404, 409, 413, 422, headers=REPLAYED, files=True),
    summary="Record a due-diligence check",
    description="A caseworker's record of one check on a submitted case (multipart): "
    "`result` pass or fail, `rating` low, medium or high for a rating "
    "check (fraud_risk) and only then, `evidence` (what the result rests "
    "on), and at most one evidence `file` (10 MB, as a return's). An "
    "automatic check is recorded only where the programme file marks it "
    "overridable. One history row `diligence`; the answer is the "
    "checklist as it now stands.",
)
def record_diligence(
    request: Request,
    ref: str = REF,
    check: str = CHECK,
    result: str = Form(
        ..., description="pass or fail.", json_schema_extra={"enum": ["pass", "fail"]}
    ),
    rating: Optional[str] = Form(
        None,
        description="low, medium or high: for a rating check only.",
        json_schema_extra={"enum": ["low", "medium", "high"]},
    ),
    evidence: str = Form(
        ...,
        min_length=1,
        max_length=4000,
        description="What the result rests on. Tabs and new "
        "lines are kept; other control characters "
        "are refused.",
        json_schema_extra={"pattern": TEXT_PATTERN},
    ),
    file: Optional[UploadFile] = File(None, description="One evidence file."),
    idempotency_key: Optional[str] = IDEMPOTENCY_KEY,
    actor: Actor = Depends(caller),
) -> Response:
    engine = engine_of(request)
    key = parse_key(idempotency_key)
    attachment = _attachment(file)
    fp = fingerprint(
        "diligence",
        ref.upper(),
        check,
        result,
        rating,
        evidence,
        attachment[0] if attachment else None,
        hashlib.sha256(attachment[1]).hexdigest() if attachment else None,
    )

    def work(uow: UnitOfWork) -> Answer:
        shown = diligence.record(
            uow,
            ref,
            check,
            actor.name,
            result=result,
            rating=rating,
            evidence=evidence,
            attachment=attachment,
        )
        return Answer(200, json_text(shown))

    return answer_response(once_in(engine, actor.name, key, fp, work, problem_answer))
