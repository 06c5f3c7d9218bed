"""Measure what things cost: parameters, bytes in memory, bytes on disk.

Counting parameters of a 4-bit model needs care: bitsandbytes packs two 4-bit values into one
uint8, so ``numel()`` of a ``Params4bit`` is half the logical count. Predicting what *training* will
need is :mod:`helpers.budget`'s job (the course's one memory estimator). Lessons 01, 02, 04 and 05.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
from pathlib import Path
from typing import Any

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
