"""How long the command line takes to start: `casework --help` and `casework case list`.

    .venv/bin/python bench/startup.py [--runs 10] [--cases 1000]

Builds a SQLite database in a temporary folder with `--cases` bids (written in
bulk: tests/workflow/monitoring_world.bulk_bids), then runs each command
`--runs` times as a real subprocess, round-robin so that a busy moment of the
machine falls on all of them alike, after one warm-up run each. Reported: the
median wall time (and the fastest and slowest), beside `python -c pass` timed
in the same run, which is what the interpreter alone costs here, and the
median CPU time (user + system) of each, which a busy machine moves less.

Each command is also run once more under a wrapper that lists, at exit, which
of the heavy libraries it imported: a command should import the ORM, Jinja2,
aiosmtplib, uvicorn, prometheus_client, rich, the PDF library or cryptography
only when it needs them.

Bytecode: with PYTHONDONTWRITEBYTECODE=1 in the environment (as on the shared
development machine) and no __pycache__ beside the sources, every run compiles
the project's own modules again (about 0.04 s of `case list`); an installed
copy has them compiled, and so has a checkout set up as the README says
(`python -m compileall`, which writes what a wheel's install writes). By
default the commands run as the environment and the checkout have them;
`--bytecode` gives them a private cache in the temporary folder
(PYTHONPYCACHEPREFIX), filled by the warm-up run, as an installed copy would
have. The first line printed says which, and whether the project's modules
were compiled beside their sources (a checkout without that compiles them
every run: compare the two before and after a change that adds modules).

Targets (median of 10, wall, on the 2-core development machine): `--help`
under 0.15 s, `case list` on 1,000 cases under 0.30 s. The last line printed
is JSON.

`case list` prints its table from the SQLite file read without SQLAlchemy
(workflow/services/case_table.py); `case list --json`, timed beside it with no
target, reads through `reads.list_cases` and SQLAlchemy as every face does
(and as the table does on PostgreSQL, or with `--as`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

# First of all: importing bench/_serve puts the project root in place of bench/ on sys.path.
from _serve import CASEWORK

from tests.workflow.monitoring_world import bulk_bids
from workflow.storage.db import make_engine
from workflow.services.setup import init

TARGETS_S = {"casework --help": 0.15, "casework case list": 0.30}
HEAVY = (
    "sqlalchemy",
    "sqlalchemy.orm",
    "sqlmodel",
    "pydantic",
    "jinja2",
    "aiosmtplib",
    "uvicorn",
    "prometheus_client",
    "fastapi",
    "starlette",
    "alembic",
    "transitions",
    "holidays",
    "rich",
    "fpdf",
    "cryptography",
    "typer",
)

# Runs the console script's own entry point, then writes which HEAVY modules were imported.
_WRAPPER = """
import atexit, json, sys
heavy, out = json.loads(sys.argv[1]), sys.argv[2]
atexit.register(lambda: open(out, "w").write(json.dumps(
    [m for m in heavy if m in sys.modules])))
sys.argv = ["casework", *sys.argv[3:]]
from workflow.cli import main
main()
"""


def build(folder: Path, n_cases: int) -> str:
    url = f"sqlite:///{folder / 'casework.db'}"
    engine = make_engine(url)
    init(engine)
    bulk_bids(engine, n_cases, lambda i, n: date(2030, 1 + 3 * (n - 1), 2))
    engine.dispose()
    return url


def commands(n_cases: int) -> dict[str, list[str]]:
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "casework --help": [CASEWORK, "--help"],
        "casework case list": [CASEWORK, "case", "list"],
        "casework case list --json": [CASEWORK, "case", "list", "--json"],
        "casework case show REF": [CASEWORK, "case", "show", f"TCA-2013-{n_cases:06d}"],
    }


def project_compiled() -> bool:
    """Whether the project's modules have current bytecode beside their sources (what
    `python -m compileall` leaves, as the README's setup runs it); judged by the module
    every command imports."""
    import importlib.util

    import workflow.cli

    source = Path(workflow.cli.__file__)
    compiled = Path(importlib.util.cache_from_source(str(source)))
    if not compiled.exists():
        return False
    # The header Python checks: the source's mtime and size, as they were when compiled.
    header, now = compiled.read_bytes()[8:16], source.stat()
    return header == (
        (int(now.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
        + (now.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    )


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds, and CPU seconds (user + system) of one run."""
    cpu, started = _cpu(), time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[:500]}")
    return took, _cpu() - cpu


