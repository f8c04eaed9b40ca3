"""No state is named outside its definition: everything else asks a definition's groups.

Adding a state, or moving one between groups, is then a change to states/ alone; a
string equal to a state's name anywhere in workflow/ or notifications/ fails here.
"""

import ast
from pathlib import Path

from states import DEFINITIONS

ROOT = Path(__file__).resolve().parents[2]
# A payment's states `due`, `held` and `paid` are also everyday words the code uses for other
# things (a return's due date, the ladder's `held` row, a sum's `paid` key): they are left out
# of the scan, and workflow/services/payments.py asks PAYMENT's groups for them all the same.
EVERYDAY_WORDS = {"due", "held", "paid"}
STATE_NAMES = {s for d in DEFINITIONS.values() for s in d.states} - EVERYDAY_WORDS

# (file, text): the same word meaning something other than a state. Reviewed; keep it short.
NOT_A_STATE = {
    ("lifecycle.py", "open"),  # the action of opening a case (states.roles.ACTION_ROLES)
    ("case.py", "open"),  # the command `casework case open`
    ("monitoring.py", "submitted"),  # a word in a refusal: "... cannot be submitted"
    ("queries.py", "overdue"),  # the returns list's query parameter ?overdue=1
    ("returns.py", "overdue"),  # the same parameter, read
    ("payments.py", "accepted"),  # a tranche's event: the agreement accepted (programme file)
    ("payments.py", "eligible"),  # a recovery's eligible spend
    ("payment.py", "eligible"),  # the same, as `payment recover` prints it
    ("notify.py", "accepted"),  # a message's recipients Notify accepted (an attribute)
}


def state_names_in(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in STATE_NAMES
    ]


def test_no_state_is_named_outside_the_definitions():
    found = []
    for folder in ("workflow", "notifications"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:  # a migration is history: it keeps its words
                continue
            found += [
                f"{path.relative_to(ROOT)}:{line}: {text!r}"
                for line, text in state_names_in(path)
                if (path.name, text) not in NOT_A_STATE
            ]
    assert found == [], "ask the definition's groups instead:\n" + "\n".join(found)


def test_the_check_finds_a_state_named_in_code(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('LIVE = ("award_offered", "in_monitoring")\nx = "ok"\n')
    assert state_names_in(sample) == [(1, "award_offered"), (1, "in_monitoring")]
