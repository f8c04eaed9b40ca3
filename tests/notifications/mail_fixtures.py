"""Helpers shared by the notifications tests and bench/delivery.py (no fixtures here)."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine

from workflow.storage.db import make_engine


def sqlite_engine(path: Path) -> Engine:
    """The engine's own SQLite set-up (WAL; writers take the lock at BEGIN IMMEDIATE)."""
    return make_engine(f"sqlite:///{path}")


class Clock:
    """The time deliver() sees; tests move it on by hand."""

    def __init__(self, start: datetime):
        self.at = start

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at


_TCA = {
    "code": "tca-2013",
    "name": "Transformation Challenge Award",
    "lead_email": "tca.team@communities.gsi.gov.uk",
    "director_email": "tca.director@communities.gsi.gov.uk",
}
_PSTN = {
    "code": "pstn-2013",
    "name": "Public Service Transformation Network",
    "lead_email": "pstn.team@communities.gsi.gov.uk",
    "director_email": "pstn.director@communities.gsi.gov.uk",
}
BASE_URL = "https://casework.example.gov.uk"
# Checkpoint and case kinds happen to bids and to areas; the rest to one of them.
CASE_KINDS_FOR = {
    "bid": ("bid",),
    "area": ("area",),
    "checkpoint": ("bid", "area"),
    "case": ("bid", "area"),
    "review": ("bid",),
    "payment": ("bid",),
    "variation": ("bid",),
}


# A caseworker's reason, for the kinds that usually carry one.
_REASONS = {
    "bid.ineligible": "The lead council is not one of the seven receiving Efficiency Support Grant.",
    "bid.rejected": "The bid scored 2.1 of 5; this round's awards went to bids scoring 3.4 or more.",
    "case.clarification_requested": "How will the savings be shared between the partner councils?",
    "case.reinstated": "The Q2 return arrived and was accepted.",
    "case.assigned": "Carol is on leave until September; the Q2 return is due on 4 April.",
    "checkpoint.queried": "Spend to date is lower than the last return's; please check the figure.",
    "bid.terminated": "The audit found the grant was spent on work outside the agreement.",
    "case.withdrawn": "The partnership dissolved when one council left.",
    "area.not_selected": "The expression of interest named no local partners beyond the council.",
}


