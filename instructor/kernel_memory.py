"""How much memory a lesson really holds: the anonymous memory of its kernel and every process it starts.

A kernel's resident set (``VmHWM``) also counts the pages of files it maps, such as the model's weights
file; under a container's memory limit (Binder's ~2 GB) the system can drop those clean pages and read
them again, but it cannot drop anonymous memory (tensors, optimizer states, Python objects). So the
number that decides whether a lesson survives in 2 GB is the peak of the *anonymous* memory summed over
the kernel and its child processes (lesson 07 launches two training processes). Linux only: elsewhere
every reading is None.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path


def status_bytes(pid: int, field: str) -> int | None:
    """A memory field of ``/proc/<pid>/status`` (``RssAnon``, ``VmHWM`` ...) in bytes; None if it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # no /proc (macOS, Windows) or the process has gone
        return None
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


def anonymous_bytes(pid: int) -> int | None:
    """Process ``pid``'s anonymous resident memory now (``RssAnon``); None if it cannot be read."""
    return status_bytes(pid, "RssAnon")


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants alive now (read from ``/proc/<pid>/task/*/children``)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                queue.extend(int(child) for child in children.read_text().split())
            except OSError:
                continue
    return found


def tree_anonymous_bytes(pid: int) -> int | None:
    """Anonymous memory summed over ``pid`` and its descendants; None if ``pid`` itself cannot be read."""
    readings = [anonymous_bytes(p) for p in process_tree(pid)]
    if not readings or readings[0] is None:
        return None
    return sum(r for r in readings if r is not None)


class TreeMemorySampler:
    """Samples a process tree's anonymous memory every ``interval`` seconds in a background thread,
    keeping the overall peak and the peak while each marked step (a notebook cell) ran."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval = pid, interval
        self.peak: int | None = None
        self.peak_by_step: dict[int, int] = {}
        self._step = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        now = tree_anonymous_bytes(self.pid)
        if now is None:
            return
        self.peak = max(self.peak or 0, now)
        self.peak_by_step[self._step] = max(self.peak_by_step.get(self._step, 0), now)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def mark(self, step: int) -> None:
        """Samples from now on belong to ``step``."""
        self._sample()
        self._step = step

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()
