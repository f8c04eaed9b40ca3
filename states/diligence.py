"""Due diligence before eligibility (DESIGN.md section 9): the checks a programme lists.

A programme file lists its checks under `[diligence.CODE]`, each with its
words. A check is one of three kinds:

- `automatic`: run by casework when a case is submitted and again when it is
  checked or declared ineligible (the code must be one of AUTOMATIC); a failure can be overridden by
  a caseworker's record only where the file marks the check `overridable`;
- `manual`: a caseworker records pass or fail, with evidence;
- `rating`: a caseworker records pass or fail with a rating, low, medium or
  high, and evidence (`fraud_risk`).

`checklist(facts)` says where each check stands; the guard
`diligence_passed` (states.rules) refuses the move that finds a case eligible
while any check has not passed. Pure: the facts carry the records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from states.facts import DiligenceRecord, Facts, OrgFacts
from states.register import REGISTER_DAY, council_keyed, council_named
from states.words import Words, humanise, words_table

__all__ = [
    "Check",
    "Status",
    "KINDS",
    "RESULTS",
    "RATINGS",
    "AUTOMATIC",
    "STANDARD_CHECKS",
    "KIND_WORDS",
    "STATUS_WORDS",
    "RESULT_WORDS",
    "RATING_WORDS",
    "checklist",
    "applicable",
    "not_passed",
    "check_problems",
]

KINDS = ("automatic", "manual", "rating")
# Checks no programme file may mark overridable (DESIGN.md section 9: "never lead_is_council").
NEVER_OVERRIDDEN = frozenset({"lead_is_council"})
RESULTS = ("pass", "fail")
RATINGS = ("low", "medium", "high")
# Where a check stands.
STATUSES = ("passed", "overridden", "failed", "missing")

KIND_WORDS: Mapping[str, Words] = words_table(
    {
        "automatic": (
            "Run by casework",
            "casework runs the check when the case is submitted and again when it is checked.",
        ),
        "manual": ("Recorded by a caseworker", "A caseworker records pass or fail, with evidence."),
        "rating": (
            "Rated by a caseworker",
            "A caseworker rates the risk low, medium or high and "
            "records pass or fail, with evidence.",
        ),
    }
)
STATUS_WORDS: Mapping[str, Words] = words_table(
    {
        "passed": ("Passed", "The check passed."),
        "overridden": (
            "Passed on a caseworker's record",
            "The automatic check failed, and a caseworker recorded a pass with evidence "
            "where the programme allows it.",
        ),
        "failed": ("Failed", "The check failed: the case cannot be found eligible."),
        "missing": ("Not recorded yet", "A caseworker has still to record this check."),
    }
)
RESULT_WORDS: Mapping[str, Words] = words_table(
    {
        "pass": ("Pass", "The check was passed."),
        "fail": ("Fail", "The check was failed."),
    }
)
RATING_WORDS: Mapping[str, Words] = words_table(
    {
        "low": ("Low", "A low risk."),
        "medium": ("Medium", "A medium risk."),
        "high": (
            "High",
            "A high risk: the offer needs the senior responsible owner's countersignature.",
        ),
    }
)

_KIND_OF_ORG = {"fire": "a fire authority", "agency": "an agency"}


@dataclass(frozen=True)
class Check:
    """One check a programme lists."""

    code: str
    kind: str  # automatic | manual | rating
    label: str
    sentence: str
    overridable: bool = False  # automatic only: a caseworker's pass stands
    categories: tuple[str, ...] = ()  # bids of these categories only; () for every case

    def applies_to(self, category: str | None) -> bool:
        return not self.categories or category in self.categories

    @property
    def recordable(self) -> bool:
        """Whether a caseworker may record it (a manual check, or an overridable one)."""
        return self.kind != "automatic" or self.overridable


@dataclass(frozen=True)
class Status:
    """Where one check stands on one case."""

    check: Check
    status: str  # passed | overridden | failed | missing
    problems: tuple[str, ...] = ()  # why the automatic check fails
    record: DiligenceRecord | None = None  # the caseworker's latest record of it

    @property
    def passed(self) -> bool:
        return self.status in ("passed", "overridden")


# --- the automatic checks -------------------------------------------------------------
def _what(org: OrgFacts) -> str:
    return _KIND_OF_ORG.get(org.kind, org.kind)


def lead_is_council(facts: Facts) -> list[str]:
    lead = facts.lead
    if lead is None:
        return [f"the lead organisation {facts.application.lead} is not on record"]
    if lead.kind == "council":
        return []
    return [
        f"the lead, {lead.name}, is {_what(lead)}, not a council: "
        f"{facts.programme.name} awards are for councils"
    ]


def partners_are_councils(facts: Facts) -> list[str]:
    return [
        f"the partner {p.name} is {_what(p)}, not a council"
        for p in facts.partners
        if p.kind != "council"
    ]


def lead_is_local_body(facts: Facts) -> list[str]:
    """A network area's lead may be a council or another local agency (fire, police...)."""
    lead = facts.lead
    if lead is None:
        return [f"the lead organisation {facts.application.lead} is not on record"]
    if lead.kind in ("council", "fire", "agency"):
        return []
    return [f"the lead, {lead.name}, is not a council or another local agency"]


