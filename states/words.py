"""Words for people: a label and a one-sentence description for each code.

Codes (`under_assessment`, `ask_clarification`, `esg_top_up`) are what the
database, `--json`, the API and history keep; people read the label ("Under
assessment") and, where there is room, the sentence (DESIGN.md section 12).
The definitions, the programme files and the message kinds each declare
their own words; this module holds the shape, the self-check, and the words
of history rows that are not transitions of a definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable, Mapping

__all__ = [
    "Words",
    "words_table",
    "missing_words",
    "allowed_now",
    "EVENT_WORDS",
    "ADMIN_WORDS",
    "ROLE_WORDS",
    "admin_label",
    "role_label",
    "role_person",
    "role_people",
    "one_of",
    "event_label",
    "humanise",
    "given",
]


@dataclass(frozen=True)
class Words:
    """What people read for one code: a short label and one sentence."""

    label: str
    sentence: str = ""


WordsLike = Words | tuple[str, str] | tuple[str]


def words_table(entries: Mapping[str, WordsLike] | None) -> Mapping[str, Words]:
    """A read-only table from `{"code": ("Label", "Sentence.")}` as definitions write it."""
    out: dict[str, Words] = {}
    for code, entry in (entries or {}).items():
        out[code] = entry if isinstance(entry, Words) else Words(*entry)
    return MappingProxyType(out)


def missing_words(
    owner: str, what: str, codes: Iterable[str], table: Mapping[str, Words]
) -> list[str]:
    """One sentence per code that has no label (or no sentence) in `table`."""
    out: list[str] = []
    for code in codes:
        words = table.get(code)
        if words is None or not words.label.strip():
            out.append(f"{owner}: {what} '{code}' has no label for people")
        elif not words.sentence.strip():
            out.append(f"{owner}: {what} '{code}' has no sentence saying what it means")
    return out


def humanise(code: str) -> str:
    """The last resort for a code nobody labelled (an old row, a removed step):
    `escalated_1` -> "Escalated 1". The self-checks make sure it is rare."""
    text = code.replace("_", " ").replace(".", " ").strip()
    return text[:1].upper() + text[1:]


def allowed_now(labelled: Iterable[tuple[str, str]], *, with_codes: bool) -> str:
    """ "Check eligibility (check), Withdraw (withdraw)" from (code, label) pairs.

    The command line, where people type codes, shows each code after its label;
    the web and the API's messages show the labels alone. "nothing" when empty.
    """
    parts = [f"{label} ({code})" if with_codes else label for code, label in labelled]
    return ", ".join(parts) or "nothing"


# History rows that change no state of a definition carry these triggers
# (DESIGN.md section 4), as do the rows the sweep writes for held steps.
EVENT_WORDS: Mapping[str, Words] = words_table(
    {
        "create": ("Opened", "The case was opened as a draft."),
        "declare": (
            "Conflict of interest declared",
            "An assessor declared whether they have a conflict of interest in the bid.",
        ),
        "score": ("Scored", "An assessor recorded their scores for the bid."),
        "agree_score": (
            "Agreed score recorded",
            "A moderator recorded the agreed score where assessors' scores differed.",
        ),
        "record_contribution": (
            "Contribution agreed",
            "The area's contribution to the network's running costs was recorded.",
        ),
        "diligence": (
            "Due diligence recorded",
            "A due-diligence check was run by casework or recorded by a caseworker.",
        ),
        "assign": ("Handed over", "The case was handed to another caseworker."),
        "amend": (
            "Application amended",
            "The application was changed; the new version was kept beside the earlier ones.",
        ),
        "schedule_checkpoints": (
            "Returns scheduled",
            "The monitoring returns and their due dates were set.",
        ),
        "remind": ("Reminder sent", "A reminder about a monitoring return was sent."),
        "payment_due": (
            "Payment due",
            "A tranche of the award fell due (its event happened): a payment was "
            "added to the schedule.",
        ),
        "recover": (
            "Recovery recorded",
            "The eligible spend of a terminated award was recorded; what was paid "
            "beyond it is to be recovered.",
        ),
        "review_due": (
            "Annual review due",
            "The award's annual review fell due and the caseworker was reminded.",
        ),
        "review_overdue": (
            "Annual review overdue",
            "The annual review was not recorded in time and the senior responsible owner was told.",
        ),
        "review": (
            "Annual review recorded",
            "The caseworker recorded the annual review's decision: continue, amend or stop.",
        ),
        "held": (
            "Held: case suspended",
            "A step of the reminder ladder was not taken because the case is suspended.",
        ),
        # A variation's moves (states.variation), as the case's history shows them.
        "propose_variation": (
            "Variation proposed",
            "A change to the award's amount, end date or scope was proposed.",
        ),
        "approve_variation": (
            "Variation approved",
            "An approver agreed the change; the agreement's next version was drawn up.",
        ),
        "reject_variation": ("Variation rejected", "An approver turned the proposed change down."),
    }
)


# The admin log's kinds of change (workflow.services.admin_log; DESIGN section 10).
ADMIN_WORDS: Mapping[str, Words] = words_table(
    {
        "org_add": ("Organisation added", "An organisation was added to the register."),
        "org_update": (
            "Organisation changed",
            "An organisation's name, addresses, ESG allocation or org-id was changed.",
        ),
        "user_add": ("Person added", "A person was added with their roles."),
        "user_roles": ("Roles changed", "A person was given roles or had roles taken away."),
        "user_disable": (
            "Person disabled",
            "A person can no longer sign in, use an API token or act; their history stays.",
        ),
        "user_enable": ("Person enabled", "A disabled person may sign in and act again."),
        "programme_load": (
            "Programme file loaded",
            "A programme's rules were loaded from its file, new or changed.",
        ),
        "programme_sro": (
            "Senior responsible owner named",
            "A programme's senior responsible owner (an approver) was named.",
        ),
    }
)

# The roles a person can hold (states.roles.ROLES), as people read them.
ROLE_WORDS: Mapping[str, Words] = words_table(
    {
        "caseworker": ("Caseworker", "Checks bids, asks councils questions and follows returns."),
        "assessor": ("Assessor", "Declares conflicts of interest and scores bids."),
        "approver": (
            "Approver",
            "Offers awards and decides; a programme's senior responsible owner is one.",
        ),
        "auditor": ("Auditor", "Reads every case's history, the admin log and the seals."),
        "admin": (
            "Admin",
            "Looks after organisations, people's roles and standing, and "
            "programmes' senior responsible owners, each change in the admin log.",
        ),
        "finance": ("Finance", "Approves and makes the payments of awards."),
        "council": (
            "Council",
            "A person of a council or agency: applies, answers and makes "
            "returns for their organisation.",
        ),
        "system": ("The sweep", "The scheduler's sweep, which sends reminders and escalations."),
    }
)


# A person who holds a role, where its label is not a noun for one ("finance").
_ROLE_PERSON = {
    "finance": ("someone in finance", "people in finance"),
    "council": ("a person of the lead council", "council people"),
}


def role_person(role: str) -> str:
    """One person in `role`, for a sentence: "a caseworker", "an approver", "someone in
    finance"."""
    if role in _ROLE_PERSON:
        return _ROLE_PERSON[role][0]
    return ("an " if role[:1] in "aeiou" else "a ") + role


