"""Where the suite's time goes: sum a CASEWORK_TEST_TIMES file by module and by fixture.

    CASEWORK_TEST_TIMES=/tmp/times.txt bash scripts/test.sh
    .venv/bin/python scripts/test_times.py /tmp/times.txt [--top 20] [--tests 20]

Times are wall seconds (CLOCK_MONOTONIC), a test's setup, call and teardown together; a
session or module fixture's setup counts in the first test that asks for it.
"""

from __future__ import annotations

import argparse
from collections import defaultdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--top", type=int, default=20, help="modules and fixtures to show")
    parser.add_argument("--tests", type=int, default=20, help="slowest tests to show")
    args = parser.parse_args()

    tests: dict[str, float] = {}
    fixtures: dict[str, list[float]] = defaultdict(list)
    with open(args.path, encoding="utf-8") as lines:
        for line in lines:
            seconds, _, what = line.rstrip("\n").partition("\t")
            if what.startswith("fixture "):
                fixtures[what.split("\t")[0][len("fixture ") :]].append(float(seconds))
            else:
                tests[what] = float(seconds)  # a re-run (the same id) counts once, its last
    modules: dict[str, list[float]] = defaultdict(list)
    for nodeid, seconds in tests.items():
        modules[nodeid.split("::")[0]].append(seconds)
    total = sum(tests.values())

    print(f"{len(tests)} tests, {total:.0f} s in all\n")
    print(f"{'seconds':>8} {'share':>6} {'tests':>5}  module")
    for module, times in sorted(modules.items(), key=lambda m: -sum(m[1]))[: args.top]:
        print(f"{sum(times):8.1f} {sum(times) / total:6.1%} {len(times):5}  {module}")
    print(f"\n{'seconds':>8} {'calls':>5}  fixture (scope name): setup only")
    for name, times in sorted(fixtures.items(), key=lambda f: -sum(f[1]))[: args.top]:
        print(f"{sum(times):8.1f} {len(times):5}  {name}")
    print(f"\n{'seconds':>8}  slowest tests")
    for nodeid, seconds in sorted(tests.items(), key=lambda t: -t[1])[: args.tests]:
        print(f"{seconds:8.2f}  {nodeid}")


if __name__ == "__main__":
    main()
