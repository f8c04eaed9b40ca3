"""Words for people on the web's pages: states and triggers by their labels, never their codes.

The one place the pages turn a code (`under_assessment`, `declare_ineligible`)
into what people read; forms and links keep the codes.
"""
from __future__ import annotations

# Until the definitions carry their own labels (DESIGN.md section 12).
_TRIGGERS = {
    "submit": "Submit", "check": "Mark as eligible", "declare_ineligible": "Declare ineligible",
    "start_assessment": "Start assessment", "ask_clarification": "Ask the council a question",
    "answer": "Record the council's answer", "moderate": "Mark as moderated",
    "recommend": "Recommend", "reject": "Reject", "offer": "Offer the award",
    "accept": "Accept the award", "decline": "Decline", "complete": "Mark as complete",
    "suspend": "Suspend", "reinstate": "Reinstate", "terminate": "Terminate",
    "withdraw": "Withdraw", "select": "Select the area", "onboard": "Start onboarding",
    "activate": "Activate",
}


def _readable(code: str) -> str:
    text = str(code).replace("_", " ").replace(".", " ").strip()
    return text[:1].upper() + text[1:]


def trigger_label(kind: str, trigger: str) -> str:
    """"Declare ineligible" for `declare_ineligible` on a bid."""
    if kind == "area" and trigger == "decline":
        return "Do not select the area"
    return _TRIGGERS.get(trigger) or _readable(trigger)


def state_label(state: str | None, kind: str | None = None) -> str:
    """"Under assessment" for `under_assessment` (of `kind`, or of whichever definition has it)."""
    if not state:
        return ""
    return _readable(state)


__all__ = ["trigger_label", "state_label"]
