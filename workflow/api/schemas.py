"""The shapes the API documents: request bodies, answers and problems.

Answers are the services' own dictionaries (the `--json` shapes of the
command line), sent as they are; these models only describe them in the
OpenAPI document, and the schema tests prove every answer matches. More
fields than listed may appear (additional properties are allowed).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from states import AREA, BID, VARIATION
from states.review import STATUS_WORDS
from states.text import TEXT_PATTERN

MONEY = r"^-?[0-9]+\.[0-9]{2}$"


def _money(description: str = "Pounds with two decimals, as a string.") -> Any:
    return Field(pattern=MONEY, description=description, examples=["250000.00"])


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- requests -------------------------------------------------------------------------
# States the services' text rule (states.text) in the document; the services refuse, naming the field.
TYPED_TEXT = {"pattern": TEXT_PATTERN}
# What a return's `figures` part holds (the bundled programmes' fields; DESIGN section 7).
_WRITTEN_MONEY = {
    "anyOf": [
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$"},
        {"type": "integer", "minimum": 0},
    ]
}
FIGURES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "spend_to_date": _WRITTEN_MONEY,
        "savings_to_date": _WRITTEN_MONEY,
        "progress": {"type": "string", **TYPED_TEXT},
        "risks": {"type": "string", **TYPED_TEXT},
    },
}


# The triggers a case's definition fires only with a reason (T.needs_reason), as every face.
_NEEDS_REASON = sorted({t.trigger for d in (BID, AREA) for t in d.transitions if t.needs_reason})


class AdvanceRequest(BaseModel):
    """Fire one trigger on a case."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"trigger": "accept"},
                {"trigger": "declare_ineligible", "reason": "Lead council is not in England"},
            ]
        },
    )
    trigger: str = Field(
        min_length=1,
        max_length=40,
        description="A trigger defined from the case's state "
        "(`allowed_triggers` lists those you may fire).",
    )
    reason: Optional[str] = Field(
        default=None,
        max_length=4000,
        json_schema_extra=TYPED_TEXT,
        description="Why; required by the triggers whose definition asks for one ("
        + ", ".join(_NEEDS_REASON)
        + "), refused without it as `reason-required`. Tabs and new lines are kept; "
        "other control characters and bidirectional overrides are refused.",
    )


