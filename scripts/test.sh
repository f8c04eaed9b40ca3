#!/usr/bin/env bash
# Set up everything the tests need on a bare machine (python3 and pip), then run them all.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# Every package at the version requirements.lock pins (scripts/lock.sh writes it).
.venv/bin/python -m pip install --quiet -c requirements.lock -e '.[test]'

# The browser journeys drive Debian's Chromium (Playwright cannot download its own here).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "chromium could not be installed: browser journeys will be skipped" >&2
fi

# Two processes (pytest-xdist), each running whole files: much of the suite waits on
# subprocesses, servers, browsers and sleeps, so one process left a core idle (tests/conftest.py
# says how the files are shared out).
exec .venv/bin/python -m pytest -p no:cacheprovider -n 2 --dist loadfile "$@"
