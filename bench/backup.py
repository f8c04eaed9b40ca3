"""Backup and restore of a 100,000-case SQLite database, with a writer committing throughout.

    .venv/bin/python bench/backup.py [--cases 100000] [--files 2000]

Builds a database in a temporary folder as bench/web.py does (`--cases` bids
in monitoring with four returns each and each case's 13-row history chain)
and `--files` evidence files of 20 KB. Then, while a writer in another
process commits one small transaction after another (a return's figures
saved, through casework's own engine: BEGIN IMMEDIATE, one UPDATE, COMMIT,
then 5 ms of rest, as a busy web app would), runs `casework backup` and
`casework restore` as subprocesses and reports:

- backup: seconds, archive size, peak memory (the subprocess's max RSS);
- restore into a new SQLite file: seconds, peak memory;
- the writer: its longest commit while the backup ran, against its longest
  in a window as long before the backup (target: under 100 ms).

The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from _serve import CASEWORK, ROOT  # noqa: F401  (puts the project root on sys.path first)

from tests.workflow.monitoring_world import bulk_bids  # noqa: E402
from workflow.storage.db import make_engine  # noqa: E402
from workflow.services.setup import init  # noqa: E402

sys.path.append(str(ROOT / "bench"))  # after the library `transitions` is imported
import web as web_bench  # noqa: E402     (its history chains)

TARGET_PAUSE_MS = 100.0
BASELINE_SECONDS = 5.0
WRITER = """
import sys, time, json
from sqlalchemy import update
from workflow.storage.db import make_engine
from workflow.storage.tables import checkpoints
engine = make_engine(sys.argv[1])
out = open(sys.argv[2], "w")
i = 0
while True:
    i += 1
    started = time.time()
    t = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(update(checkpoints).where(checkpoints.c.id == 1 + i % 1000)
                     .values(figures={"spend_to_date": str(i)}))
    out.write(f"{started} {time.perf_counter() - t}\\n")
    out.flush()
    time.sleep(0.005)
"""


def build(folder: Path, n_cases: int, n_files: int) -> str:
    url = f"sqlite:///{folder / 'casework.db'}"
    engine = make_engine(url)
    init(engine)
    started = time.perf_counter()
    bulk_bids(engine, n_cases, web_bench.due_of, scheduled_at=web_bench.ACCEPTED)
    web_bench._histories(engine, n_cases)
    engine.dispose()
    files = folder / "files"
    for _ in range(n_files):
        data = os.urandom(20_000)
        digest = hashlib.sha256(data).hexdigest()
        (files / digest[:2]).mkdir(parents=True, exist_ok=True)
        (files / digest[:2] / digest[2:]).write_bytes(data)
    size = (folder / "casework.db").stat().st_size
    print(
        f"built {n_cases:,} cases ({size / 1e6:,.0f} MB) and {n_files:,} evidence files in "
        f"{time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return url


def measured(args: list[str], env: dict) -> tuple[float, float, float, float, dict]:
    """Run a casework command with --json; (wall start, wall end, seconds, peak MB, its JSON).

    The seconds include the command's start-up; its JSON says how long the work took.
    Peak memory is the child's own high-water mark (VmHWM), read while it runs: the
    rusage of a child counts this process's size at the fork.
    """
    start_wall, started = time.time(), time.perf_counter()
    proc = subprocess.Popen(
        [CASEWORK, *args, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak_kb = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"casework {' '.join(args)} failed: {err}")
    return start_wall, time.time(), seconds, peak_kb / 1024, json.loads(out)


def commits(log: Path, start: float, end: float) -> dict:
    """The writer's commits that began between `start` and `end`: how many, p99, longest (ms)."""
    took = sorted(
        float(t) * 1000
        for at, t in (line.split() for line in log.read_text().splitlines())
        if start <= float(at) <= end
    )
    if not took:
        return {"commits": 0, "p99_ms": None, "longest_ms": None, "over_100_ms": 0}
    return {
        "commits": len(took),
        "p99_ms": round(took[int(len(took) * 0.99) - 1 if len(took) > 1 else 0], 1),
        "longest_ms": round(took[-1], 1),
        "over_100_ms": sum(t > 100 for t in took),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument(
        "--keep",
        metavar="DIR",
        type=Path,
        help="Build the database in DIR and keep it; reuse it when it is there.",
    )
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = opts.keep or Path(tmp)
        if opts.keep is not None and (folder / "casework.db").exists():
            url = f"sqlite:///{folder / 'casework.db'}"
            for old in ("backup.tar.gz", "restored", "writer.log"):
                shutil.rmtree(folder / old, ignore_errors=True)
                (folder / old).unlink(missing_ok=True) if (folder / old).is_file() else None
        else:
            folder.mkdir(parents=True, exist_ok=True)
            url = build(folder, opts.cases, opts.files)
        env = {**os.environ, "CASEWORK_DB": url, "CASEWORK_FILES": str(folder / "files")}
        log = folder / "writer.log"
        writer = subprocess.Popen([sys.executable, "-c", WRITER, url, str(log)], env=env, cwd=ROOT)
        try:
            while not log.exists() or not log.read_text():
                time.sleep(0.1)
            time.sleep(BASELINE_SECONDS)  # the writer alone, for comparison
            archive = folder / "backup.tar.gz"
            b_start, _, b_seconds, b_mb, made = measured(["backup", str(archive)], env)
        finally:
            writer.terminate()
            writer.wait()
        # The backup itself, from its own record (not the command's start-up).
        began = datetime.fromisoformat(made["made_at"]).timestamp()
        during = commits(log, began, began + made["seconds"])
        before = commits(log, b_start - BASELINE_SECONDS, b_start)
        restored = folder / "restored"
        restored.mkdir()
        renv = {**env, "CASEWORK_FILES": str(restored / "files")}
        _, _, r_seconds, r_mb, done = measured(
            ["restore", str(archive), "--db", f"sqlite:///{restored / 'casework.db'}"], renv
        )
        figures = {
            "cases": opts.cases,
            "files": opts.files,
            "database_mb": round((folder / "casework.db").stat().st_size / 1e6, 1),
            "archive_mb": round(archive.stat().st_size / 1e6, 1),
            "backup_seconds": made["seconds"],
            "backup_command_seconds": round(b_seconds, 2),
            "backup_peak_mb": round(b_mb, 1),
            "restore_seconds": done["seconds"],
            "restore_command_seconds": round(r_seconds, 2),
            "restore_peak_mb": round(r_mb, 1),
            "writer_during_backup": during,
            "writer_before": before,
            "target_ms": TARGET_PAUSE_MS,
            "met": during["longest_ms"] < TARGET_PAUSE_MS,
            "load_average": os.getloadavg()[0],
        }
        for key, value in figures.items():
            print(f"{key:34} {value}", file=sys.stderr)
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