class AssignRequest(BaseModel):
    """Hand a case to another caseworker (caseworkers only)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"caseworker": "cath", "reason": "Carol is on leave in May."}]
        },
    )
    caseworker: str = Field(
        min_length=1, max_length=80, description="The name of the caseworker who takes the case on."
    )
    reason: Optional[str] = Field(
        default=None,
        max_length=4000,
        json_schema_extra=TYPED_TEXT,
        description="A note for the new caseworker (optional); text as for a trigger's reason.",
    )


# An application document (DESIGN section 7) as the API takes it: a bid's or an
# expression of interest's fields, the programme saying which. Money is pounds as a string
# or a JSON number with at most two decimals; a programme's own fields may be added.
_ORG_CODE = {"type": "string", "pattern": r"^[A-Z0-9][A-Z0-9-]{0,39}$"}
_DOC_TEXT = {"type": "string", "maxLength": 20000, **TYPED_TEXT}
APPLICATION_DOCUMENT: dict[str, Any] = {
    "type": "object",
    "title": "ApplicationDocument",
    "description": "A bid (`programme` of kind bids: tca-2013) or a network area's expression "
    "of interest (kind areas: pstn-2013), as `case open --from-file` reads it. "
    "Checked by the document rules (known programme, category and "
    "organisations, money as written, no field they do not know); a document that breaks them is "
    "answered 422 naming every field at fault.",
    "required": ["programme", "lead"],
    "properties": {
        "programme": {"type": "string", "maxLength": 40, "examples": ["tca-2013"]},
        "category": {
            "type": "string",
            "maxLength": 40,
            "description": "Bids: single_operation, shared_arrangement or esg_top_up.",
        },
        "title": _DOC_TEXT,
        "lead": _ORG_CODE,
        "partners": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "anyOf": [
                    _ORG_CODE,
                    {"type": "object", "properties": {"name": _DOC_TEXT, "evidence": _DOC_TEXT}},
                ]
            },
            "description": "Bids: partner organisations' codes. Areas: "
            "`{name, evidence}` of each partner.",
        },
        "amount": _WRITTEN_MONEY,
        "transitional_costs": _WRITTEN_MONEY,
        "annual_savings": _WRITTEN_MONEY,
        "contribution": _WRITTEN_MONEY,
        "arrangement": {"type": "string", "maxLength": 40},
        "innovation": _DOC_TEXT,
        "further_and_faster": _DOC_TEXT,
        "service_areas": {"type": "array", "maxItems": 20, "items": _DOC_TEXT},
        "how_to_succeed": _DOC_TEXT,
        "evidence": {
            "type": "array",
            "maxItems": 50,
            "items": {"type": "object"},
            "description": "The files attached to the application, as its evidence upload "
            "lists them (`{name, sha256, size, media_type}`); only files uploaded may be "
            "listed.",
        },
    },
    # A field the document rules do not know is refused (400), never kept quietly.
    "additionalProperties": False,
    "examples": [
        {
            "programme": "tca-2013",
            "category": "shared_arrangement",
            "title": "Joint procurement hub for three districts",
            "lead": "E07000026",
            "partners": ["E07000028", "E07000029"],
            "amount": "250000",
            "transitional_costs": "120000",
            "annual_savings": "400000",
            "arrangement": "joint_procurement",
            "innovation": "One buying team for three councils.",
        }
    ],
}


class ReviewRequest(BaseModel):
    """Record the decision of the case's annual review that is due (caseworkers only)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"decision": "continue", "reason": "Returns on time; spend as planned."}]
        },
    )
    decision: Literal["continue", "amend", "stop"] = Field(
        description="continue: the award carries on; amend: a change is asked for (a "
        "variation); stop: the case is suspended and put to an approver to "
        "terminate."
    )
    reason: str = Field(
        min_length=1,
        max_length=4000,
        json_schema_extra=TYPED_TEXT,
        description="Why (for amend, the change asked for); text as for a trigger's reason.",
    )
    amount: Optional[str] = Field(
        default=None,
        max_length=20,
        json_schema_extra={"pattern": r"^[0-9]+(\.[0-9]{1,2})?$"},
        description="amend only: the award's new total, in pounds "
        "(the variation proposed asks for it; refused, 422, while another variation of the "
        "case waits for a decision, as is `end`).",
    )
    end: Optional[str] = Field(
        default=None,
        max_length=10,
        json_schema_extra={"format": "date"},
        description="amend only: the award's new end date.",
    )


# --- answers --------------------------------------------------------------------------
class CaseSummary(_Shape):
    ref: str = Field(examples=["TCA-2013-0001"])
    kind: Literal["bid", "area"]
    programme: str
    state: str
    version: int = Field(description="Increases with every change; the ETag of the case.")
    allowed_triggers: list[str] = Field(
        description="Triggers defined from this state that you "
        "may fire (guards are not run for this list)."
    )
    title: str
    category: Optional[str] = None
    lead: str
    partners: list[str]
    caseworker: Optional[str] = None
    at_risk: bool
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})
    amount: Optional[str] = Field(
        default=None, pattern=MONEY, description="Bids: the amount asked for, in pounds."
    )
    contribution: Optional[str] = Field(
        default=None, pattern=MONEY, description="Areas: the agreed contribution, in pounds."
    )


class Case(CaseSummary):
    application: dict[str, Any] = Field(
        description="The fields of the document the case was opened from."
    )


class AmendedCase(Case):
    application_version: int = Field(
        description="The application's version now (1 is the document the case was opened from)."
    )
    changed: list[str] = Field(description="The fields this amendment changed.")


class ApplicationVersion(_Shape):
    ref: str = Field(examples=["TCA-2013-0001"])
    kind: Literal["bid", "area"]
    version: int = Field(
        description="This version's number: 1 is what was opened, each amendment the next."
    )
    latest: int = Field(description="The newest version's number.")
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the document's canonical JSON (keys sorted, no "
        "spaces, UTF-8), as the amendment's history row holds it.",
    )
    changed: list[str] = Field(
        description="The fields changed from the version before (empty for version 1)."
    )
    actor: str = Field(description="Who wrote this version.")
    at: str = Field(json_schema_extra={"format": "date-time"})
    document: dict[str, Any] = Field(description="The application document as it was then.")


