"""Which GOV.UK Notify template sends each message kind, and what it is given.

Notify renders email from templates kept in Notify, filled in with
*personalisation*: `((name))` in a template is replaced by the value sent
under `name`, and Notify refuses a message lacking one ("Missing
personalisation", a 400).

- By default one generic template (`CASEWORK_NOTIFY_TEMPLATE`) whose subject
  is `((subject))` and whose body is `((body))` sends every kind, given the
  subject and text casework rendered from its own templates (templates/email/…):
  the wording stays in casework's templates, reviewed and tested with the code,
  and the same whichever transport sends it; a new kind needs nothing created
  in Notify.
- A kind may have a template of its own (`CASEWORK_NOTIFY_TEMPLATES`, a TOML
  file of `kind = "template-id"`). It is given `subject` and `body` too, and
  every value the kind's own text templates print: `{{ case.ref }}` is
  ((case_ref)), `{{ checkpoint.due|longdate }}` ((due_date)) and so on
  (PLACEHOLDERS names them). What a kind is given is read from its templates
  (`kind_fields`), computed from the render context when the message is
  queued (`personalisation_for`, kept on the outbox row), and printed by
  `casework notify templates` (`template_sheet`): one source, so a template
  made from the sheet never lacks a value.

Start-up refuses a set-up that leaves a kind without a template.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from notifications.kinds import KINDS, template_name
from notifications.render import category_name, longdate
from states import dates

# What every template is given (see the module's docstring).
FIELDS = ("subject", "body")
GENERIC_SUBJECT = "((subject))"
GENERIC_BODY = "((body))"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class NotifyTemplates:
    """A template id for each kind: its own, or the generic one."""

    generic: str | None = None
    by_kind: Mapping[str, str] = field(default_factory=dict)

    def for_kind(self, kind: str) -> str:
        found = self.by_kind.get(kind) or self.generic
        if found is None:
            raise KeyError(f"no Notify template for message kind {kind!r}")
        return found

    def missing(self) -> list[str]:
        """Kinds with no template at all, in KINDS order."""
        if self.generic:
            return []
        return [kind for kind in KINDS if kind not in self.by_kind]


# The values casework's text templates print, by their Jinja expression (spaces
# taken out): the placeholder a kind's own Notify template finds each under,
# and what it is (and, third, a value it is blank without: the template prints
# it only under `{% if %}` that value). An expression not named here is given as its path with
# underscores (`case.lead_code` -> ((case_lead_code))).
PLACEHOLDERS: Mapping[str, tuple[str, ...]] = {
    "case.ref": ("case_ref", "the case's reference"),
    "case.title": ("case_title", "the project's title"),
    "case.lead_name": ("council_name", "the lead council's name"),
    "case.url": ("case_url", "the case's page"),
    "case.amount": ("award_amount", "the award, in pounds"),
    "case.agreement_url": ("agreement_url", "the grant agreement to read before accepting"),
    "case.category|category_name": ("category", "the bid's category"),
    "programme.name": ("programme_name", "the programme's name"),
    "programme.lead_email": ("programme_lead_email", "the programme lead's address"),
    "reason": ("reason", "the reason given (blank when none was)"),
    "received_at|moment": ("received_at", "when the application was received"),
    "checkpoint.label": ("return_name", "the monitoring return (Q1, Q2…)"),
    "checkpoint.due|longdate": ("due_date", "the return's due date"),
    "checkpoint.url": ("return_url", "where the return is made"),
    "checkpoint.level": ("escalation_level", "how far the overdue return has been escalated"),
    "step.due_at|longdate": (
        "late_from_date",
        "the day a late message should have gone (blank unless it is late)",
        "step.late",
    ),
    "payment.label": ("payment_label", "the tranche paid"),
    "payment.amount": ("payment_amount", "the amount paid, in pounds"),
    "payment.reference": ("remittance_reference", "the payment's remittance reference"),
    "payment.paid_total": ("paid_total", "paid so far, in pounds"),
    "payment.still_to_pay": (
        "still_to_pay",
        "what of the award is still to be paid, in pounds (blank once it is paid in full)",
    ),
    "payment.paid_at|longdate": ("paid_date", "the day it was paid"),
    "payment.event": ("payment_event", "what happened to the payment"),
    "payment.released": ("released_amount", "what was released back to the fund, in pounds"),
    "payment.tranches": ("released_tranches", "the tranches that will not be paid"),
    "payment.why": ("released_why", "why they will not be paid (their return waived)"),
    "payment.kept": ("kept_amount", "the rest of the award: paid or still to be paid, in pounds"),
    "payment.completed_at|longdate": ("completed_date", "the day the award was completed"),
    "review.label": ("review_name", "the annual review"),
    "review.due|longdate": ("review_due_date", "the day the review falls due"),
    "review.url": ("review_url", "where the review is recorded"),
    "variation.label": ("variation_label", "the variation (V1, V2…)"),
    "variation.ref": ("variation_ref", "the variation's reference"),
    "variation.amount": ("variation_amount", "the award the variation proposes, in pounds"),
    "variation.previous_amount": ("variation_previous_amount", "the award before it, in pounds"),
    "variation.end_on|longdate": ("variation_end_date", "the end date the variation proposes"),
    "variation.reason": ("variation_reason", "why the change is proposed"),
    "variation.url": ("variation_url", "where the variation is decided"),
    "variation.agreement_version": ("agreement_version", "the varied agreement's version"),
    "variation.agreement_url": ("variation_agreement_url", "the varied grant agreement"),
}
# The filters a printed value may pass through (notifications.templating gives Jinja the same).
FILTERS: Mapping[str, Callable[[Any], str]] = {
    "longdate": longdate,
    "category_name": category_name,
    "moment": dates.moment,
}


@dataclass(frozen=True)
class Field:
    """One value a kind's text prints: its placeholder, and how to compute it from the context."""

    name: str
    about: str
    expression: str
    path: tuple[str, ...]
    filter: Callable[[Any], str] | None = None
    only_if: tuple[str, ...] = ()

    def value(self, context: Mapping[str, Any]) -> str:
        """The value as the template prints it; blank where the context has none."""
        if self.only_if and not _lookup(context, self.only_if):
            return ""
        found = _lookup(context, self.path)
        if found is None:
            return ""
        if self.filter is not None:
            try:
                return str(self.filter(found))
            except (TypeError, ValueError, AttributeError):
                return str(found)
        return str(found)


