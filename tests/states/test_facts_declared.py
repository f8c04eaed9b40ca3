"""A rule reads only the facts it declares: the engine fetches nothing else for it."""

import ast
import inspect
import textwrap

import pytest

import states.rules as rules_module
from states.facts import ALWAYS_READ, FACT_GROUPS, Facts
from states.rules import ACTOR_RULES, RULES, facts_read, reads

FACT_FIELDS = set(Facts.__dataclass_fields__)


def fields_read(function, seen=None) -> set[str]:
    """The Facts fields `function` reads from its `facts`, following the module's helpers."""
    seen = set() if seen is None else seen
    if function in seen:
        return set()
    seen.add(function)
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    out = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "facts"
            and node.attr in FACT_FIELDS
        ):
            out.add(node.attr)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and any(isinstance(a, ast.Name) and a.id == "facts" for a in node.args)
        ):
            helper = getattr(rules_module, node.func.id, None)
            if inspect.isfunction(helper):
                out |= fields_read(helper, seen)
    return out


@pytest.mark.parametrize(
    "name,rule",
    [*RULES.items(), *ACTOR_RULES.items()],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_a_rule_reads_no_fact_it_did_not_declare(name, rule):
    allowed = set(ALWAYS_READ).union(*(FACT_GROUPS[g] for g in facts_read(rule)))

    undeclared = fields_read(rule) - allowed

    assert undeclared == set(), f"{name} reads {sorted(undeclared)} without declaring it"


def test_the_check_finds_a_fact_read_without_its_declaration():
    @reads("ledger")
    def greedy(facts: Facts) -> list[str]:
        return [] if facts.offers_in_category < 3 else ["too many"]

    assert fields_read(greedy) - set(ALWAYS_READ) - FACT_GROUPS["ledger"] == {"offers_in_category"}


def test_every_fact_belongs_to_one_group_or_is_always_read():
    grouped = [f for fields in FACT_GROUPS.values() for f in fields]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) | ALWAYS_READ == FACT_FIELDS


def test_an_unknown_group_of_facts_is_refused_where_it_is_declared():
    with pytest.raises(ValueError, match="unknown groups of facts: ledgers"):
        reads("ledgers")