class CasePage(_Shape):
    items: list[CaseSummary]
    next_cursor: Optional[str] = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class HistoryRow(_Shape):
    seq: int
    checkpoint: Optional[str] = Field(
        description="`Q2` for a return's rows; null for the case's own."
    )
    from_state: Optional[str]
    to_state: str
    trigger: str
    actor: str
    role: str
    reason: Optional[str]
    at: str = Field(json_schema_extra={"format": "date-time"})
    payload: dict[str, Any]
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    prev_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    payment: Optional[str] = Field(
        description="`P2` for a payment's rows; null for every other row. Part of the "
        "row's hash only when set.",
        examples=["P2"],
    )


class Review(_Shape):
    ref: str = Field(examples=["TCA-2013-0001/R1"])
    case: str
    review: str = Field(examples=["R1"])
    due: str = Field(json_schema_extra={"format": "date"})
    status: str = Field(
        description="Where the review stands (states.review.STATUS_WORDS): "
        "not_due, due, overdue (the SRO was told), recorded, or "
        "ended (the case stopped being monitored first)."
    )
    decision: Optional[Literal["continue", "amend", "stop"]]
    reason: Optional[str]
    recorded_by: Optional[str]
    recorded_at: Optional[str] = Field(json_schema_extra={"format": "date-time"})
    case_state: str = Field(
        description="The case's state after the decision (`suspended` after stop)."
    )
    variation: Optional[str] = Field(
        default=None, description="amend: the variation proposed (`TCA-2013-0001/V1`), if one was."
    )
    case_version: int


class ReviewListed(_Shape):
    """One annual review of an award, as `casework review list --case REF --json` gives it."""

    ref: str = Field(examples=["TCA-2013-0001/R1"])
    case: str
    review: str = Field(examples=["R1"])
    due: str = Field(json_schema_extra={"format": "date"})
    status: str = Field(
        json_schema_extra={"enum": list(STATUS_WORDS)},  # the review's own words, not repeated
        description="Where the review stands: not_due (it cannot be recorded before its due "
        "date), due, overdue (the SRO was told), recorded, or ended (the case stopped being "
        "monitored first).",
    )
    opened_at: Optional[str] = Field(json_schema_extra={"format": "date-time"})
    overdue_at: Optional[str] = Field(json_schema_extra={"format": "date-time"})
    decision: Optional[Literal["continue", "amend", "stop"]]
    reason: Optional[str]
    recorded_by: Optional[str]
    recorded_at: Optional[str] = Field(json_schema_extra={"format": "date-time"})
    caseworker: Optional[str]
    allowed_decisions: list[Literal["continue", "amend", "stop"]] = Field(
        description="The decisions you may record now with POST /cases/{ref}/reviews: none "
        "unless the review is due or overdue and you are a caseworker; amend only while the "
        "award is open to variation (or another variation waits, when the change asked for "
        "is kept with the review)."
    )


class ReviewPage(_Shape):
    items: list[ReviewListed]
    next_cursor: Optional[str]


class HistoryPage(_Shape):
    items: list[HistoryRow]
    next_cursor: Optional[str]


class ExportRow(HistoryRow):
    case: str


class NextStep(_Shape):
    name: str
    at: str = Field(json_schema_extra={"format": "date-time"})


class CheckpointSummary(_Shape):
    ref: str = Field(examples=["TCA-2013-0001/Q2"])
    case: str
    state: str
    due: str = Field(json_schema_extra={"format": "date"})
    level: int = Field(description="Escalation level, 0 until escalated.")
    version: int
    next_step: Optional[NextStep] = None
    submitted_at: Optional[str] = Field(default=None, json_schema_extra={"format": "date-time"})


class Attachment(_Shape):
    name: str
    sha256: str
    media_type: str


class Checkpoint(CheckpointSummary):
    allowed_triggers: list[str]
    figures: dict[str, Any]
    attachment: Optional[Attachment] = None


class CheckpointPage(_Shape):
    items: list[CheckpointSummary]
    next_cursor: Optional[str]


