"""The programme rules: guards named in the definitions, as pure functions.

A rule takes the Facts the engine gathered and returns every violation as a
sentence a caseworker can act on; an empty list means allowed. The numbers
come from the programme file (facts.programme), never from this module.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Any, Callable, Mapping

from states import dates
from states.checkpoint import CHECKPOINT
from states.diligence import checklist, not_passed
from states.facts import FACT_GROUPS, Facts, Score
from states.money import pounds

Rule = Callable[[Facts], list[str]]
MAX_SCORE = 5  # each criterion is scored 0-5 (DESIGN.md section 1)

__all__ = [
    "RULES",
    "ACTOR_RULES",
    "Rule",
    "reads",
    "facts_read",
    "MAX_SCORE",
    "weighted_score",
    "combined_score",
    "score_problems",
    "score_typed",
    "meets_category_rules",
    "within_fund",
    "within_category_count",
    "has_two_scores",
    "no_conflicted_assessor",
    "scores_agree",
    "eoi_complete",
    "contribution_agreed",
    "all_checkpoints_accepted",
    "return_complete",
    "did_not_assess",
    "not_the_caseworker",
    "diligence_passed",
    "countersignatures_missing",
    "needs_countersignature",
    "countersigned",
    "may_countersign",
    "did_not_countersign",
    "variation_needs_countersignature",
    "variation_countersigned",
]

# How a rule names a field a category requires, for the caseworker reading it.
_FIELD_WORDS = {
    "transitional_costs": "its estimated transitional costs",
    "annual_savings": "its expected annual savings",
    "arrangement": "the kind of shared arrangement",
    "innovation": "what is innovative about it",
    "further_and_faster": "how it goes further and faster than already planned",
}

_KIND_WORDS = {"fire": "a fire authority", "agency": "an agency"}

# Money fields are held in pence on the application.
_ATTRIBUTE = {
    "transitional_costs": "transitional_costs_pence",
    "annual_savings": "annual_savings_pence",
}


def reads(*groups: str) -> Callable[[Rule], Rule]:
    """Declare the groups of facts (states.facts.FACT_GROUPS) a rule reads."""
    unknown = [g for g in groups if g not in FACT_GROUPS]
    if unknown:
        raise ValueError(f"unknown groups of facts: {', '.join(unknown)}")

    def declare(rule: Rule) -> Rule:
        rule.reads = frozenset(groups)  # type: ignore[attr-defined]
        return rule

    return declare


def facts_read(rule: Rule) -> frozenset[str]:
    """The groups of facts `rule` declared (none: it reads only the case and its programme)."""
    return getattr(rule, "reads", frozenset())


# --- bids: eligibility ----------------------------------------------------


@reads("organisations")
def meets_category_rules(facts: Facts) -> list[str]:
    """The category's band, partners, ESG allocation and the fields it must state."""
    app, programme = facts.application, facts.programme
    category = programme.categories.get(app.category)
    if category is None:
        return [
            f"{app.category!r} is not a category of {programme.code} "
            f"({', '.join(programme.categories)})"
        ]
    name, asked = category.label or category.name, app.amount_pence
    out: list[str] = []
    if not app.title.strip():
        out.append("the bid has no title (title)")
    if asked is None:  # a draft written a page at a time may not have said yet
        return [
            *out,
            "the bid does not say how much it asks for (amount)",
            *_category_fields(app, category, name),
        ]
    if category.min_pence is not None and asked < category.min_pence:
        out.append(
            f"{name} asks at least {pounds(category.min_pence)}; this bid asks {pounds(asked)} "
            f"(amount)"
        )
    if category.max_pence is not None and asked > category.max_pence:
        out.append(
            f"{name} asks at most {pounds(category.max_pence)}; this bid asks {pounds(asked)} "
            f"(amount)"
        )
    if category.min_partner_councils:
        out += _partner_councils(facts, name, category.min_partner_councils)
    if category.needs_esg_allocation or category.esg_share is not None:
        out += _esg_share(facts, name, category.esg_share)
    return out + _category_fields(app, category, name)