def _lookup(context: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    found: Any = context
    for part in path:
        # Contexts are plain dicts: `type(…) is dict` spares the Mapping ABC's slower check.
        if type(found) is dict or isinstance(found, Mapping):
            found = found.get(part)
        else:
            found = getattr(found, part, None)
        if found is None:
            return None
    return found


_PRINTED = re.compile(
    r"{{-?\s*(?P<expr>.+?)\s*-?}}|{%-?\s*include\s+[\"'](?P<include>[^\"']+)[\"']"
)
_LOOP = re.compile(r"{%-?\s*for\s+(?P<names>[\w\s,]+?)\s+in\s")
_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _source(name: str) -> str:
    return importlib.resources.files("templates").joinpath(name).read_text("utf-8")


def _printed(name: str) -> list[str]:
    """The expressions a text template prints, in order, its includes' in their place;
    not those of a loop's own variable (`{% for row in answers %}{{ row.label }}`)."""
    text = _source(name)
    local = {n.strip() for found in _LOOP.finditer(text) for n in found["names"].split(",")}
    out: list[str] = []
    for found in _PRINTED.finditer(text):
        if found["include"]:
            out.extend(_printed(found["include"]))
            continue
        expression = _tidy(found["expr"])
        if expression.split("|", 1)[0].split(".", 1)[0] not in local:
            out.append(expression)
    return out


def _tidy(expression: str) -> str:
    """`payment.paid_at | longdate` -> `payment.paid_at|longdate`."""
    return re.sub(r"\s*\|\s*", "|", expression.strip())


def _field(expression: str) -> Field:
    path, _, filter_name = expression.partition("|")
    if not _PATH.match(path) or (filter_name and filter_name not in FILTERS):
        raise ValueError(
            f"{{{{ {expression} }}}} cannot be given to Notify as a placeholder: "
            f"a name, or a name and one of the filters {', '.join(FILTERS)}"
        )
    name, about, *only_if = PLACEHOLDERS.get(expression) or (
        path.replace(".", "_"),
        f"{{{{ {expression} }}}}",
    )
    return Field(
        name,
        about,
        expression,
        tuple(path.split(".")),
        FILTERS[filter_name] if filter_name else None,
        tuple(only_if[0].split(".")) if only_if else (),
    )


@functools.cache
def kind_fields(kind: str) -> tuple[Field, ...]:
    """What a kind's subject and text print, each once: what its own Notify template is given
    (besides `subject` and `body`). ValueError for an unknown kind or a value that cannot be given."""
    fields: dict[str, Field] = {}
    for part in ("subject.txt", "body.txt"):
        for expression in _printed(template_name(kind, part)):
            found = _field(expression)
            other = fields.setdefault(found.name, found)
            if other.expression != found.expression:
                raise ValueError(
                    f"{kind}: {{{{ {other.expression} }}}} and {{{{ {expression} }}}} "
                    f"would both be (({found.name}))"
                )
    return tuple(fields.values())


def needs(kind: str) -> tuple[str, ...]:
    """The personalisation a kind's own template is given: `subject`, `body` and its fields."""
    return FIELDS + tuple(f.name for f in kind_fields(kind))


def personalisation_for(kind: str, context: Mapping[str, Any]) -> dict[str, str]:
    """A kind's fields from its render context, as queued on the outbox row (`subject` and
    `body` are the row's own)."""
    return {f.name: f.value(context) for f in kind_fields(kind)}


def own_subject(kind: str) -> str:
    """The kind's subject in Notify's syntax, or ((subject)) when it chooses words by
    `{% if %}` (Notify can't; casework's rendered subject is given instead)."""
    text = _source(template_name(kind, "subject.txt"))
    if "{%" in text:
        return GENERIC_SUBJECT
    names = {f.expression: f.name for f in kind_fields(kind)}
    return " ".join(_PRINTED.sub(lambda found: f"(({names[_tidy(found['expr'])]}))", text).split())


def _template_id(value: object, where: str) -> str:
    if not isinstance(value, str) or not _UUID.match(value.strip()):
        raise ValueError(
            f"{where} must be a Notify template id (a UUID such as "
            f"f33517ff-2a88-4f6e-b855-c550268ce08a), not {value!r}"
        )
    return value.strip().lower()


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, object]:
    """`checkpoint.opened = "…"` is a nested table in TOML; read it as the kind's name."""
    out: dict[str, object] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def load_mapping(path: str | Path) -> dict[str, str]:
    """Read a `kind = "template-id"` TOML file; ValueError naming the first fault."""
    where = f"CASEWORK_NOTIFY_TEMPLATES ({path})"
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except OSError as exc:
        raise ValueError(f"{where} cannot be read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{where} is not valid TOML: {exc}") from None
    mapping = {}
    for kind, value in _flatten(table).items():
        if kind not in KINDS:
            raise ValueError(
                f"{where} names {kind!r}, which is not a message kind; "
                f"known kinds: {', '.join(KINDS)}"
            )
        mapping[kind] = _template_id(value, f"{where}: {kind}")
    return mapping