class PaymentSummary(_Shape):
    """A payment of an award (DESIGN.md section 8), as `payment list --json` gives it."""

    ref: str = Field(examples=["TCA-2013-0001/P1"])
    case: str
    state: str = Field(description="due, approved, held, paid or cancelled.")
    amount: str = Field(description="Pounds, two decimals.", examples=["125000.00"])
    due_on: str = Field(
        json_schema_extra={"format": "date"}, description="The day the tranche's event happened."
    )
    event: str = Field(
        description="What released the tranche: `accepted`, a return (`Q2`) or `last_return`."
    )
    reference: Optional[str] = Field(description="The remittance reference; null until paid.")


class Payment(PaymentSummary):
    version: int
    payment: str = Field(examples=["P1"])
    approved_by: Optional[str] = None
    approved_at: Optional[str] = Field(default=None, json_schema_extra={"format": "date-time"})
    paid_by: Optional[str] = None
    paid_at: Optional[str] = Field(default=None, json_schema_extra={"format": "date-time"})
    allowed_triggers: list[str]


class PaymentPage(_Shape):
    items: list[Payment]
    next_cursor: Optional[str]


class PaymentMove(BaseModel):
    """What an approval or a payment carries (both optional for an approval)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{}, {"reference": "BACS 2013/0042"}]}
    )
    reference: Optional[str] = Field(
        default=None,
        max_length=100,
        json_schema_extra={"pattern": r"^[^\x00-\x1f\x7f]*$"},
        description="The remittance reference (required to pay): one line, no control characters.",
    )
    reason: Optional[str] = Field(
        default=None,
        max_length=4000,
        json_schema_extra=TYPED_TEXT,
        description="A note kept in the history.",
    )


class Programme(_Shape):
    code: str
    name: str
    kind: Literal["bids", "areas"]
    fund: str = _money("The whole fund.")
    committed: str = _money("Reserved by offers, less what was released.")
    remaining: str = _money()
    paid: str = _money("Paid out of what is committed (issue 19).")
    recovering: str = _money("Owed back by councils whose awards were terminated after payments.")
    sro: Optional[str] = Field(
        description="The senior responsible owner (a person with role "
        "approver); null while the programme names none."
    )


class ProgrammePage(_Shape):
    items: list[Programme]
    next_cursor: Optional[str]


class RankingRow(_Shape):
    ref: str
    category: Optional[str]
    score: Optional[str] = Field(description="The combined score, two decimals; null when none.")
    amount: str = _money()
    running_total: str = _money(
        "What would be committed with this bid and every one above it that fits."
    )


class RankingPage(_Shape):
    items: list[RankingRow]
    next_cursor: Optional[str]


class OutboxMessage(_Shape):
    id: int
    kind: str
    state: Literal["queued", "sent", "dead"]
    to: list[str]
    cc: list[str]
    subject: str
    key: str
    attempts: int
    last_error: Optional[str]


class OutboxPage(_Shape):
    items: list[OutboxMessage]
    next_cursor: Optional[str]


class AdminLogRow(_Shape):
    """One change an administrator made (`audit admin --json`): who, when, what, the values
    before and after, and the row's hash in the log's chain."""

    id: int
    at: str = Field(json_schema_extra={"format": "date-time"})
    actor: str
    role: Literal["admin", "operator"]
    action: str = Field(examples=["user_disable"])
    target: str
    before: Optional[Any] = None
    after: Optional[Any] = None
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


class AdminLogPage(_Shape):
    items: list[AdminLogRow]
    next_cursor: Optional[str]


class GrantPackage(_Shape):
    """A 360Giving data package (standard 1.4), validated against the standard's schema."""

    grants: list[dict[str, Any]] = Field(min_length=1)


class Problem(_Shape):
    """An error, RFC 9457. `detail` is the service's own sentence; the facts follow."""

    type: str = Field(examples=["urn:casework:problem:invalid-transition"])
    title: str
    status: int
    detail: str
    programme: Optional[str] = Field(
        default=None, description="The programme code that names no programme (404)."
    )
    allowed: Optional[list[str]] = Field(default=None, description="Triggers allowed now.")
    violations: Optional[list[str]] = Field(default=None, description="Each rule broken.")
    problems: Optional[list[str]] = Field(default=None, description="Each malformed field.")
    current_version: Optional[int] = Field(default=None, description="The version now (412).")
    fund: Optional[dict[str, Any]] = Field(
        default=None, description="The fund's position (`remaining`) when an offer is refused."
    )