def _category_fields(app: Any, category: Any, name: str) -> list[str]:
    """The fields the category requires that the bid leaves out, and its arrangement."""
    out: list[str] = []
    for key in category.required_fields:
        value = getattr(app, _ATTRIBUTE.get(key, key), None)
        if value is None or (isinstance(value, str) and not value.strip()):
            out.append(
                f"{name} bids must state {_FIELD_WORDS.get(key, key)} ({key}); this bid does not"
            )
    if (
        category.arrangements
        and app.arrangement is not None
        and app.arrangement not in category.arrangements
    ):
        out.append(
            f"{name} allows the arrangements {', '.join(category.arrangements)} "
            f"(arrangement); "
            f"this bid names {app.arrangement!r}"
        )
    return out


def _partner_councils(facts: Facts, name: str, needed: int) -> list[str]:
    councils = [p for p in facts.partners if p.kind == "council"]
    if len(councils) >= needed:
        return []
    others = [
        f"{p.name} is {_KIND_WORDS.get(p.kind, p.kind)}, not a council"
        for p in facts.partners
        if p.kind != "council"
    ]
    words = f" ({'; '.join(others)})" if others else ""
    return [
        f"{name} is for a group of councils: it needs the lead and at least {needed} "
        f"partner council{'s' if needed != 1 else ''} (partners); this bid names "
        f"{len(councils)}{words}"
    ]


def _esg_share(facts: Facts, name: str, share: Decimal | None) -> list[str]:
    lead = facts.lead
    if lead is None or lead.esg_allocation_pence is None:
        who = lead.name if lead is not None else facts.application.lead
        return [f"{who} has no Efficiency Support Grant allocation on record"]
    if share is None:
        return []
    # Rounded down to the penny: exactly the share is allowed, a penny over is not.
    limit = int((Decimal(lead.esg_allocation_pence) * share).to_integral_value(ROUND_FLOOR))
    asked = facts.application.amount_pence or 0
    if asked <= limit:
        return []
    percent = format((share * 100).normalize(), "f")
    return [
        f"{name} is limited to {percent}% of {lead.name}'s ESG allocation of "
        f"{pounds(lead.esg_allocation_pence)}, so at most {pounds(limit)}; "
        f"this bid asks {pounds(asked)} (amount)"
    ]


# --- due diligence (DESIGN.md section 9) ------------------------------------


@reads("organisations", "diligence")
def diligence_passed(facts: Facts) -> list[str]:
    """Every due-diligence check the programme lists for the case has passed."""
    return not_passed(checklist(facts), facts.ref)


# --- bids: money and counts at offer ---------------------------------------


@reads("ledger")
def within_fund(facts: Facts) -> list[str]:
    """The offer must not take the programme's committed total past its fund."""
    fund, asked = facts.programme.fund_pence, facts.application.amount_pence or 0
    after = facts.committed_pence + asked
    if after <= fund:
        return []
    return [
        f"offering {pounds(asked)} would commit {pounds(after)}, past the fund's "
        f"{pounds(fund)} ({pounds(fund - facts.committed_pence)} remains)"
    ]


@reads("offers")
def within_category_count(facts: Facts) -> list[str]:
    """The offer must not go past the category's number of awards."""
    category = facts.programme.categories.get(facts.application.category)
    if category is None or category.max_count is None:
        return []
    made = facts.offers_in_category
    if made < category.max_count:
        return []
    offers = "offer" if category.max_count == 1 else "offers"
    return [
        f"{category.label or category.name} allows at most {category.max_count} {offers} "
        f"and {made} "
        f"{'is' if made == 1 else 'are'} already made"
    ]


# --- bids: the second approver (DESIGN.md section 9) ---------------------


def countersignatures_missing(facts: Facts, *, leave_out: str | None = None) -> list[str]:
    """What the offer still lacks, as sentences: a second approver's countersignature when
    the amount is above the programme's `countersign_above` (an amount equal to it needs
    none), the senior responsible owner's when the fraud risk is rated high (whatever the
    amount). A countersignature by `leave_out` (the approver offering) counts for nothing."""
    threshold = facts.programme.countersign_above_pence
    asked = facts.application.amount_pence
    signed = [p for p in facts.countersigners if p != leave_out]
    out: list[str] = []
    if threshold is not None and asked > threshold and not signed:
        out.append(
            f"an offer of {pounds(asked)} is above the programme's countersignature "
            f"threshold of {pounds(threshold)}: it needs a second approver's "
            f"countersignature, by an approver who neither makes the offer nor "
            f"assessed the bid"
        )
    if facts.fraud_risk == "high" and (facts.sro is None or facts.sro not in signed):
        if facts.sro is None:
            out.append(
                f"{facts.ref}'s fraud risk is rated high: it needs the countersignature "
                f"of the programme's senior responsible owner, and the programme names "
                f"none yet"
            )
        else:
            out.append(
                f"{facts.ref}'s fraud risk is rated high: it needs the countersignature "
                f"of the programme's senior responsible owner, {facts.sro}"
            )
    return out


