"""Building the cases a test needs through the real services, in a few words."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from states import DEFINITIONS
from workflow.errors import CaseworkError
from workflow.services import diligence, lifecycle, directory
from workflow.storage.tables import cases as cases_t, history, ledger, outbox

BID_PATH = ["submit", "check", "start_assessment"]
# The moves refused until due diligence has passed (a bid's check, an area's assessment).
DILIGENCE_GATES = ("check", "start_assessment")


class World:
    """A database with a small cast: councils, a caseworker, assessors and approvers."""

    def __init__(self, engine):
        self.engine = engine
        self._orgs: set[str] = set()

    @classmethod
    def over(cls, engine) -> "World":
        """A World over a database that already holds a cast (a copy of one built once)."""
        return cls(engine).adopt()

    def adopt(self) -> "World":
        """Count the organisations already in the database (copied in) as this World's own."""
        from workflow.storage.tables import organisations

        with self.engine.connect() as conn:
            self._orgs.update(conn.execute(select(organisations.c.code)).scalars())
        return self

    # --- cast ----------------------------------------------------------------
    def org(
        self,
        code: str = "E07000026",
        *,
        name: str | None = None,
        kind: str = "council",
        esg: str | None = None,
        email: str | None = None,
    ) -> str:
        if code not in self._orgs:
            with self.engine.begin() as conn:
                directory.add_org(
                    conn,
                    code,
                    name=name or f"Council {code}",
                    email=email or f"returns@{code.lower()}.example.gov.uk",
                    escalation_email=f"chief.executive@{code.lower()}.example.gov.uk",
                    kind=kind,
                    esg_allocation=esg,
                )
            self._orgs.add(code)
        return code

    def person(self, name: str, *roles: str, org: str | None = None) -> str:
        with self.engine.begin() as conn:
            directory.add_user(
                conn,
                name,
                roles=roles or ("caseworker",),
                email=f"{name}@casework.example.gov.uk",
                org=org,
            )
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
        doc = {
            "programme": "tca-2013",
            "category": "shared_arrangement",
            "title": "Joint procurement hub for three districts",
            "lead": "E07000026",
            "partners": ["E07000028", "E07000029"],
            "amount": "250000",
            "transitional_costs": "120000",
            "annual_savings": "400000",
            "arrangement": "joint_procurement",
            "innovation": "One buying team for three.",
        }
        doc.update(overrides)
        return {k: v for k, v in doc.items() if v is not None}

    def bid(self, by: str = "carol", **overrides: Any) -> str:
        return lifecycle.open_case(self.engine, "bid", self.bid_document(**overrides), by)["ref"]

    def advance(
        self, ref: str, *triggers: str, by: str = "carol", reason: str | None = None
    ) -> dict:
        out: dict = {}
        for t in triggers:
            if t in DILIGENCE_GATES:
                self.pass_diligence(ref, by=by)
            if t == "offer":
                self.countersign(ref, offering=by)
            out = lifecycle.advance(self.engine, ref, t, by, reason=reason)
        return out

    def pass_diligence(self, ref: str, by: str = "carol") -> None:
        """Record what a caseworker must before the check (DESIGN.md section 9), as a test's
        setup: a pass with evidence for each manual check not recorded yet (fraud risk rated
        low) and for each overridable automatic check that fails (the cast's councils are not
        named as the register names them; World.bid's bids share a lead and category).
        Checks that cannot be overridden are left to fail."""
        case = lifecycle.show(self.engine, ref)
        if not DEFINITIONS[case["kind"]].is_in(case["state"], "to_check"):
            return
        try:
            shown = diligence.show(self.engine, ref, by)
            for c in shown["checks"]:
                if c["status"] in ("passed", "overridden") or not c["recordable"]:
                    continue
                diligence.record(
                    self.engine,
                    ref,
                    c["check"],
                    by,
                    result="pass",
                    evidence="Checked as the test's setup.",
                    rating="low" if c["kind"] == "rating" else None,
                )
        except CaseworkError:
            return  # not a caseworker: the move itself is refused as the test expects

    APPROVERS = ("aaron", "april")

    def countersign(self, ref: str, *, offering: str = "april", by: str | None = None) -> None:
        """Before an offer that needs one (DESIGN.md section 9), a second approver's
        countersignature: `by`, else the cast's other approver. Nothing when none is needed."""
        from workflow.services import controls

        if not controls.missing_countersignatures(self.engine, ref, offering):
            return
        signer = by or next(a for a in self.APPROVERS if a != offering)
        lifecycle.advance(self.engine, ref, "countersign", signer)

    def name_sro(self, name: str, programme: str = "tca-2013") -> str:
        """Name `name` (an approver) the programme's senior responsible owner, as an admin
        does (`casework programme sro CODE NAME`): one row of the admin log."""
        from workflow import clock
        from workflow.services import sro
        from workflow.services.admin_log import Admin

        with self.engine.begin() as conn:
            sro.appoint(conn, programme, name, Admin.operator(), at=clock.now())
        return name

    def state(self, ref: str) -> str:
        return lifecycle.show(self.engine, ref)["state"]

    # --- proof that a refusal changed nothing --------------------------------
    def snapshot(self) -> dict:
        with self.engine.connect() as conn:
            return {
                "cases": [
                    tuple(r)
                    for r in conn.execute(
                        select(
                            cases_t.c.ref, cases_t.c.state, cases_t.c.version, cases_t.c.last_seq
                        ).order_by(cases_t.c.id)
                    )
                ],
                "history": conn.execute(select(func.count()).select_from(history)).scalar(),
                "outbox": conn.execute(select(func.count()).select_from(outbox)).scalar(),
                "ledger": conn.execute(select(func.count()).select_from(ledger)).scalar(),
            }
