"""The wall clock tests/conftest.py times tests with is not the one freezegun or the simulation stop."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from freezegun import freeze_time

from tests.conftest import _wall
from workflow import clock


def test_frozen_and_simulated_clocks_leave_the_wall_clock_running():
    before = _wall()
    with (
        freeze_time("2014-04-07 09:00:00"),
        clock.simulate(datetime(2013, 6, 3, tzinfo=timezone.utc)),
    ):
        frozen = time.perf_counter()
        inside = _wall()
        time.sleep(0.02)
        assert time.perf_counter() == frozen  # what pytest's --durations reads stands still
        assert _wall() - inside >= 0.02  # the wall clock does not
    assert _wall() > before
