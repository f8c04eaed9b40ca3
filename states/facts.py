"""The facts a guard sees: frozen, gathered by the engine, never fetched by a rule.

A rule is `def rule(facts: Facts) -> list[str]`; an empty list means allowed.
A rule declares the groups of facts it reads beyond the case itself
(`@reads("ledger")` in states.rules): the engine fetches exactly those, and a
test fails on a rule that reads a fact of a group it did not declare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Mapping


@dataclass(frozen=True)
class OrgFacts:
    code: str
    name: str
    kind: str = "council"  # council | fire | agency
    esg_allocation_pence: int | None = None
    org_id: str | None = None  # its 360Giving org-id, where one is on record


@dataclass(frozen=True)
class Score:
    assessor: str
    innovation: int
    costs: int
    savings: int


@dataclass(frozen=True)
class CheckpointFacts:
    ref: str
    state: str
    due: date | None = None


@dataclass(frozen=True)
class DiligenceRecord:
    """A caseworker's record of one due-diligence check (a history row `diligence`)."""

    check: str
    result: str  # pass | fail
    actor: str
    at: datetime
    evidence: str = ""
    rating: str | None = None  # low | medium | high, on a rating check


@dataclass(frozen=True)
class Facts:
    kind: str  # bid | area | checkpoint
    ref: str
    programme: Any  # states.programme.ProgrammeSpec
    application: Any = None  # states.documents.BidApplication | AreaApplication
    lead: OrgFacts | None = None
    partners: tuple[OrgFacts, ...] = ()  # bids: partner organisations on record
    actor: str = ""  # the person firing the trigger
    caseworker: str | None = None  # the case's caseworker
    now: datetime | None = None
    # money and counts across the programme, leaving this case out
    committed_pence: int = 0  # offered + accepted - released
    offers_in_category: int = 0  # live offers in this bid's category
    # assessment
    scores: tuple[Score, ...] = ()
    conflicted: frozenset[str] = frozenset()  # people who declared a conflict on this case
    declared_no_conflict: frozenset[str] = frozenset()
    agreed_score: Score | None = None  # a moderator's agreed score, where one was given
    # controls (DESIGN.md section 9): who countersigned the offer, the fraud-risk rating,
    # the programme's senior responsible owner
    countersigners: tuple[str, ...] = ()
    fraud_risk: str | None = None  # low | medium | high, once rated
    sro: str | None = None
    previous_pence: int | None = None  # a variation: the award before it (None: an offer)
    # network areas
    contribution_pence: int | None = None  # the agreed contribution, once recorded
    # monitoring
    checkpoints: tuple[CheckpointFacts, ...] = ()
    figures: Mapping[str, Any] = field(default_factory=dict)  # a return being submitted
    # due diligence (DESIGN.md section 9)
    diligence: tuple[DiligenceRecord, ...] = ()  # caseworkers' records, oldest first
    duplicates: tuple[str, ...] = ()  # earlier bids of the same lead, programme, category
    fraud_rating: str | None = None  # the latest rating of a rating check (high needs the SRO)


# The groups of facts the engine fetches only for a rule that declares it reads them.
FACT_GROUPS: Mapping[str, frozenset[str]] = {
    "organisations": frozenset({"lead", "partners"}),
    "ledger": frozenset({"committed_pence"}),
    "offers": frozenset({"offers_in_category"}),
    "assessment": frozenset({"scores", "conflicted", "declared_no_conflict", "agreed_score"}),
    "checkpoints": frozenset({"checkpoints"}),
    "diligence": frozenset({"diligence", "duplicates", "fraud_rating"}),
    "countersignature": frozenset({"countersigners", "fraud_risk", "sro", "previous_pence"}),
}
# What every rule may read: the case, its programme, who acts, when, and what was sent.
ALWAYS_READ = frozenset(
    {
        "kind",
        "ref",
        "programme",
        "application",
        "actor",
        "caseworker",
        "now",
        "contribution_pence",
        "figures",
    }
)
