"""Building the cases a test needs through the real services, in a few words."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from workflow.services import lifecycle, directory
from workflow.storage.tables import cases as cases_t, history, ledger, outbox

BID_PATH = ["submit", "check", "start_assessment"]


class World:
    """A database with a small cast: councils, a caseworker, assessors and approvers."""

    def __init__(self, engine):
        self.engine = engine
        self._orgs: set[str] = set()

    # --- cast ----------------------------------------------------------------
    def org(self, code: str = "E07000026", *, name: str | None = None, kind: str = "council",
            esg: str | None = None, email: str | None = None) -> str:
        if code not in self._orgs:
            with self.engine.begin() as conn:
                directory.add_org(conn, code, name=name or f"Council {code}",
                               email=email or f"returns@{code.lower()}.example.gov.uk",
                               escalation_email=f"chief.executive@{code.lower()}.example.gov.uk",
                               kind=kind, esg_allocation=esg)
            self._orgs.add(code)
        return code

    def person(self, name: str, *roles: str, org: str | None = None) -> str:
        with self.engine.begin() as conn:
            directory.add_user(conn, name, roles=roles or ("caseworker",),
                            email=f"{name}@casework.example.gov.uk", org=org)
        return name

    def cast(self) -> "World":
        for code in ("E07000026", "E07000028", "E07000029"):
            self.org(code)
        self.person("carol", "caseworker")
        self.person("ash", "assessor")
        self.person("asha", "assessor")
        self.person("april", "approver")
        self.person("aaron", "approver")
        self.person("audrey", "auditor")
        self.person("cllr", "council", org="E07000026")
        return self

    # --- cases ---------------------------------------------------------------
    def bid_document(self, **overrides: Any) -> dict:
        doc = {"programme": "tca-2013", "category": "shared_arrangement",
               "title": "Joint procurement hub for three districts", "lead": "E07000026",
               "partners": ["E07000028", "E07000029"], "amount": "250000",
               "transitional_costs": "120000", "annual_savings": "400000",
               "arrangement": "joint_procurement", "innovation": "One buying team for three."}
        doc.update(overrides)
        return {k: v for k, v in doc.items() if v is not None}

    def bid(self, by: str = "carol", **overrides: Any) -> str:
        return lifecycle.open_case(self.engine, "bid", self.bid_document(**overrides), by)["ref"]

    def advance(self, ref: str, *triggers: str, by: str = "carol", reason: str | None = None) -> dict:
        out: dict = {}
        for t in triggers:
            out = lifecycle.advance(self.engine, ref, t, by, reason=reason)
        return out

    def state(self, ref: str) -> str:
        return lifecycle.show(self.engine, ref)["state"]

    # --- proof that a refusal changed nothing --------------------------------
    def snapshot(self) -> dict:
        with self.engine.connect() as conn:
            return {
                "cases": [tuple(r) for r in conn.execute(
                    select(cases_t.c.ref, cases_t.c.state, cases_t.c.version, cases_t.c.last_seq)
                    .order_by(cases_t.c.id))],
                "history": conn.execute(select(func.count()).select_from(history)).scalar(),
                "outbox": conn.execute(select(func.count()).select_from(outbox)).scalar(),
                "ledger": conn.execute(select(func.count()).select_from(ledger)).scalar(),
            }
