"""A task for tests/ops/test_rq_queue.py: each run appends one line (its number, the worker's pid and the
wall-clock time it ran) to a file, with O_APPEND, so that every execution in any process is counted. RQ's
worker runs each job in a child process of its own (the "work horse"): the worker is the job's parent."""

from __future__ import annotations

import os
import time

from django_tasks import task


@task()
def probe_task(path: str, number: int, pause: float = 0.02) -> int:
    time.sleep(pause)  # long enough for both workers to be busy at once
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{number} {os.getppid()} {time.time():.3f}\n".encode())
    finally:
        os.close(fd)
    return number
