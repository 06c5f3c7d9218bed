"""Measure what things cost: parameters, bytes in memory, bytes on disk, and what a process holds.

Counting parameters of a 4-bit model needs care: bitsandbytes packs two 4-bit values into one
uint8, so ``numel()`` of a ``Params4bit`` is half the logical count. Predicting what *training* will
need is :mod:`helpers.budget`'s job (the course's one memory estimator). Lessons 01, 02, 04 and 05.

:func:`process_memory` is the course's one process-memory meter (psutil; on GPUs ``torch.cuda``'s own
counters): ``make course`` samples a lesson's kernel with :class:`PeakSampler`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import threading
from pathlib import Path
from typing import Any, NamedTuple

import torch

MB = 1_000_000


def release_memory() -> None:
    """Give the memory of deleted objects (a model you ``del``-ed) back to the operating system.

    ``gc.collect()`` frees objects caught in reference cycles; on Linux, glibc's ``malloc_trim`` then
    returns freed heap pages, which the allocator otherwise keeps for later (the process would go on
    holding a deleted model's memory, and under a 2 GB limit such as Binder's that can end a lesson).
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def logical_numel(parameter: torch.Tensor) -> int:
    """Number of weights a parameter represents (4-bit packed tensors count their original shape)."""
    quant_state = getattr(parameter, "quant_state", None)
    if quant_state is not None:
        return int(torch.Size(quant_state.shape).numel())
    return parameter.numel()


def count_parameters(model: torch.nn.Module, *, logical: bool = True) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts; ``logical=False`` gives raw ``numel()`` sums."""
    trainable = total = 0
    for parameter in model.parameters():
        n = logical_numel(parameter) if logical else parameter.numel()
        total += n
        if parameter.requires_grad:
            trainable += n
    return trainable, total


def bytes_by_dtype(model: torch.nn.Module) -> dict[str, int]:
    """Bytes held by parameters and buffers, grouped by storage dtype (uint8 = packed 4-bit)."""
    sizes: dict[str, int] = {}
    for tensor in [*model.parameters(), *model.buffers()]:
        key = str(tensor.dtype).removeprefix("torch.")
        sizes[key] = sizes.get(key, 0) + tensor.numel() * tensor.element_size()
    return dict(sorted(sizes.items()))


def quant_state_bytes(model: torch.nn.Module) -> dict[str, int]:
    """Bytes of the 4-bit layers' quantization constants: ``scales`` and ``code_books``.

    ``scales`` are the per-block absmax values (with double quantization: 8-bit values plus their
    own fp32 scales and offset); ``code_books`` the 16 NF4 levels (and the 256-entry 8-bit code
    book for the nested scales) that every layer keeps. ``get_memory_footprint()`` counts neither:
    they live in each weight's ``quant_state``, not in parameters or buffers.
    """

    def nbytes(t: Any) -> int:
        return t.numel() * t.element_size() if isinstance(t, torch.Tensor) else 0

    totals = {"scales": 0, "code_books": 0}
    for parameter in model.parameters():
        state = getattr(parameter, "quant_state", None)
        if state is None:
            continue
        totals["scales"] += nbytes(state.absmax) + nbytes(state.offset)
        totals["code_books"] += nbytes(state.code)
        if state.state2 is not None:
            totals["scales"] += nbytes(state.state2.absmax)
            totals["code_books"] += nbytes(state.state2.code)
    return totals


def file_sizes(folder: Path | str) -> dict[str, int]:
    """Size in bytes of every file directly inside ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}


def folder_size(folder: Path | str) -> int:
    """Total bytes of all files below ``folder`` (recursively)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def human_bytes(n: float) -> str:
    """``1234567`` -> ``'1.2 MB'`` (decimal units, like file browsers)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


class ProcessMemory(NamedTuple):
    """Bytes a process (and, when asked, its descendants) holds now.

    ``resident`` is the resident set; ``anonymous`` is the part that is no file's page (tensors, optimizer
    states, Python objects): on Linux resident minus file-backed and shared pages (``RssAnon``), elsewhere the
    resident set. Under a container's memory limit (Binder's ~2 GB) the system can drop a mapped weights file's
    clean pages and read them again, never anonymous memory: that is the number that decides whether a lesson
    survives.
    """

    resident: int
    anonymous: int


def process_memory(pid: int | None = None, *, children: bool = False) -> ProcessMemory | None:
    """What process ``pid`` (this one by default) holds now, with its descendants if ``children``; None if gone."""
    import psutil

    try:
        process = psutil.Process(pid)
        processes = [process, *process.children(recursive=True)] if children else [process]
        first = process.memory_info()
    except psutil.Error:
        return None
    resident = anonymous = 0
    for index, each in enumerate(processes):
        try:
            info = first if index == 0 else each.memory_info()
        except psutil.Error:  # a child that ended meanwhile
            continue
        resident += info.rss
        anonymous += info.rss - getattr(info, "shared", 0)
    return ProcessMemory(resident, anonymous)


class PeakSampler:
    """Samples a process tree's memory every ``interval`` seconds in a background thread: the peak resident
    memory of the process itself, the peak anonymous memory of the tree, and that peak while each marked step
    (a notebook cell) ran. A peak that lasts less than ``interval`` can be missed."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval = pid, interval
        self.peak: int | None = None
        self.peak_resident: int | None = None
        self.peak_by_step: dict[int, int] = {}
        self._step = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        own, tree = process_memory(self.pid), process_memory(self.pid, children=True)
        if own is None or tree is None:
            return
        self.peak_resident = max(self.peak_resident or 0, own.resident)
        self.peak = max(self.peak or 0, tree.anonymous)
        self.peak_by_step[self._step] = max(self.peak_by_step.get(self._step, 0), tree.anonymous)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def mark(self, step: int) -> None:
        """Samples from now on belong to ``step``."""
        self._sample()
        self._step = step

    def __enter__(self) -> PeakSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
