"""Rendering pages: the Jinja2 environment of templates/web/, its filters, and `page()`.

Every template is autoescaped (people's text is shown as text, never as
markup) and strict: a name a template uses but was not given is an error in
tests, not a blank on a page.
"""

from __future__ import annotations

import importlib.resources
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from states import DEFINITIONS, dates
from states.money import for_people
from states.programme import tranche_event_label
from workflow.web import labels
from workflow.web.auth import Viewer, session_of

# States shown as a tag, by the colour of what they mean; the tag always
# carries the state's name too, so colour is never the only signal.
# The definitions group their states by what they mean; a message's status is coloured alike.
_TONES = {"going_well": "green", "in_trouble": "red", "waiting": "yellow", "at_rest": "grey"}
_MESSAGE_TAGS = {"sent": "green", "dead": "red", "queued": "yellow"}
# (A definition need not have every tone: a variation has no state at rest.)
TAG_OF = {
    **{
        state: colour
        for d in DEFINITIONS.values()
        for group, colour in _TONES.items()
        for state in d.groups.get(group, ())
    },
    **_MESSAGE_TAGS,
}


def words(value: Any) -> str:
    """`under_assessment` -> `under assessment`."""
    return "" if value is None else str(value).replace("_", " ")


def sentence(value: Any) -> str:
    text = words(value)
    return text[:1].upper() + text[1:]


# Money as people read it (`£250,000`), the same on every face: states.money.for_people.
money = for_people


def moment(value: Any) -> str:
    """A time in England as people read it: `2:56am, 3 March 2014`."""
    if value is None or value == "":
        return ""
    return dates.moment(datetime.fromisoformat(value) if isinstance(value, str) else value)


def day(value: Any) -> str:
    """`Monday 3 March 2014`."""
    if value is None or value == "":
        return ""
    return dates.long_day(date.fromisoformat(value) if isinstance(value, str) else value)


def paragraphs(text: Any) -> Markup:
    """People's text as paragraphs: a blank line they typed starts a new one, and a single line
    break (text wrapped in a file or a textarea) reads on as one sentence. Escaped first: the
    text is never read as markup."""
    if text is None or str(text).strip() == "":
        return Markup("")
    blocks = re.split(r"\n\s*\n", str(text).replace("\r\n", "\n").strip())
    return Markup("").join(
        Markup('<p class="paragraph">{}</p>').format(" ".join(block.split())) for block in blocks
    )


def tag(state: Any) -> str:
    return TAG_OF.get(str(state), "blue")


def _environment() -> Environment:
    root = importlib.resources.files("templates") / "web"
    env = Environment(
        loader=FileSystemLoader(str(root)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        words=words,
        sentence=sentence,
        money=money,
        moment=moment,
        day=day,
        tag=tag,
        paragraphs=paragraphs,
        state=labels.state_label,
        trigger=labels.trigger_label,
        event=labels.event,
        part=labels.part,
        change=labels.change,
        message_kind=labels.kind_label,
        category=_category,
        programme_name=_programme,
        step=_step,
        field_label=_field,
        tranche_event=tranche_event_label,
    )
    return env


# Filters that need the programmes' own words read from the database.
@pass_context
def _category(context: Any, code: Any, programme: str | None = None) -> str:
    return context["vocabulary"].category(code, programme)


@pass_context
def _programme(context: Any, code: Any) -> str:
    return context["vocabulary"].programme(code)


@pass_context
def _step(context: Any, name: str, programme: str) -> str:
    return context["vocabulary"].step(name, programme)


@pass_context
def _field(context: Any, name: str, programme: str) -> str:
    return context["vocabulary"].field(name, programme)


ENV = _environment()


# Who may open /programmes (the fund and the ranking): its routes require these roles,
# and the navigation offers the link to them alone, so no one is led to a refusal.
PROGRAMME_READERS = ("caseworker", "assessor", "approver", "auditor", "admin")


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str


def navigation(who: Viewer | None) -> list[NavItem]:
    if who is None:
        return []
    items = []
    if who.has("caseworker", "assessor", "approver"):
        items.append(NavItem("/inbox", "Inbox"))
    items.append(NavItem("/cases", "Cases"))
    if who.has("council") and who.org:
        items.append(NavItem("/apply", "Apply"))
    if who.has("council", "caseworker"):
        items.append(NavItem("/returns", "Returns"))
    if who.has("finance", "approver", "council", "caseworker", "auditor"):
        items.append(NavItem("/payments", "Payments"))
    if who.has(*PROGRAMME_READERS):
        items.append(NavItem("/programmes", "Programmes"))
    if who.has("auditor", "caseworker"):
        items.append(NavItem("/audit", "Audit"))
    if who.has("caseworker"):
        items.append(NavItem("/outbox", "Messages"))
    if who.has("admin"):
        items.append(NavItem("/admin", "Admin"))
    return items


@dataclass(frozen=True)
class Problem:
    """One line of an error summary, linked to the field at fault (`#reason`). At a date
    typed in three boxes, `parts` are the boxes in error ("day", "month", "year"): the line
    links to the first of them and only they are highlighted (none: the date as a whole)."""

    text: str
    field: str = ""
    parts: tuple[str, ...] = ()

    @property
    def href(self) -> str:
        return f"{self.field}-{self.parts[0]}" if self.parts else self.field


def page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    errors: Iterable[Problem] = (),
    **context: Any,
) -> HTMLResponse:
    session = session_of(request)
    who: Viewer | None = getattr(request.state, "viewer", None)
    values = {
        "who": who,
        "nav": navigation(who),
        "path": request.url.path,
        "csrf_token": session.token,
        "notice": session.take_notice(),
        "errors": list(errors),
        "form": {},
        "status": status,
        "vocabulary": labels.Vocabulary(request.app.state.engine),
    }
    values.update(context)
    html = ENV.get_template(template).render(values)
    return HTMLResponse(
        html, status_code=status, headers={"Cache-Control": "no-store"} if who is not None else None
    )
