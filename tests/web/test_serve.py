"""`casework serve` in a real process serves the web app, the API and /healthz beside the scheduler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.smtp_server import free_port

CASEWORK = str(Path(sys.executable).with_name("casework"))


def serving(db_url: str, tmp_path: Path, *extra: str):
    port = free_port()
    env = {**os.environ, "CASEWORK_MAIL": f"file:{tmp_path / 'mail'}"}
    proc = subprocess.Popen(
        [CASEWORK, "--db", db_url, "serve", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(base + "/healthz", timeout=1)
            if answer.status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"casework serve did not become healthy: {proc.communicate()[1][-2000:]}")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


@pytest.mark.slow
def test_a_web_only_node_serves_pages_the_api_and_health(people, tmp_path):
    proc, base = serving(people.engine.test_url, tmp_path, "--no-scheduler")
    try:
        health = httpx.get(base + "/healthz").json()
        sign_in = httpx.get(base + "/sign-in")
        api = httpx.get(base + "/api/v1/openapi.json")
        inbox = httpx.get(base + "/inbox", follow_redirects=False)
    finally:
        assert stop(proc) == 0

    assert health["sweep"] == "not checked: this process runs no scheduler"
    assert sign_in.status_code == 200 and "<h1>Sign in</h1>" in sign_in.text
    assert "casework_session=" in sign_in.headers["set-cookie"]
    assert api.status_code == 200
    assert inbox.status_code == 303 and inbox.headers["location"] == "/sign-in?next=/inbox"


@pytest.mark.slow
def test_a_node_with_the_scheduler_is_healthy_once_it_has_swept(people, tmp_path):
    proc, base = serving(people.engine.test_url, tmp_path, "--every", "1")
    try:
        health = httpx.get(base + "/healthz").json()
    finally:
        assert stop(proc) == 0

    assert health["status"] == "ok"
    assert health["sweep"]["ok"] is True and health["sweep"]["limit_seconds"] == 180
