"""The report's questions to councils: each question a caseworker or an assessor asked, what
the council amended in its application to answer it, and its answer (DESIGN section 10)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from workflow.storage.db import reading
from workflow.storage.tables import cases, history, organisations


def clarification_rows(engine: Engine) -> list[dict[str, Any]]:
    """One row a question: the case, its council, who asked what and when, the fields each
    amendment after it changed, and the council's answer (None while it is awaited)."""
    with reading(engine) as conn:
        rows = conn.execute(
            select(
                history.c.case_id,
                history.c.trigger,
                history.c.reason,
                history.c.at,
                history.c.actor,
                history.c.role,
                history.c.payload,
                cases.c.ref,
                organisations.c.name.label("council"),
            )
            .join(cases, cases.c.id == history.c.case_id)
            .join(organisations, organisations.c.code == cases.c.lead)
            .where(history.c.trigger.in_(("ask_clarification", "amend", "answer")))
            .order_by(history.c.case_id, history.c.seq)
        )
        out: list[dict[str, Any]] = []
        open_question: dict[int, dict[str, Any]] = {}
        for r in rows:
            if r.trigger == "ask_clarification":
                open_question[r.case_id] = {
                    "ref": r.ref,
                    "council": r.council,
                    "question": r.reason,
                    "asked_by": r.role,
                    "asked_at": r.at,
                    "amended": [],
                    "answer": None,
                    "answered_at": None,
                }
                out.append(open_question[r.case_id])
            elif (asked := open_question.get(r.case_id)) is not None:
                if r.trigger == "amend":
                    asked["amended"].append(
                        {
                            "version": r.payload.get("application_version"),
                            "changed": list(r.payload.get("changed") or []),
                        }
                    )
                else:
                    asked["answer"], asked["answered_at"] = r.reason, r.at
                    del open_question[r.case_id]
        return out