@reads("countersignature")
def needs_countersignature(facts: Facts) -> list[str]:
    """A countersignature is given only where the offer still needs one this approver can give."""
    missing = countersignatures_missing(facts)
    if not missing:
        threshold = facts.programme.countersign_above_pence
        if facts.countersigners:
            return [
                f"{facts.ref}'s offer is already countersigned by "
                f"{', '.join(facts.countersigners)}: it needs no other countersignature"
            ]
        limit = (
            f"not above the programme's countersignature threshold of {pounds(threshold)}"
            if threshold is not None
            else "under a programme with no countersignature threshold"
        )
        return [
            f"{facts.ref}'s offer of {pounds(facts.application.amount_pence)} is {limit} "
            f"and its fraud risk is not rated high: it needs no countersignature"
        ]
    second_missing = any(m.startswith("an offer of") for m in missing)
    if second_missing or facts.actor == facts.sro:
        return []
    # Only the senior responsible owner's signature is missing, and this is someone else.
    return [m + ", and only they can give it" if facts.sro is not None else m for m in missing]


def _raised_above(facts: Facts) -> bool:
    """A variation raising the award to a total above the programme's threshold."""
    threshold, previous = facts.programme.countersign_above_pence, facts.previous_pence
    total = facts.application.amount_pence
    return threshold is not None and previous is not None and total > previous and total > threshold


@reads("countersignature")
def variation_needs_countersignature(facts: Facts) -> list[str]:
    """A variation is countersigned only when it raises the award above the threshold, once."""
    if not _raised_above(facts):
        threshold = facts.programme.countersign_above_pence
        limit = f" of {pounds(threshold)}" if threshold is not None else ""
        return [
            f"this variation does not raise {facts.ref}'s award above the programme's "
            f"countersignature threshold{limit}: it needs no countersignature"
        ]
    if facts.countersigners:
        return [
            f"this variation is already countersigned by "
            f"{', '.join(facts.countersigners)}: it needs no other countersignature"
        ]
    return []


@reads("countersignature")
def variation_countersigned(facts: Facts) -> list[str]:
    """An increase above the threshold is countersigned by someone other than the approver."""
    if not _raised_above(facts) or [p for p in facts.countersigners if p != facts.actor]:
        return []
    threshold = facts.programme.countersign_above_pence
    return [
        f"the variation raises {facts.ref}'s award from {pounds(facts.previous_pence or 0)} "
        f"to {pounds(facts.application.amount_pence)}, above the programme's "
        f"countersignature threshold of {pounds(threshold or 0)}: it needs a second "
        f"approver's countersignature (casework variation countersign), by an approver "
        f"who neither approves it nor assessed the bid"
    ]


@reads("countersignature")
def countersigned(facts: Facts) -> list[str]:
    """The offer has every countersignature it needs, by people other than the one offering."""
    return countersignatures_missing(facts, leave_out=facts.actor)


# --- bids: assessment -----------------------------------------------------


def weighted_score(score: Score, criteria: Mapping[str, Decimal]) -> Decimal:
    """Each 0-5 score times its criterion's weight, added up."""
    return sum(
        (Decimal(getattr(score, name)) * weight for name, weight in criteria.items()), Decimal(0)
    )


