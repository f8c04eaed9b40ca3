"""docs/casework.service is a unit systemd accepts, and docs/deploy.md says what it promises."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "docs" / "casework.service"
CASEWORK = str(Path(sys.executable).with_name("casework"))


def service_section() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(UNIT.read_text())
    return parser["Service"]


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed here, so the unit file is not verified",
)
def test_systemd_accepts_the_unit_file(tmp_path):
    # ExecStart must name an executable that exists here: this checkout's casework.
    unit = tmp_path / "casework.service"
    unit.write_text(UNIT.read_text().replace("/opt/casework/.venv/bin/casework", CASEWORK))

    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )

    complaints = [
        line for line in (done.stdout + done.stderr).splitlines() if "casework.service" in line
    ]
    assert done.returncode == 0 and complaints == [], done.stdout + done.stderr


def test_the_unit_restarts_on_failure_as_its_own_user_with_the_environment_file():
    service = service_section()

    assert service["Restart"] == "on-failure"
    assert service["User"] == "casework" and service["Group"] == "casework"
    assert service["EnvironmentFile"] == "/etc/casework/casework.env"
    assert service["ExecStart"].split()[1:] == ["serve", "--host", "127.0.0.1", "--port", "8000"]


def test_the_deployment_guide_covers_what_an_operator_sets_up():
    guide = (ROOT / "docs" / "deploy.md").read_text()

    for needed in (
        "docs/casework.service",
        "Strict-Transport-Security",
        "CASEWORK_SECURE_COOKIES=1",
        "CASEWORK_TRUSTED_PROXIES",
        "--no-web",
        "CASEWORK_BACKUP_DIR",
        "--no-backup",
        "/healthz",
        "/metrics",
        "status --json",
        "casework restore",
        "CASEWORK_LOG_FORMAT=json",
    ):
        assert needed in guide, needed


def test_the_environment_file_and_the_commands_run_by_hand_read_every_setting_whole(tmp_path):
    """The guide's environment file, sourced as its `casework_as` function sources it (with
    `set -a`), gives each setting whole: a value with spaces and angle brackets too."""
    guide = (ROOT / "docs" / "deploy.md").read_text()
    block = guide.split("`/etc/casework/casework.env` (systemd reads it", 1)[1]
    settings = block.split("```sh\n", 1)[1].split("```", 1)[0]
    # The placeholders are for the operator to fill in: a value stands in for each.
    filled = "\n".join(
        line.split("=", 1)[0] + "=filled-in" if "=<" in line else line
        for line in settings.splitlines()
    )
    env_file = tmp_path / "casework.env"
    env_file.write_text(filled + "\n")
    function = next(line for line in guide.splitlines() if line.startswith("casework_as()"))
    script = (
        function.replace("/etc/casework/casework.env", str(env_file))
        .replace("sudo -u casework ", "")
        .replace("cd /var/lib/casework", f"cd {tmp_path}")
        .replace("/opt/casework/.venv/bin/casework", "env")
    )

    shown = subprocess.run(
        ["bash", "-c", script + "\ncasework_as"], capture_output=True, text=True, timeout=60
    )

    assert "xargs" not in guide
    assert shown.returncode == 0, shown.stderr
    seen = dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)
    assert seen["CASEWORK_MAIL_FROM"] == "Transformation programmes <grants@example.gov.uk>"
    assert seen["CASEWORK_DB"] == "sqlite:////var/lib/casework/casework.db"
    assert seen["CASEWORK_SECRET_KEY"] == "filled-in"
    assert seen["CASEWORK_LOG_FORMAT"] == "json"


def test_the_guide_s_backup_verify_and_restore_commands_work_as_written(tmp_path):
    """The guide's own lines, in its order: the folders made as it makes them, `init`, then
    the "Backups and restoring" block through `casework_as`, with the service's settings;
    only the paths are moved under tmp_path and sudo left out."""
    guide = (ROOT / "docs" / "deploy.md").read_text()
    moved = {
        "/var/lib/casework-seals": tmp_path / "seals",
        "/var/lib/casework": tmp_path / "lib",
        "/var/backups/casework": tmp_path / "backups",
        "/etc/casework": tmp_path / "etc",
        "/opt/casework/.venv/bin/casework": CASEWORK,
    }

    def here(text: str) -> str:
        for old, new in moved.items():
            text = text.replace(old, str(new))
        return text

    (tmp_path / "etc").mkdir()
    block = guide.split("`/etc/casework/casework.env` (systemd reads it", 1)[1]
    settings = block.split("```sh\n", 1)[1].split("```", 1)[0]
    (tmp_path / "etc" / "casework.env").write_text(
        here(
            "\n".join(
                line.split("=", 1)[0] + "=filled-in" if "=<" in line else line
                for line in settings.splitlines()
            )
        )
        + "\n"
    )
    folders = next(line for line in guide.splitlines() if line.startswith("install -d"))
    function = next(line for line in guide.splitlines() if line.startswith("casework_as()"))
    commands = guide.split("## Backups and restoring", 1)[1].split("```sh\n", 1)[1]
    commands = commands.split("```", 1)[0]
    script = "\n".join(
        [
            "set -e",
            here(folders.replace("-o casework -g casework ", "")),
            here(function.replace("sudo -u casework ", "")),
            "casework_as init",
            here(commands),
        ]
    )

    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "backups" / "before-upgrade.tar.gz").is_file()
    assert "before-upgrade.tar.gz is whole" in done.stdout
    assert "restored " in done.stdout and (tmp_path / "lib" / "new.db").is_file()