def no_duplicate_bid(facts: Facts) -> list[str]:
    if not facts.duplicates:
        return []
    lead = facts.lead.name if facts.lead is not None else facts.application.lead
    category = getattr(facts.application, "category", None)
    what = f" in {facts.programme.category_label(category)}" if category else ""
    refs = ", ".join(facts.duplicates)
    return [
        f"{lead} already has a bid{what} in {facts.programme.name} "
        f"({refs}), not withdrawn or rejected"
    ]


def _in_register(org: OrgFacts) -> str | None:
    """Why `org` is not in the register of English councils; None when it is."""
    if org.org_id:
        if council_keyed(org.org_id, REGISTER_DAY) is not None:
            return None
        return (
            f"{org.name}'s org-id {org.org_id} is not an English council in the register (GB-LAE-…)"
        )
    found = council_named(org.name, REGISTER_DAY)
    if len(found) == 1:
        return None
    if not found:
        return f"{org.name} is not in the register of English councils by name or org-id"
    return (
        f"{org.name} matches several councils in the register "
        f"({', '.join(c.official_name for c in found)}); record its org-id"
    )


def org_in_register(facts: Facts) -> list[str]:
    orgs = [o for o in (facts.lead, *facts.partners) if o is not None]
    return [why for why in map(_in_register, orgs) if why is not None]


AUTOMATIC: dict[str, Callable[[Facts], list[str]]] = {
    "lead_is_council": lead_is_council,
    "partners_are_councils": partners_are_councils,
    "lead_is_local_body": lead_is_local_body,
    "no_duplicate_bid": no_duplicate_bid,
    "org_in_register": org_in_register,
}

# Words a programme file may leave out for the checks casework knows.
STANDARD_CHECKS: Mapping[str, Words] = words_table(
    {
        "lead_is_council": (
            "Lead is a council",
            "The lead organisation is a council: the award is for councils.",
        ),
        "partners_are_councils": (
            "Partners are councils",
            "Every partner organisation is a council.",
        ),
        "lead_is_local_body": (
            "Lead is a council or local agency",
            "The lead organisation is a council or another local agency.",
        ),
        "no_duplicate_bid": (
            "No duplicate bid",
            "The lead has no other bid of the same category in the programme "
            "that is not withdrawn or rejected.",
        ),
        "org_in_register": (
            "In the register of English councils",
            "The lead and every partner are in the register of English councils, "
            "by 360Giving org-id or official name.",
        ),
        "fraud_risk": (
            "Fraud risk",
            "A caseworker's rating of the risk of fraud, low, medium or high, with evidence.",
        ),
    }
)


