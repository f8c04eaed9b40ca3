"""Which GOV.UK Notify template sends each message kind, and what it is given.

Notify renders email from templates kept in Notify, filled in with
*personalisation*: `((name))` in a template is replaced by the value sent
under `name`. casework sends every message with the same personalisation,
`subject` and `body`, the text casework rendered from its own templates
(templates/email/…), so:

- by default one generic template (`CASEWORK_NOTIFY_TEMPLATE`) whose subject
  is `((subject))` and whose body is `((body))` sends every kind: the wording
  stays in casework's templates, reviewed and tested with the code, and the
  same whichever transport sends it; a new kind needs nothing created in Notify;
- a kind may have a template of its own (`CASEWORK_NOTIFY_TEMPLATES`, a TOML
  file of `kind = "template-id"`), for a different reply-to address or
  wording around casework's text; it is given the same personalisation.

Start-up refuses a set-up that leaves a kind without a template.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from notifications.kinds import KINDS

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


def _template_id(value: object, where: str) -> str:
    if not isinstance(value, str) or not _UUID.match(value.strip()):
        raise ValueError(f"{where} must be a Notify template id (a UUID such as "
                         f"f33517ff-2a88-4f6e-b855-c550268ce08a), not {value!r}")
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
            raise ValueError(f"{where} names {kind!r}, which is not a message kind; "
                             f"known kinds: {', '.join(KINDS)}")
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
            "or map every kind in CASEWORK_NOTIFY_TEMPLATES; `casework notify templates` prints them")
    return templates


def template_sheet(templates: NotifyTemplates | None = None) -> str:
    """What to create in Notify for each kind, as `casework notify templates` prints it."""
    lines = [
        "# The Notify email templates casework sends with. Each is given the personalisation",
        "# ((subject)) and ((body)). One generic template (CASEWORK_NOTIFY_TEMPLATE) serves",
        "# every kind not given its own in CASEWORK_NOTIFY_TEMPLATES (kind = \"template-id\").",
        "",
    ]
    for kind, about in KINDS.items():
        lines.append(f"[{kind}]")
        lines.append(f"# {about}")
        if templates is not None:
            own = templates.by_kind.get(kind)
            lines.append(f"# template: {own} (its own)" if own else
                         f"# template: {templates.generic} (the generic one)")
        lines.append(f"subject: {GENERIC_SUBJECT}")
        lines.append("body:")
        lines.append(GENERIC_BODY)
        lines.append("")
    return "\n".join(lines)
