"""An application asked one question a page (DESIGN.md section 10): which questions, in what order.

Nothing here is a second copy of the document's rules: the questions of a bid
are the category's own, read from the programme file (a category first, then
the title, the partners, the amount and the fields the category must state,
`Category.required_fields`, in the order the document declares them); an
expression of interest asks the fields of `states.documents.AreaApplication`,
with the counts the programme's `[eoi]` table asks for. What each field is
called, asked and hinted is here, in words for people (DESIGN.md section 12),
with the words of the arrangement codes. `answers` turns a stored document into
the lines people read on "check your answers" and in the receipt email.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from states.money import MONEY_FIELDS, for_people, pounds
from states.programme import ARRANGEMENTS, STATABLE_FIELDS, ProgrammeSpec
from states.words import Words, humanise, words_table

__all__ = [
    "Question",
    "FIELD_WORDS",
    "ARRANGEMENT_WORDS",
    "arrangement_label",
    "questions",
    "first_question",
    "answers",
    "field_label",
    "KIND_OF_PROGRAMME",
    "FIELD_NAMED",
    "without_field_codes",
]

# The case kind a programme of each kind takes applications for.
KIND_OF_PROGRAMME = {"bids": "bid", "areas": "area"}

# Each field of an application: the label people read beside its answer, and its question.
FIELD_WORDS: Mapping[str, Words] = words_table(
    {
        "category": ("Kind of award", "Which kind of award are you bidding for?"),
        "title": ("Title", "What is the title of your application?"),
        "partners": ("Partners", "Which organisations are your partners?"),
        "amount": ("Amount asked for", "How much are you asking for?"),
        "transitional_costs": ("Transitional costs", "What are the estimated transitional costs?"),
        "annual_savings": ("Annual savings", "What savings do you expect each year?"),
        "arrangement": ("Kind of shared arrangement", "What kind of shared arrangement is it?"),
        "innovation": ("What is innovative", "What is innovative about your proposal?"),
        "further_and_faster": (
            "Further and faster",
            "How will you go further and faster than you already plan to?",
        ),
        "service_areas": ("Service areas", "Which service areas will you reform?"),
        "how_to_succeed": ("How you will succeed", "How can your area succeed?"),
        "contribution": (
            "Contribution offered",
            "What will you contribute to the network's running costs?",
        ),
        "evidence": ("Evidence files", "Attach evidence"),
    }
)

# What an error says of each question left unanswered.
_MISSING = {
    "category": "Select the kind of award you are bidding for",
    "title": "Enter the title of your application",
    "partners": "Select your partner organisations",
    "amount": "Enter how much you are asking for",
    "transitional_costs": "Enter the estimated transitional costs",
    "annual_savings": "Enter the savings you expect each year",
    "arrangement": "Select the kind of shared arrangement",
    "innovation": "Enter what is innovative about your proposal",
    "further_and_faster": "Enter how you will go further and faster than you already plan to",
    "service_areas": "Enter the service areas you will reform",
    "how_to_succeed": "Enter how your area can succeed",
    "contribution": "Enter what you will contribute to the network's running costs",
}

_HINTS = {
    "title": "A short name people will know the application by.",
    "transitional_costs": "The one-off cost of making the change, in pounds.",
    "annual_savings": "In pounds a year, once the change is made.",
    "innovation": "What is new about it, for your councils or for anyone.",
    "further_and_faster": "What the award lets you do beyond what you already plan.",
    "service_areas": "Put each service area on a line of its own, for example troubled families.",
    "how_to_succeed": "Why your area is ready, and who will lead the work.",
    "contribution": "In pounds: the amount you propose; it is agreed with you later.",
}

ARRANGEMENT_WORDS: Mapping[str, Words] = words_table(
    {
        "linked_it": ("Linked IT", "Councils sharing IT systems."),
        "joint_procurement": ("Joint procurement", "Councils buying together."),
        "joint_contracting": ("Joint contracting", "Councils contracting services together."),
        "other": ("Another kind of arrangement", "An arrangement of another kind."),
    }
)


# A rule's refusal names the application's field it is about in brackets, "the bid has no
# title (title)", for those who type the codes (the command line, the API); what people
# read (the pages, the demo's report) drops it.
FIELD_NAMED = re.compile(r" \(([a-z_]+)\)")


def without_field_codes(text: str) -> str:
    """`text` without the bracketed codes of application fields ("(further_and_faster)")."""
    return FIELD_NAMED.sub(lambda m: "" if m[1] in FIELD_WORDS else m[0], text)


def arrangement_label(code: str) -> str:
    found = ARRANGEMENT_WORDS.get(code)
    return found.label if found else humanise(code)


def field_label(name: str) -> str:
    """ "Transitional costs" for `transitional_costs`."""
    found = FIELD_WORDS.get(name)
    return found.label if found else humanise(name)


@dataclass(frozen=True)
class Question:
    """One page: the document field it asks, how it is answered, and what people read."""

    name: str  # the document's field; also the page's address and the input's id
    kind: str  # choice | text | long_text | money | organisations | lines | area_partners
    title: str  # the question, the page's heading
    label: str  # beside the answer on "check your answers"
    hint: str = ""
    choices: tuple[tuple[str, str, str], ...] = ()  # (code, label, sentence)
    required: bool = True
    least: int = 0  # at least this many (partners, service areas)

    @property
    def missing(self) -> str:
        """What an error says when the question is left unanswered, GOV.UK's way
        ("Enter how much you are asking for", "Select the kind of award …")."""
        said = _MISSING.get(self.name)
        if said:
            return said
        verb = "Select" if self.kind in ("choice", "organisations") else "Enter"
        return f"{verb} {self.label[:1].lower()}{self.label[1:]}"


def _money_hint(spec: ProgrammeSpec, category: str | None) -> str:
    found = spec.categories.get(category or "")
    rule = "In pounds, for example 250000 or £250,000.50."
    if found is None:
        return rule
    if found.min_pence is not None and found.max_pence is not None:
        band = f"between {pounds(found.min_pence)} and {pounds(found.max_pence)}"
    elif found.max_pence is not None:
        band = f"up to {pounds(found.max_pence)}"
    elif found.min_pence is not None:
        band = f"at least {pounds(found.min_pence)}"
    elif found.esg_share is not None:
        band = (
            f"up to {format((found.esg_share * 100).normalize(), 'f')}% of your Efficiency "
            f"Support Grant allocation"
        )
    else:
        return rule
    return f"A {spec.category_label(category or '')} award is {band}. {rule}"


def _question(name: str, kind: str, *, hint: str | None = None, **more: Any) -> Question:
    words = FIELD_WORDS[name]
    return Question(
        name,
        kind,
        words.sentence,
        words.label,
        _HINTS.get(name, "") if hint is None else hint,
        **more,
    )


def _statable(name: str, spec: ProgrammeSpec, category: str | None) -> Question:
    if name in MONEY_FIELDS:
        return _question(
            name,
            "money",
            hint=f"{_HINTS.get(name, '')} For example 250000 or £250,000.50.".strip(),
        )
    if name == "arrangement":
        found = spec.categories.get(category or "")
        codes = found.arrangements if found is not None and found.arrangements else ARRANGEMENTS
        return _question(
            name,
            "choice",
            choices=tuple(
                (
                    c,
                    arrangement_label(c),
                    ARRANGEMENT_WORDS[c].sentence if c in ARRANGEMENT_WORDS else "",
                )
                for c in codes
            ),
        )
    return _question(name, "long_text")


def questions(spec: ProgrammeSpec, category: str | None = None) -> list[Question]:
    """The questions of an application to `spec`, in order; a bid's depend on its category."""
    if spec.kind == "areas":
        needs = spec.eoi
        return [
            _question("title", "text"),
            _question("service_areas", "lines", least=needs.min_service_areas),
            _question("how_to_succeed", "long_text"),
            _question(
                "partners",
                "area_partners",
                least=needs.min_partners,
                hint=f"Name at least {needs.min_partners} partner bodies, each with the "
                f"evidence that it is bought in (a signed letter, a board minute).",
            ),
            _question("contribution", "money", required=False),
        ]
    found = spec.categories.get(category or "")
    least = found.min_partner_councils if found is not None else 0
    partner_hint = (
        f"Choose at least {least} other council{'s' if least != 1 else ''}."
        if least
        else "Choose every organisation working with you on it, if any."
    )
    out = [
        _question(
            "category",
            "choice",
            hint="",
            choices=tuple(
                (code, spec.category_label(code), spec.category_sentence(code))
                for code in spec.categories
            ),
        ),
        _question("title", "text"),
        _question(
            "partners", "organisations", hint=partner_hint, required=bool(least), least=least
        ),
        _question("amount", "money", hint=_money_hint(spec, category)),
    ]
    required = found.required_fields if found is not None else ()
    out += [_statable(name, spec, category) for name in STATABLE_FIELDS if name in required]
    return out


