"""The web app served over real HTTP on loopback, and Chromium to drive it.

uvicorn runs in a thread of the test process, so the app shares the test's
simulated clock; the browser is Debian's Chromium, driven by Playwright.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from tests.smtp_server import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = (
    Path(
        os.environ.get("CASEWORK_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output")
    )
    / "screenshots"
)


class LiveServer:
    def __init__(self, app: Any):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )
        )
        self.thread = threading.Thread(target=self.server.run, name="live-web", daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web app did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def shoot(page: Any, name: str) -> Path:
    """A full-page screenshot under test-output/screenshots/, for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
