"""A monitoring return (DESIGN.md section 1, "Checkpoint").

Its transitions are rows of its case's history chain, carrying the checkpoint
(`Q2`), so an auditor reads a case and its returns in one place.
"""

from states.definition import Definition, T

UNFINISHED = ("scheduled", "open", "overdue", "escalated", "queried", "submitted")

CHECKPOINT = Definition(
    kind="checkpoint",
    label="Monitoring return",
    initial="scheduled",
    final={"accepted", "waived"},
    transitions=[
        T("open", "scheduled", "open", roles={"system"}),
        T(
            "submit",
            ("open", "overdue", "escalated", "queried"),
            "submitted",
            roles={"council", "caseworker"},
            guards=["return_complete"],
        ),
        # An accepted return releases the payment tranches it is the event of.
        T("accept", "submitted", "accepted", roles={"caseworker"}, effects=["return_tranches"]),
        T("query", "submitted", "queried", roles={"caseworker"}, needs_reason=True),
        T("mark_overdue", "open", "overdue", roles={"system"}),
        T("escalate", ("overdue", "escalated"), "escalated", roles={"system"}),
        T(
            "waive",
            UNFINISHED,
            "waived",
            roles={"caseworker"},
            needs_reason=True,
            confirm=(
                "The council is not asked for this return again: it cannot be sent, and no "
                "reminder or escalation goes out for it. This cannot be undone."
            ),
        ),
    ],
    state_words={
        "scheduled": ("Not open yet", "The return opens 14 days before its due date."),
        "open": ("Open", "The council can send the return."),
        "submitted": ("Submitted", "The council has sent the return; a caseworker reviews it."),
        "accepted": ("Accepted", "A caseworker accepted the return."),
        "queried": (
            "Queried",
            "A caseworker asked the council to correct the return and send it again.",
        ),
        "overdue": ("Overdue", "The due date has passed and the return has not been sent."),
        "escalated": (
            "Escalated",
            "The return is overdue and has been raised with the council's senior people.",
        ),
        "waived": ("Waived", "A caseworker decided the return is not needed."),
    },
    trigger_words={
        "open": ("Open the return", "Let the council send the return."),
        "submit": ("Send the return", "Send the return's figures and progress."),
        "accept": ("Accept the return", "Accept the return as complete."),
        "query": (
            "Query the return",
            "Ask the council to correct the return and send it again, saying what is wrong.",
        ),
        "mark_overdue": ("Mark overdue", "Record that the due date passed without a return."),
        "escalate": (
            "Escalate",
            "Raise the missing return with the council's senior people or the programme director.",
        ),
        "waive": ("Waive the return", "Decide the return is not needed, giving the reason."),
    },
    groups={
        "unfinished": UNFINISHED,
        "chased": ("scheduled", "open", "overdue", "escalated"),  # the ladder runs on these
        "late": ("overdue", "escalated"),
        "in_play": ("open", "overdue", "escalated", "submitted", "queried"),
        # Work queues: a caseworker's, and the ladder's steps past the due date.
        "to_read": ("submitted",),
        "awaiting_council": ("queried",),
        "overdue_notice": ("overdue",),
        "escalating": ("escalated",),
        # The order a list of returns offers its states in: the way a return goes.
        "as_listed": (
            "scheduled",
            "open",
            "overdue",
            "escalated",
            "submitted",
            "queried",
            "accepted",
            "waived",
        ),
        # How a page colours the state (it always shows the name too).
        "going_well": ("accepted",),
        "in_trouble": ("overdue", "escalated"),
        "waiting": ("submitted", "queried", "open"),
        "at_rest": ("waived", "scheduled"),
    },
)