# --- where a case stands --------------------------------------------------------------
def applicable(checks: Mapping[str, Check], category: str | None) -> list[Check]:
    return [c for c in checks.values() if c.applies_to(category)]


def _latest(records: tuple[DiligenceRecord, ...], code: str) -> DiligenceRecord | None:
    found = [r for r in records if r.check == code]
    return found[-1] if found else None


def checklist(facts: Facts) -> list[Status]:
    """Each of the programme's checks that applies to the case, and where it stands."""
    checks = getattr(facts.programme, "diligence", {})
    out = []
    for check in applicable(checks, getattr(facts.application, "category", None)):
        record = _latest(facts.diligence, check.code)
        if check.kind == "automatic":
            problems = tuple(AUTOMATIC[check.code](facts))
            if check.overridable and record is not None:
                status = (
                    "failed"
                    if record.result == "fail"
                    else ("overridden" if problems else "passed")
                )
            else:
                status = "failed" if problems else "passed"
            out.append(Status(check, status, problems, record))
        elif record is None:
            out.append(Status(check, "missing"))
        else:
            out.append(
                Status(check, "passed" if record.result == "pass" else "failed", record=record)
            )
    return out


def not_passed(statuses: list[Status], ref: str, *, with_codes: bool = True) -> list[str]:
    """A sentence for each check that has not passed, saying what to do; each check named
    by its label, and `with_codes` its code after it (the command line's form, where people
    type codes; web pages show the label alone, DESIGN section 12)."""
    out = []
    for s in statuses:
        if s.passed:
            continue
        name = f"{s.check.label} ({s.check.code})" if with_codes else s.check.label
        if s.status == "missing":
            out.append(f"{name} is not recorded yet: a caseworker records it with evidence")
        elif s.record is not None and (s.check.kind != "automatic" or s.record.result == "fail"):
            out.append(
                f"{name} was recorded as failed by {s.record.actor}: declare {ref} "
                f"ineligible, naming the check"
            )
        else:
            then = (
                (
                    "a caseworker may record a pass with evidence if it is wrong, or declare "
                    f"{ref} ineligible, naming the check"
                )
                if s.check.overridable
                else f"declare {ref} ineligible, naming the check (it cannot be overridden)"
            )
            out.append(f"{name} failed: {'; '.join(s.problems)}; {then}")
    return out


def check_problems(
    code: str,
    kind: str | None,
    overridable: bool,
    label: str | None,
    sentence: str | None,
    path: str,
) -> list[str]:
    """What is wrong with one check as a programme file declares it."""
    out = []
    if kind is not None and kind not in KINDS:
        out.append(f"{path}.kind: '{kind}' is not one of {', '.join(KINDS)}")
    elif kind == "automatic" and code not in AUTOMATIC:
        out.append(
            f"{path}: casework runs no automatic check '{code}' (it runs {', '.join(AUTOMATIC)})"
        )
    elif kind in ("manual", "rating") and code in AUTOMATIC:
        out.append(f"{path}.kind: '{code}' is an automatic check")
    if overridable and code in NEVER_OVERRIDDEN:
        out.append(
            f"{path}.overridable: {code} is never overridden: the award is for "
            f"councils, whatever a caseworker records"
        )
    elif overridable and kind not in (None, "automatic"):
        out.append(
            f"{path}.overridable: only an automatic check is overridden; a caseworker "
            f"records a {kind} check anyway"
        )
    if not label:
        out.append(f"{path}.label: missing (what people read for the check {code!r})")
    if not sentence:
        out.append(f"{path}.sentence: missing (one sentence saying what the check asks)")
    return out


def label_of(checks: Mapping[str, Check], code: str) -> str:
    check = checks.get(code)
    if check is not None:
        return check.label
    words = STANDARD_CHECKS.get(code)
    return words.label if words else humanise(code)
