#!/usr/bin/env bash
# Pin every package the project installs (runtime and test) in requirements.lock.
# Run it after changing the dependencies in pyproject.toml, and commit both:
# tests/test_lock.py fails while pyproject.toml names a package the lock does not pin.
# The lock is read by pip (`pip install -c requirements.lock ...`, as scripts/test.sh
# and the README's demo command do), so only python3 and pip are needed to use it;
# uv, which resolves it, is installed into .venv here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
[ -x .venv/bin/uv ] || .venv/bin/python -m pip install --quiet uv
# --universal: one lock for every platform and Python the project supports (>= 3.11).
.venv/bin/uv pip compile pyproject.toml --extra test --universal --python-version 3.11 \
    --quiet --output-file requirements.lock "$@"
