"""The command line's rows in people's words (DESIGN.md section 12).

Tables and `key  value` listings show labels and London times; `--json`
keeps the codes and ISO 8601, so nothing here touches what scripts read.
Each function takes a row as a service returns it and gives a new one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping

from notifications.kinds import kind_label
from states import DEFINITIONS
from states import dates
from states.words import humanise
from workflow.cli._common import pounds_text

_CHECKPOINT = DEFINITIONS["checkpoint"]
_CASE_KINDS = {"bid": "Bid", "area": "Network area"}


def state_label(code: str | None, kind: str | None = None) -> str:
    """A state's label in its definition; without a kind, in the first that has it
    (the definitions give a code the same label wherever they share it)."""
    if not code:
        return ""
    if kind in DEFINITIONS:
        return DEFINITIONS[kind].state_label(code)
    for definition in DEFINITIONS.values():
        if code in definition.state_words:
            return definition.state_label(code)
    return humanise(code)


def trigger_label(code: str | None, kind: str | None) -> str:
    if not code:
        return ""
    definition = DEFINITIONS.get(kind or "", DEFINITIONS["bid"])
    return definition.trigger_label(code)


def keeps_state(trigger: str, kind: str) -> bool:
    """Whether `trigger` leaves a `kind` where it was (a countersignature): the command
    line then says it was done, not that the case "is now" where it already was."""
    definition = DEFINITIONS.get(kind)
    return definition is not None and any(
        t.trigger == trigger and t.dest in ((t.source,) if isinstance(t.source, str) else t.source)
        for t in definition.transitions
    )


def when(value: Any) -> str:
    """An ISO time or date (as services return them) as people read it."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    return dates.moment(value) if isinstance(value, datetime) else dates.day(value)


def case_row(
    row: Mapping[str, Any], *, lead_names: Mapping[str, str] | None = None, spec: Any = None
) -> dict[str, Any]:
    kind = row.get("kind")
    out = {
        **row,
        "state": state_label(row.get("state"), kind),
        "kind": _CASE_KINDS.get(kind or "", humanise(kind or "")),
    }
    if lead_names is not None and row.get("lead"):
        out["lead"] = lead_names.get(row["lead"], row["lead"])
    if spec is not None and row.get("category"):
        out["category"] = spec.category_label(row["category"])
    if "allowed_triggers" in row:
        out["allowed_triggers"] = [
            f"{trigger_label(t, kind)} ({t})" for t in row["allowed_triggers"]
        ]
    for key in ("created_at", "updated_at"):
        if key in row:
            out[key] = when(row[key])
    return out


# What `case show` calls each field for people, in its order (the rest keep their names).
_SHOWN_AS = {
    "ref": "reference",
    "kind": "kind",
    "programme": "programme",
    "state": "state",
    "allowed_triggers": "allowed now",
    "title": "title",
    "category": "category",
    "lead": "lead council",
    "partners": "partners",
    "caseworker": "caseworker",
    "amount": "amount",
    "contribution": "contribution",
    "at_risk": "at risk",
    "version": "version",
    "created_at": "opened",
    "updated_at": "last changed",
    "application": "application",
}


def case_listing(
    case: Mapping[str, Any], *, lead_names: Mapping[str, str], spec: Any = None
) -> dict[str, Any]:
    """`case show` for people: labels, names, London times, and fields named in words."""
    row = case_row(case, lead_names=lead_names, spec=spec)
    row["partners"] = [lead_names.get(p, p) for p in case.get("partners") or []]
    row["at_risk"] = "yes" if case.get("at_risk") else "no"
    document = dict(case.get("application") or {})
    # The document keeps the codes its author typed, each after the words for it.
    if document.get("category") and spec is not None:
        document["category"] = (
            f"{spec.category_label(document['category'])} ({document['category']})"
        )
    if document.get("arrangement"):
        document["arrangement"] = f"{humanise(document['arrangement'])} ({document['arrangement']})"
    if document:
        row["application"] = document
    out = {_SHOWN_AS[k]: row[k] for k in _SHOWN_AS if k in row}
    out.update({k: v for k, v in row.items() if k not in _SHOWN_AS})
    return out


