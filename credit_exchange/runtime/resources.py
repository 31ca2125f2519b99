"""What a task process used: its peak memory, and that of the processes it waited for.

The plugin's listener (plugins/exchange_plugin.py) logs this at the end of every task, in the
task's own log, so an admin sees a task's memory without a metrics system. With
``HUB_TASK_METRICS`` set to a file path, it also appends one JSON line per task there (what
``make bench`` reads).

Peak RSS is the kernel's high-water mark of the process (VmHWM in /proc/self/status): it
counts the pages the task process shares with the worker it was forked from, which is what
the machine must hold for it. Children's peak is getrusage(RUSAGE_CHILDREN).ru_maxrss: the
largest child the task waited for (the parse worker of a big file).
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path
from typing import Any

METRICS_ENV = "HUB_TASK_METRICS"


def peak_rss_mb(status: Path = Path("/proc/self/status")) -> float | None:
    """This process's peak resident memory in MB (VmHWM), or None where /proc has no such line."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def children_peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def task_usage(dag_id: str, run_id: str, task_id: str, try_number: int, state: str) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "try_number": try_number, "state": state,
            "pid": os.getpid(), "peak_rss_mb": peak_rss_mb(), "children_peak_rss_mb": children_peak_rss_mb(),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "at": time.time()}


def record(usage: dict[str, Any]) -> None:
    """Append the task's usage to ``$HUB_TASK_METRICS`` when set (one line, one write: whole lines
    from concurrent tasks)."""
    path = os.environ.get(METRICS_ENV)
    if not path:
        return
    line = (json.dumps(usage, ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