def imported(argv: list[str], env: dict[str, str], folder: Path) -> list[str] | None:
    if argv[0] != CASEWORK:
        return None
    out = folder / "imported.json"
    subprocess.run(
        [sys.executable, "-c", _WRAPPER, json.dumps(HEAVY), str(out), *argv[1:]],
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, metavar="N")
    parser.add_argument("--cases", type=int, default=1000, metavar="N")
    parser.add_argument(
        "--bytecode",
        action="store_true",
        help="give the commands a bytecode cache of their own, as an installed "
        "copy has (see above)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="casework-startup-") as tmp:
        folder = Path(tmp)
        env = {**os.environ, "CASEWORK_DB": build(folder, args.cases)}
        if args.bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        compiled = project_compiled()
        bytecode = (
            "a bytecode cache of their own (--bytecode)"
            if args.bytecode
            else "bytecode as the environment has it (PYTHONDONTWRITEBYTECODE="
            f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}; the project's modules "
            + (
                "compiled beside their sources"
                if compiled
                else "not compiled: each run compiles them"
            )
            + ")"
        )
        todo = commands(args.cases)
        listed = subprocess.run(
            todo["casework case list"], env=env, capture_output=True, text=True, check=True
        ).stdout
        rows = sum(1 for line in listed.splitlines() if "TCA-2013-" in line)
        if rows != args.cases:
            raise SystemExit(f"case list printed {rows} cases, not {args.cases}")
        times: dict[str, list[float]] = {name: [] for name in todo}
        cpus: dict[str, list[float]] = {name: [] for name in todo}
        for argv in todo.values():  # warm-up: the page cache, Python's bytecode
            run(argv, env)
        load = os.getloadavg()[0]
        for _ in range(args.runs):
            for name, argv in todo.items():
                wall, cpu = run(argv, env)
                times[name].append(wall)
                cpus[name].append(cpu)
        heavy = {name: imported(argv, env, folder) for name, argv in todo.items()}

    results = {}
    print(
        f"{args.runs} runs each, {args.cases} cases, load average {load:.2f} at the start "
        f"({os.cpu_count()} cores); the commands ran with {bytecode}"
    )
    print(
        f"{'command':<26} {'median':>8} {'fastest':>8} {'slowest':>8} {'CPU':>7}  target"
        f"          imports"
    )
    for name, ts in times.items():
        median = statistics.median(ts)
        target = TARGETS_S.get(name)
        verdict = "" if target is None else ("met" if median < target else "NOT MET")
        cpu = statistics.median(cpus[name])
        results[name] = {
            "median_s": round(median, 3),
            "min_s": round(min(ts), 3),
            "max_s": round(max(ts), 3),
            "cpu_median_s": round(cpu, 3),
            "target_s": target,
            "met": None if target is None else median < target,
            "imports": heavy[name],
        }
        shown = "" if heavy[name] is None else ", ".join(heavy[name]) or "(none of them)"
        print(
            f"{name:<26} {median:>7.3f}s {min(ts):>7.3f}s {max(ts):>7.3f}s {cpu:>6.3f}s  "
            f"{'' if target is None else f'<{target:.2f}s':<6} {verdict:<7}  {shown}"
        )
    print(
        json.dumps(
            {
                "runs": args.runs,
                "cases": args.cases,
                "load_average": round(load, 2),
                "bytecode_cache": args.bytecode,
                "project_compiled": compiled,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