# --- grant agreements and variations (issue 19) --------------------------------------------
class AgreementVersion(_Shape):
    version: int
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    amount: str = _money("The award this version states.")
    end_on: Optional[str] = Field(default=None, json_schema_extra={"format": "date"})
    variation: Optional[str] = Field(default=None, examples=["TCA-2013-0001/V1"])
    made_by: str
    made_at: str = Field(json_schema_extra={"format": "date-time"})
    accepted_by_council: bool


class AcceptedAgreement(_Shape):
    version: int
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class AgreementListing(_Shape):
    """Every version of a case's grant agreement, and the one the council accepted."""

    ref: str
    accepted_version: Optional[AcceptedAgreement]
    versions: list[AgreementVersion]


class Variation(_Shape):
    ref: str = Field(examples=["TCA-2013-0001/V1"])
    case: str
    state: str = Field(json_schema_extra={"enum": list(VARIATION.states)})
    version: int
    amount: Optional[str] = _money("The award's new total (null: unchanged).")
    previous_amount: str = _money("The award when the variation was proposed.")
    end_on: Optional[str] = Field(default=None, json_schema_extra={"format": "date"})
    reason: str
    proposed_by: str
    proposed_at: str = Field(json_schema_extra={"format": "date-time"})
    decided_by: Optional[str] = None
    decided_at: Optional[str] = Field(default=None, json_schema_extra={"format": "date-time"})
    decision_reason: Optional[str] = None
    agreement_version: Optional[int] = None
    allowed_triggers: list[str]


class VariationPage(_Shape):
    items: list[Variation]
    next_cursor: Optional[str]


class VariationProposal(BaseModel):
    """A change to an award in monitoring: its new total, its new end date, or neither (a
    change of scope the reason describes)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"amount": "300000", "reason": "Two more districts join the hub."}]
        },
    )
    amount: Optional[str] = Field(
        default=None,
        max_length=20,
        json_schema_extra={"pattern": r"^[0-9]+(\.[0-9]{1,2})?$"},
        description="The award's new total in pounds.",
    )
    end_on: Optional[str] = Field(
        default=None,
        max_length=10,
        json_schema_extra={"format": "date"},
        description="The award's new end date (YYYY-MM-DD), after today.",
    )
    reason: str = Field(
        max_length=4000,
        json_schema_extra=TYPED_TEXT,
        description="What changes and why (kept in the history).",
    )


class VariationDecision(BaseModel):
    """An approver's decision; a rejection needs the reason."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{}, {"reason": "The fund is committed elsewhere."}]},
    )
    reason: Optional[str] = Field(
        default=None,
        max_length=4000,
        json_schema_extra=TYPED_TEXT,
        description="Why (kept in the history; required to reject).",
    )


# --- due diligence (DESIGN.md section 9) ------------------------------------------------
class DiligenceRecorded(_Shape):
    result: Literal["pass", "fail"]
    rating: Optional[Literal["low", "medium", "high"]] = None
    evidence: str
    by: str
    at: str = Field(json_schema_extra={"format": "date-time"})
    attachment: Optional[Attachment] = None


class DiligenceRun(_Shape):
    result: Literal["pass", "fail"]
    at: str = Field(json_schema_extra={"format": "date-time"})
    on: Optional[str] = Field(default=None, description="The move it ran on (submit, check).")


class DiligenceCheck(_Shape):
    check: str = Field(examples=["fraud_risk"])
    label: str
    sentence: str
    kind: Literal["automatic", "manual", "rating"]
    overridable: bool
    recordable: bool = Field(
        description="Whether a caseworker may record it (a manual check, "
        "or an automatic one the programme file marks "
        "overridable)."
    )
    status: Literal["passed", "overridden", "failed", "missing"]
    problems: list[str] = Field(description="Why the automatic check fails, where it does.")
    recorded: Optional[DiligenceRecorded] = None
    last_run: Optional[DiligenceRun] = None


class Diligence(_Shape):
    """A case's due-diligence checklist, as `casework diligence show REF --json`."""

    ref: str = Field(examples=["TCA-2013-0001"])
    kind: Literal["bid", "area"]
    state: str
    version: int
    recordable_now: bool = Field(description="Whether checks may be recorded in this state.")
    passed: bool = Field(description="Every check has passed: the case may be found eligible.")
    still_needed: list[str]
    fraud_rating: Optional[Literal["low", "medium", "high"]] = None
    checks: list[DiligenceCheck]
