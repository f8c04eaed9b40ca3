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


def refused(db_url: str, tmp_path: Path, *extra: str, **env: str) -> tuple[int, list[str]]:
    ran = subprocess.run(
        [CASEWORK, "--db", db_url, "serve", *extra],
        env={
            **os.environ,
            "CASEWORK_MAIL": f"file:{tmp_path / 'mail'}",
            "CASEWORK_LOG_FORMAT": "json",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    return ran.returncode, ran.stderr.splitlines()


@pytest.mark.slow
def test_a_port_already_taken_is_one_json_line_and_exit_1_before_anything_starts(people, tmp_path):
    import json
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, lines = refused(people.engine.test_url, tmp_path, "--port", str(port))

    assert code == 1 and len(lines) == 1
    line = json.loads(lines[0])
    assert line["level"] == "ERROR" and line["event"] == "serve.refused"
    assert line["message"] == (
        f"casework serve cannot listen on 127.0.0.1:{port}: address already in use "
        "(is another casework serve running?)."
    )


@pytest.mark.slow
def test_settings_that_stop_serve_starting_are_one_json_line(people, tmp_path):
    import json

    code, lines = refused(
        people.engine.test_url, tmp_path, "--port", str(free_port()), CASEWORK_MAIL="notify"
    )
    gone, missing = refused(f"sqlite:///{tmp_path}/none.db", tmp_path, "--no-scheduler")

    assert code == 1 and len(lines) == 1
    assert json.loads(lines[0])["message"] == (
        "The mail settings cannot be used: CASEWORK_MAIL=notify needs "
        "CASEWORK_NOTIFY_API_KEY (from Notify's API integration page)"
    )
    assert gone == 1 and len(missing) == 1
    assert json.loads(missing[0])["message"].startswith(f"There is no database at {tmp_path}")
