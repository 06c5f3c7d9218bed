"""Starting the training script in other processes (lesson 07): how many, with which configuration, and
showing its progress bars while it runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import torch

ACCELERATE_CONFIGS = Path("configs") / "accelerate"
CPU_DEMO_PROCESSES = 2
# Two CPU training processes of configs/train/smoke_test.yaml next to lesson 07's kernel held about 3 GB of
# anonymous memory together (make course, helpers.memory.process_memory); below this limit lesson 07 runs one process.
CPU_DEMO_MIN_MEMORY = 4_000_000_000


def memory_limit_bytes() -> int | None:
    """The memory this process may use: the smaller of the machine's RAM and its container's limit (cgroup v2
    ``memory.max`` or v1 ``memory.limit_in_bytes``; Binder's is ~2 GB). None where neither can be read."""
    limits = []
    with contextlib.suppress(ValueError, OSError, AttributeError):
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    for cgroup_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            value = Path(cgroup_file).read_text().strip()
            if value != "max":
                limits.append(int(value))  # cgroup v1 writes a huge number for "no limit": min() ignores it
    return min(limits) if limits else None


def room_for_two_cpu_processes() -> bool:
    """Whether two CPU training processes fit next to a lesson's kernel: a memory limit of at least
    :data:`CPU_DEMO_MIN_MEMORY`, or none that can be read. Not on Binder (~2 GB). Lesson 07."""
    limit = memory_limit_bytes()
    return limit is None or limit >= CPU_DEMO_MIN_MEMORY


def training_processes() -> int:
    """How many training processes ``accelerate launch`` should start on this machine.

    One per CUDA GPU: the script trains process *k* on ``cuda:k``, so a second process on a one-GPU
    machine (a Colab T4) would ask for a ``cuda:1`` that does not exist. Without CUDA, two CPU
    processes that average their gradients over gloo, to show data parallelism on a laptop, or one
    where memory is too small for two (Binder). Lesson 07.
    """
    if torch.cuda.is_available():
        return max(torch.cuda.device_count(), 1)
    return CPU_DEMO_PROCESSES if room_for_two_cpu_processes() else 1


def accelerate_config_file(processes: int | None = None) -> str:
    """The launch configuration for ``processes`` (default :func:`training_processes`), relative to the repo.

    ``single_gpu.yaml`` for one process on one GPU; ``ddp.yaml`` for several, GPUs or CPU processes over gloo.
    """
    processes = training_processes() if processes is None else processes
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    name = "single_gpu.yaml" if processes == 1 and torch.cuda.is_available() else "ddp.yaml"
    return (ACCELERATE_CONFIGS / name).as_posix()


PROGRESS_BAR = re.compile(r"\d+%\|.*\|\s*(\d+)/(\d+)")


def run_showing_progress(command: list[str], *, cwd: str | Path | None = None, env: dict[str, str] | None = None,
                         stream=None) -> subprocess.CompletedProcess:
    """Run ``command`` to the end and return all its output; meanwhile show its progress bars as they move.

    A script's tqdm bars (the Trainer's, on stderr) are redrawn on ``stream`` (default ``sys.stdout``, as
    :func:`progress_bar`: in Jupyter, one line that updates, stored as text); everything else it prints stays in
    the returned ``stdout``/``stderr`` for the caller to pick from. Lesson 07's launch of the training
    script, which would otherwise sit silent for a minute.
    """
    import codecs
    import threading

    stream = sys.stdout if stream is None else stream
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout: list[bytes] = []
    reader = threading.Thread(target=lambda: stdout.append(process.stdout.read()), daemon=True)
    reader.start()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    stderr, pending, shown = [], "", None

    def show(segment: str) -> None:
        nonlocal shown
        bar = PROGRESS_BAR.search(segment)
        if bar is None:
            return
        position = (int(bar[1]), int(bar[2]))
        if shown is not None and (position[1] != shown[1] or position[0] < shown[0]):
            stream.write("\n")  # a new bar: keep the finished one on its own line
        stream.write("\r" + segment.strip())
        stream.flush()
        shown = position

    while chunk := process.stderr.read1(4096):
        text = decoder.decode(chunk)
        stderr.append(text)
        *segments, pending = re.split(r"[\r\n]", pending + text)
        for segment in segments:
            show(segment)
    show(pending)
    process.wait()
    reader.join()
    if shown is not None:
        stream.write("\n")
        stream.flush()
    output = stdout[0].decode("utf-8", errors="replace") if stdout else ""
    return subprocess.CompletedProcess(command, process.returncode, output, "".join(stderr))