def role_people(role: str) -> str:
    """People in `role`, for a sentence: "caseworkers", "people in finance"."""
    return _ROLE_PERSON[role][1] if role in _ROLE_PERSON else f"{role}s"


def one_of(roles: Iterable[str]) -> str:
    """Who may, for a refusal: "a caseworker", "a caseworker or a person of the lead
    council"."""
    return " or ".join(role_person(r) for r in sorted(roles))


def admin_label(action: str) -> str:
    words = ADMIN_WORDS.get(action)
    return words.label if words else humanise(action)


def role_label(role: str) -> str:
    words = ROLE_WORDS.get(role)
    return words.label if words else humanise(role)


def event_label(trigger: str) -> str:
    """The label of a history-only trigger, or the code made readable."""
    words = EVENT_WORDS.get(trigger)
    return words.label if words else humanise(trigger)


def given(value: Any) -> str:
    """What someone gave, as a refusal quotes it: text in quotes, a number as written, or
    what kind of thing it is ("a table of name, evidence") — never a Python repr."""
    written = getattr(value, "written", None)  # a money amount as it was typed
    if isinstance(written, str):
        return written
    if isinstance(value, Mapping):
        keys = ", ".join(str(k) for k in value)
        return f"a table of {keys}" if keys else "an empty table"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}" if value else "an empty list"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = f"'{value}'" if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