def realistic_context(kind: str, case_kind: str = "bid", **overrides) -> dict:
    """The context the engine passes for `kind`, with believable 2013 data."""
    if case_kind == "bid":
        ref = "TCA-2013-0007"
        ctx = {
            "programme": dict(_TCA),
            "case": {
                "ref": ref,
                "title": "Joint procurement hub for three Gloucestershire districts",
                "kind": "bid",
                "lead_name": "Tewkesbury Borough Council",
                "lead_code": "E07000083",
                "has_escalation_contact": True,
                "category": "Shared arrangement",
                "amount": "£250,000",
                "url": f"{BASE_URL}/cases/{ref}",
                "agreement_url": f"{BASE_URL}/cases/{ref}/agreement",
            },
        }
    else:
        ref = "PSTN-2013-0003"
        ctx = {
            "programme": dict(_PSTN),
            "case": {
                "ref": ref,
                "title": "Greater Essex: troubled families and health and social care",
                "kind": "area",
                "lead_name": "Essex County Council",
                "lead_code": "E10000012",
                "has_escalation_contact": True,
                "category": None,
                "amount": None,
                "url": f"{BASE_URL}/cases/{ref}",
                "agreement_url": f"{BASE_URL}/cases/{ref}/agreement",
            },
        }
    ctx.update(reason=None, checkpoint=None, step=None, review=None, payment=None, variation=None)
    folder, event_name = kind.split(".")
    ladder = {"opened": 0, "reminder": 0, "overdue": 0, "escalated_1": 1, "escalated_2": 2}
    if folder == "checkpoint" or kind == "case.suspended":
        level = ladder.get(event_name, 2)
        ctx["checkpoint"] = {
            "ref": f"{ref}/Q2",
            "label": "Q2",
            "due": date(2014, 4, 4),
            "url": f"{BASE_URL}/returns/{ref}/Q2",
            "level": level,
        }
        ctx["step"] = {
            "name": event_name,
            "due_at": datetime(2014, 4, 5, 8, tzinfo=timezone.utc),
            "late": False,
        }
    if folder == "payment":
        ctx["payment"] = {
            "ref": f"{ref}/P1",
            "label": "P1",
            "amount": "£125,000",
            "event": "the award accepted",
            "reference": "BACS-2014-0412",
            "paid_at": datetime(2014, 4, 4, 11, tzinfo=timezone.utc),
            "paid_total": "£125,000",
        }
    if folder == "review":
        ctx["review"] = {
            "ref": f"{ref}/R1",
            "label": "R1",
            "due": date(2014, 4, 4),
            "url": f"{BASE_URL}/cases/{ref}#review",
            "sro": "april",
        }
        ctx["step"] = {
            "name": f"review_{event_name}",
            "due_at": datetime(2014, 4, 5, 8, tzinfo=timezone.utc),
            "late": False,
        }
    ctx["reason"] = _REASONS.get(kind)
    if folder == "payment":  # a payment made (issue 19): P2, a quarter of the award
        ctx["payment"] = {
            "ref": f"{ref}/P2",
            "label": "P2",
            "amount": "£62,500",
            "reference": "BACS 2014/0042",
            "paid_at": datetime(2014, 4, 22, 10, tzinfo=timezone.utc),
            "event": "When the Q2 return is accepted",
            "paid_total": "£187,500",
            "still_to_pay": "£62,500",
        }
    if kind == "bid.terminated":  # P1 paid, the rest of the £250,000 award released
        ctx["payment"] = {"paid_total": "£125,000", "released": "£125,000"}
    if kind == "payment.released_to_fund":  # completed, the last return waived: P3 never due
        ctx["payment"] = {
            "released": "£62,500",
            "tranches": "tranche 3 of 3, 25% of the award, to be paid when the last return "
            "is accepted.",
            "why": "The Q4 return was waived, so tranche 3 never fell due.",
            "kept": "£187,500",
            "completed_at": datetime(2015, 4, 20, 10, tzinfo=timezone.utc),
        }
        ctx["reason"] = "The project ended early: the council's final report covers Q4."
    if folder == "variation":  # a change to the award (DESIGN.md section 8)
        approved = event_name == "approved"
        ctx["variation"] = {
            "ref": f"{ref}/V1",
            "label": "V1",
            "amount": "£300,000",
            "previous_amount": "£250,000",
            "end_on": date(2015, 9, 30),
            "reason": "Two more districts join the hub, so its set-up costs rise.",
            "proposed_by": "cllr",
            "by_council": event_name != "proposed",
            "decided_by": "aaron" if event_name in ("approved", "rejected") else None,
            "agreement_version": 2 if approved else None,
            "agreement_url": f"{BASE_URL}/cases/{ref}/agreement?version=2" if approved else None,
            "url": f"{BASE_URL}/cases/{ref}#variations",
        }
        if event_name == "rejected":
            ctx["reason"] = "The fund has no room left this year for increases."
    if kind == "case.submitted":  # the receipt shows the application as it was sent, and when
        ctx["received_at"] = datetime(2014, 1, 17, 15, 42, tzinfo=timezone.utc)
        ctx["answers"] = (
            [
                {"label": "Kind of award", "answer": "Shared arrangement"},
                {"label": "Amount asked for", "answer": "£250,000"},
                {
                    "label": "Partners",
                    "answer": "Cheltenham Borough Council\nCotswold District Council",
                },
            ]
            if case_kind == "bid"
            else [
                {"label": "Service areas", "answer": "Troubled families"},
                {"label": "Contribution offered", "answer": "£50,000"},
            ]
        )
    for path, value in overrides.items():  # case__title="…" -> ctx["case"]["title"]
        target = ctx
        *parents, leaf = path.split("__")
        for name in parents:
            target = target[name]
        target[leaf] = value
    return copy.deepcopy(ctx)


def kinds_with_case_kinds(kinds) -> list[tuple[str, str]]:
    return [(kind, case_kind) for kind in kinds for case_kind in CASE_KINDS_FOR[kind.split(".")[0]]]


def kill_mid_stream(worker, accepted, rng) -> bool:
    """SIGKILL a delivery process once it has sent ten messages, a random moment later.

    `accepted()` is how many messages the server has taken; True when the
    worker was killed (False: it finished, or failed, first).
    """
    import signal
    import time

    before = accepted()
    deadline = time.monotonic() + 60
    while accepted() < before + 10 and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.4))
    if worker.poll() is not None:
        return False
    worker.send_signal(signal.SIGKILL)
    worker.wait(60)
    return True
