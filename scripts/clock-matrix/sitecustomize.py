"""Loaded only by `make test-clocks` (scripts/clock-matrix.sh puts this folder on PYTHONPATH).

libfaketime 0.9.10 cannot both fake the wall clock and leave timed waits alone:
- faking CLOCK_MONOTONIC too makes every lock or condition wait with a time-out (sem_clockwait)
  wait for the whole offset, so paramiko's and Airflow's time-outs never fire;
- with FAKETIME_DONT_FAKE_MONOTONIC=1 those waits are right, but time.sleep() (an absolute
  clock_nanosleep on CLOCK_MONOTONIC) fails with EINVAL.
The script takes the second setting, and this shim gives time.sleep() the same meaning through
select(), whose relative time-out libfaketime passes through unchanged.
"""

import os
import select
import time

if os.environ.get("QW_CLOCK_MATRIX") == "1":

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            select.select([], [], [], left)

    time.sleep = _sleep
