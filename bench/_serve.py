"""What bench/api.py and bench/web.py share: `casework serve` in a subprocess, timing, figures.

Import it first, before any project or library module: importing it puts the
project root in the place of bench/ on sys.path, because bench/transitions.py
would otherwise shadow the library of that name.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This folder holds bench/transitions.py, which would shadow the library of that name.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.smtp_server import free_port  # noqa: E402

CASEWORK = str(Path(sys.executable).with_name("casework"))


@contextmanager
def serving(url: str, folder: Path, ready: str) -> Iterator[str]:
    """`casework serve --no-scheduler` on a free port, once `ready` (a path) answers 200.

    Yields the base URL; the server is stopped on the way out.
    """
    port = free_port()
    env = {
        **os.environ,
        "CASEWORK_DB": url,
        "CASEWORK_MAIL": f"file:{folder / 'mail'}",
        "CASEWORK_FILES": str(folder / "files"),
    }
    proc = subprocess.Popen(
        [CASEWORK, "serve", "--no-scheduler", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "serve.log", "w"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + ready, timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.terminate()
        raise SystemExit(f"casework serve did not start; see {folder / 'serve.log'}")
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def timed(send, n: int, expect: int = 200) -> list[float]:
    """Milliseconds for each of `n` calls of `send(i)`; stops at an answer other than `expect`."""
    out = []
    for i in range(n):
        started = time.perf_counter()
        answer = send(i)
        out.append((time.perf_counter() - started) * 1000)
        if answer.status_code != expect:
            raise SystemExit(
                f"{answer.request.method} {answer.request.url} answered "
                f"{answer.status_code}: {answer.text[:300]}"
            )
    return out


def summary(ms: list[float]) -> dict:
    ordered = sorted(ms)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)  # noqa: E731
    return {
        "n": len(ms),
        "p50": round(statistics.median(ms), 2),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": round(ordered[-1], 2),
    }


def judged(results: dict, targets_ms: dict[str, float]) -> dict:
    """Each summary with its p99 target and whether it was met."""
    for name, figures in results.items():
        figures["target_p99_ms"] = targets_ms[name]
        figures["met"] = figures["p99"] < targets_ms[name]
    return results


def print_figures(results: dict, width: int) -> None:
    for name, f in results.items():
        print(
            f"{name:{width}} p50 {f['p50']:6.2f} ms  p95 {f['p95']:6.2f} ms  p99 {f['p99']:6.2f} ms"
            f"  (target p99 < {f['target_p99_ms']:.0f} ms: {'met' if f['met'] else 'MISSED'})"
        )