def score_typed(text: str) -> int | str:
    """A score as a person typed it: a whole number is that number; anything else ("3.5",
    "four", "²") stays text, which `score_problems` refuses with the scores allowed."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdecimal() and len(text) < 3 else text


def score_problems(score: Score) -> list[str]:
    """Each criterion is scored as a whole number from 0 to 5 (for the engine's input); a
    score typed as text that is not one (`score_typed`) is refused in the same words."""
    out = []
    for name in ("innovation", "costs", "savings"):
        value = getattr(score, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SCORE:
            out.append(f"{name}: {value!r} is not a whole number from 0 to {MAX_SCORE}")
    return out


def _counted(facts: Facts) -> list[Score]:
    """Scores that count: a conflicted assessor's score never does."""
    return [s for s in facts.scores if s.assessor not in facts.conflicted]


def combined_score(facts: Facts) -> Decimal | None:
    """The moderator's agreed score where given, else the mean of the weighted scores."""
    criteria = facts.programme.criteria
    if facts.agreed_score is not None:
        return weighted_score(facts.agreed_score, criteria)
    scores = _counted(facts)
    if not scores:
        return None
    return sum((weighted_score(s, criteria) for s in scores), Decimal(0)) / len(scores)


@reads("assessment")
def has_two_scores(facts: Facts) -> list[str]:
    assessors = sorted({s.assessor for s in facts.scores})
    if len(assessors) >= 2:
        return []
    by = f" (from {assessors[0]})" if assessors else ""
    return [
        f"moderation needs scores from two different assessors; {facts.ref} has "
        f"{len(assessors)}{by}"
    ]


@reads("assessment")
def no_conflicted_assessor(facts: Facts) -> list[str]:
    return [
        f"{s.assessor} declared a conflict of interest on {facts.ref} but scored it: "
        f"that score cannot count, so ask another assessor to score instead"
        for s in facts.scores
        if s.assessor in facts.conflicted
    ]


@reads("assessment")
def scores_agree(facts: Facts) -> list[str]:
    """Weighted scores further apart than the tolerance need a moderator's agreed score."""
    if facts.agreed_score is not None:
        return []
    criteria = facts.programme.criteria
    weighted = {s.assessor: weighted_score(s, criteria) for s in _counted(facts)}
    if len(weighted) < 2:
        return []
    gap = max(weighted.values()) - min(weighted.values())
    tolerance = facts.programme.score_tolerance
    if gap <= tolerance:
        return []
    shown = ", ".join(f"{who} {_num(score)}" for who, score in sorted(weighted.items()))
    return [
        f"the assessors' weighted scores differ by {_num(gap)} ({shown}), more than the "
        f"tolerance of {tolerance}: a moderator's agreed score is needed"
    ]


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


# --- network areas --------------------------------------------------------


def eoi_complete(facts: Facts) -> list[str]:
    """Service areas, how the area can succeed, and partners who are bought in."""
    app, needs = facts.application, facts.programme.eoi
    out: list[str] = []
    if not app.title.strip():
        out.append("the expression of interest has no title (title)")
    if len(app.service_areas) < needs.min_service_areas:
        out.append(
            f"the expression of interest names {len(app.service_areas)} service "
            f"area{'s' if len(app.service_areas) != 1 else ''} to reform; it needs at "
            f"least {needs.min_service_areas} (service_areas)"
        )
    if not (app.how_to_succeed or "").strip():
        out.append(
            "the expression of interest does not say how the area can succeed (how_to_succeed)"
        )
    backed = [p for p in app.partners if (p.evidence or "").strip()]
    for p in app.partners:
        if p not in backed:
            out.append(f"{p.name} is named as a partner without evidence that it is bought in")
    if len(backed) < needs.min_partners:
        out.append(
            f"the expression of interest needs at least {needs.min_partners} named "
            f"partner bodies with evidence that they are bought in; it has {len(backed)}"
        )
    return out


def contribution_agreed(facts: Facts) -> list[str]:
    if facts.contribution_pence is not None:
        return []
    proposed = getattr(facts.application, "contribution_pence", None)
    offer = (
        f" (the expression of interest proposed {pounds(proposed)})" if proposed is not None else ""
    )
    return [
        f"{facts.ref}'s contribution to the network's running costs is not agreed yet"
        f"{offer}: record it with `casework area contribution {facts.ref} POUNDS`"
    ]


# --- monitoring -----------------------------------------------------------


@reads("checkpoints")
def all_checkpoints_accepted(facts: Facts) -> list[str]:
    if not facts.checkpoints:
        return [f"{facts.ref} has no monitoring returns, so it cannot be completed yet"]
    return [
        f"{c.ref} is {CHECKPOINT.state_label(c.state).lower()}"
        f"{f' (due {dates.day(c.due)})' if c.due else ''}: accept or waive it first"
        for c in facts.checkpoints
        if not CHECKPOINT.is_final(c.state)
    ]


def return_complete(facts: Facts) -> list[str]:
    """Every field the programme marks required is given (blank text is not), and a
    return gives something: one with no figures and no words at all is refused."""
    fields = facts.programme.monitoring.fields
    given = {name for name in fields if _given(facts.figures.get(name))}
    if not given:
        listed = ", ".join(f"{spec.label or name} ({name})" for name, spec in fields.items())
        return [f"the return is empty: it gives none of {listed}"]
    return [
        f"{spec.label or name} ({name}) is required in a {facts.programme.name} return "
        f"and was not given"
        for name, spec in fields.items()
        if spec.required and name not in given
    ]


def _given(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


# --- about the person acting ------------------------------------------------


def _assessors(facts: Facts) -> set[str]:
    """Everyone who scored the case, declared on it, or gave its agreed score."""
    assessors = (
        {s.assessor for s in facts.scores} | set(facts.conflicted) | set(facts.declared_no_conflict)
    )
    if facts.agreed_score is not None:
        assessors.add(facts.agreed_score.assessor)
    return assessors


@reads("assessment")
def did_not_assess(facts: Facts) -> list[str]:
    """An approver who scored a case, or declared on it, cannot decide it."""
    if facts.actor not in _assessors(facts):
        return []
    return [
        f"you assessed {facts.ref}, so you cannot offer its award or terminate it: "
        f"another approver must"
    ]


def not_the_caseworker(facts: Facts) -> list[str]:
    """The case's own caseworker cannot approve its payments: another approver must."""
    if not facts.caseworker or facts.actor != facts.caseworker:
        return []
    case_ref = facts.ref.split("/", 1)[0]  # the payment's case: TCA-2013-0001/P2's
    return [
        f"you are the caseworker of {case_ref}, so you cannot approve its payments: "
        f"another approver must"
    ]


@reads("assessment", "countersignature")
def may_countersign(facts: Facts) -> list[str]:
    """Each approver countersigns once, and never one who assessed the bid."""
    what = "offer" if facts.previous_pence is None else "variation"
    if facts.actor in facts.countersigners:
        return [
            f"you have already countersigned {facts.ref}'s {what}: each approver "
            f"countersigns once, and another approver must give any other signature"
        ]
    if facts.actor in _assessors(facts):
        return [
            f"you assessed {facts.ref}, so you cannot countersign its {what}: another approver must"
        ]
    return []


@reads("countersignature")
def did_not_countersign(facts: Facts) -> list[str]:
    """The approver who countersigned an offer cannot also make it."""
    if facts.actor not in facts.countersigners:
        return []
    if facts.previous_pence is not None:
        return [
            f"you countersigned {facts.ref}'s variation, so you cannot also approve it: "
            f"another approver must"
        ]
    return [
        f"you countersigned {facts.ref}'s offer, so you cannot also make it: another "
        f"approver must offer it"
    ]


RULES: dict[str, Rule] = {
    "meets_category_rules": meets_category_rules,
    "within_fund": within_fund,
    "within_category_count": within_category_count,
    "has_two_scores": has_two_scores,
    "no_conflicted_assessor": no_conflicted_assessor,
    "scores_agree": scores_agree,
    "eoi_complete": eoi_complete,
    "contribution_agreed": contribution_agreed,
    "all_checkpoints_accepted": all_checkpoints_accepted,
    "return_complete": return_complete,
    "diligence_passed": diligence_passed,
    "needs_countersignature": needs_countersignature,
    "countersigned": countersigned,
    "variation_needs_countersignature": variation_needs_countersignature,
    "variation_countersigned": variation_countersigned,
}

ACTOR_RULES: dict[str, Rule] = {
    "did_not_assess": did_not_assess,
    "not_the_caseworker": not_the_caseworker,
    "may_countersign": may_countersign,
    "did_not_countersign": did_not_countersign,
}