def first_question(spec: ProgrammeSpec) -> Question:
    """The question an application starts with (a bid's category, an area's title)."""
    return questions(spec)[0]


# questions() of each programme file as parsed (workflow's parse is cached by the file's
# text, so one file is one object) and category: every submission's receipt lists the
# answers, and working out the questions again each time was most of that.
_ASKED: dict[tuple[int, str | None], tuple[ProgrammeSpec, tuple[Question, ...]]] = {}


def _asked(spec: ProgrammeSpec, category: Any) -> tuple[Question, ...]:
    if category is not None and not isinstance(category, str):
        return tuple(questions(spec, category))  # a malformed document: not kept
    key = (id(spec), category)
    found = _ASKED.get(key)
    if found is None or found[0] is not spec:  # the id of a file parsed anew
        if len(_ASKED) > 256:
            _ASKED.clear()
        found = _ASKED[key] = (spec, tuple(questions(spec, category)))
    return found[1]


def answers(
    spec: ProgrammeSpec, document: Mapping[str, Any], names: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """(field, label, answer as people read it) for each question, in the questions' order;
    an answer not given yet is "". `names` are organisations' names by code."""
    out: list[tuple[str, str, str]] = []
    for q in _asked(spec, document.get("category")):
        value = document.get(q.name)
        out.append((q.name, q.label, _shown(q, value, spec, names)))
    return out


def _shown(q: Question, value: Any, spec: ProgrammeSpec, names: Mapping[str, str]) -> str:
    if value is None or value == "" or value == []:
        return ""
    if q.kind == "money":
        return for_people(value)
    if q.name == "category":
        return spec.category_label(str(value))
    if q.name == "arrangement":
        return arrangement_label(str(value))
    if q.kind == "organisations":
        return "\n".join(names.get(code, code) for code in value)
    if q.kind == "lines":
        return "\n".join(str(v) for v in value)
    if q.kind == "area_partners":
        return "\n".join(
            f"{p.get('name')}" + (f": {p['evidence']}" if p.get("evidence") else "")
            for p in value
            if isinstance(p, Mapping)
        )
    return str(value)