def templates_from_env(environ: Mapping[str, str]) -> NotifyTemplates:
    """The generic template and the per-kind file, checked: every kind must have a template."""
    generic_raw = environ.get("CASEWORK_NOTIFY_TEMPLATE", "").strip()
    generic = _template_id(generic_raw, "CASEWORK_NOTIFY_TEMPLATE") if generic_raw else None
    path = environ.get("CASEWORK_NOTIFY_TEMPLATES", "").strip()
    templates = NotifyTemplates(generic, load_mapping(path) if path else {})
    missing = templates.missing()
    if missing:
        raise ValueError(
            f"no Notify template for {len(missing)} message kind(s): {', '.join(missing)}; set "
            "CASEWORK_NOTIFY_TEMPLATE to a generic template (subject ((subject)), body ((body))) "
            "or map every kind in CASEWORK_NOTIFY_TEMPLATES; `casework notify templates` prints them"
        )
    return templates


def template_rows(templates: NotifyTemplates | None = None) -> list[dict[str, Any]]:
    """Each kind's Notify template as `casework notify templates --json` gives it: the subject
    and body to create (in Notify's ((placeholder)) syntax), the personalisation a template of
    its own is sent (`needs`), and the template the settings give it (None when not set up)."""
    rows = []
    for kind, about in KINDS.items():
        given = [
            {"name": "subject", "about": "the subject casework wrote"},
            {"name": "body", "about": "the text casework wrote"},
        ]
        given += [{"name": f.name, "about": f.about} for f in kind_fields(kind)]
        template = None
        if templates is not None:
            template = templates.by_kind.get(kind) or templates.generic
        rows.append(
            {
                "kind": kind,
                "about": about,
                "subject": own_subject(kind),
                "body": GENERIC_BODY,
                "personalisation": given,
                "template": template,
                "own": bool(templates is not None and kind in templates.by_kind),
            }
        )
    return rows


def template_sheet(templates: NotifyTemplates | None = None) -> str:
    """What to create in Notify for each kind, as `casework notify templates` prints it."""
    lines = [
        "# The Notify email templates casework sends with. One generic template",
        "# (CASEWORK_NOTIFY_TEMPLATE), subject ((subject)) and body ((body)), serves every kind",
        '# not given its own in CASEWORK_NOTIFY_TEMPLATES (kind = "template-id"). A kind\'s own',
        "# template may use any of the placeholders listed under it: each is sent filled in.",
        "",
    ]
    for row in template_rows(templates):
        lines.append(f"[{row['kind']}]")
        lines.append(f"# {row['about']}")
        if row["template"] is not None:
            lines.append(
                f"# template: {row['template']} "
                + ("(its own)" if row["own"] else "(the generic one)")
            )
        lines.append(f"subject: {row['subject']}")
        lines.append("body:")
        lines.append(row["body"])
        lines.append("# placeholders a template of its own is given:")
        width = max(len(p["name"]) for p in row["personalisation"]) + 4
        lines.extend(
            f"#   {'((' + p['name'] + '))':<{width}} {p['about']}" for p in row["personalisation"]
        )
        lines.append("")
    return "\n".join(lines)