def with_application_version(shown: Mapping[str, Any], v: Mapping[str, Any]) -> dict[str, Any]:
    """`case show --version N`: which version the application below is, just above it."""
    out: dict[str, Any] = {}
    for key, value in shown.items():
        if key == "application":
            out["application version"] = (
                f"{v['version']} of {v['latest']}, by {v['actor']}, {when(v['at'])}"
            )
            if v["changed"]:
                out["changed then"] = ", ".join(v["changed"])
        out[key] = value
    return out


def history_row(row: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """A history row: its checkpoint's words for a return's row, else its case's."""
    of = "checkpoint" if row.get("checkpoint") else "payment" if row.get("payment") else kind
    payload = row.get("payload")
    variation = payload.get("variation") if isinstance(payload, Mapping) else None
    return {
        **row,
        # Which return, payment or variation of the case the row is about (Q2, P1, V1).
        "about": row.get("checkpoint") or row.get("payment") or variation or "",
        "at": when(row.get("at")),
        "trigger": trigger_label(row.get("trigger"), of),
        "from": state_label(row.get("from_state"), of),
        "to": state_label(row.get("to_state"), of),
    }


def checkpoint_row(row: Mapping[str, Any], spec: Any = None) -> dict[str, Any]:
    step = row.get("next_step")
    out = {
        **row,
        "state": _CHECKPOINT.state_label(row.get("state") or ""),
        "case_state": state_label(row.get("case_state")),
        "due": when(row.get("due")),
    }
    if "next_step" in row:
        out["next"] = f"{step_label(step['name'], spec)}, {when(step['at'])}" if step else ""
    for key in ("submitted_at",):
        if key in row:
            out[key] = when(row[key])
    if spec is not None and row.get("figures"):
        # Money is put in pounds here, before the field's name gives way to its label.
        money = {n for n, f in spec.monitoring.fields.items() if f.kind == "money"}
        out["figures"] = {
            spec.field_label(k): (pounds_text(v) if k in money and v is not None else v)
            for k, v in row["figures"].items()
        }
    return out


def payment_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A payment: its state's label, the amount in pounds, its day and its event in words."""
    from states.programme import tranche_event_label

    out = {
        **row,
        "state": DEFINITIONS["payment"].state_label(row.get("state") or ""),
        "amount": pounds_text(row["amount"]) if row.get("amount") else "",
        "due_on": when(row.get("due_on")),
        "event": tranche_event_label(row["event"]) if row.get("event") else "",
        "reference": row.get("reference") or "",
    }
    for key in ("approved_at", "paid_at"):
        if key in row:
            out[key] = when(row[key])
    if "allowed_triggers" in row:
        out["allowed_triggers"] = [
            f"{DEFINITIONS['payment'].trigger_label(t)} ({t})" for t in row["allowed_triggers"]
        ]
    return out


def step_label(name: str, spec: Any = None) -> str:
    if spec is not None:
        return spec.step_label(name)
    from states.ladder import STANDARD_STEPS

    step = STANDARD_STEPS.get(name)
    return step.label if step else humanise(name)


def message_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "kind": kind_label(row.get("kind") or ""),
        "state": humanise(row.get("state") or ""),
    }


def admin_rows(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The admin log's rows for `audit admin`: when, who, what changed, before and after."""
    from states.words import admin_label
    from workflow.services.admin_log import side_text

    return [
        {
            "id": r["id"],
            "when": when(r["at"]),
            "who": r["actor"] + (" (operator)" if r["role"] == "operator" else ""),
            "change": admin_label(r["action"]),
            "of": r["target"],
            "before": side_text(r["before"]),
            "after": side_text(r["after"]),
        }
        for r in rows
    ]
