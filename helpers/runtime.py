"""Where are we running, and which precision fits that hardware?

One place decides the device, whether we are in Google Colab, the compute dtype for 4-bit
layers and the matching precision flags for ``SFTConfig``. Introduced in lesson 00.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import torch

REPORTED_PACKAGES = ("torch", "transformers", "peft", "trl", "bitsandbytes", "datasets", "accelerate")


QUICK_ENV = "COURSE_QUICK"


def quick_mode() -> bool:
    """True when ``COURSE_QUICK=1``: the test suite's short run of a lesson (fewer steps, fewer messages scored).

    ``make test`` sets it so every cell runs in minutes; ``make course`` leaves it unset and records the
    full run. A lesson prints which mode it is in, and claims that need the full run are checked only there.
    """
    return os.environ.get(QUICK_ENV, "") == "1"


def pick_device() -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def in_colab() -> bool:
    """True inside a Google Colab runtime (the google.colab module or Colab's env variable)."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def has_native_bf16(device: torch.device) -> bool:
    """True only for GPUs that compute bfloat16 in hardware (Ampere and newer, not a T4)."""
    if device.type != "cuda":
        return False
    return torch.cuda.is_bf16_supported(including_emulation=False)


def pick_compute_dtype(device: torch.device) -> torch.dtype:
    """Dtype that 4-bit layers de-quantize to for their matmuls.

    bf16 on GPUs with native bf16, fp16 on older GPUs such as Colab's T4, fp32 on CPU/MPS
    (bf16 on CPU made a QLoRA step ~8x slower on the course machine). Lesson 01.
    """
    if device.type == "cuda":
        return torch.bfloat16 if has_native_bf16(device) else torch.float16
    return torch.float32


def explain_compute_dtype(device: torch.device) -> str:
    """One sentence saying which compute dtype was chosen for ``device`` and why."""
    dtype = pick_compute_dtype(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        if dtype == torch.bfloat16:
            return f"{name} computes bfloat16 natively, so 4-bit layers compute in bfloat16."
        return (
            f"{name} has no native bfloat16 (e.g. a T4), so 4-bit layers compute in float16 "
            "and training uses fp16 mixed precision."
        )
    return (
        f"On {device.type.upper()} there is no fast half precision for training, so 4-bit layers "
        "compute in float32 (bf16 compute was ~8x slower on a CPU)."
    )


def sft_precision_flags(device: torch.device) -> dict[str, bool]:
    """``bf16``/``fp16`` keyword arguments for ``SFTConfig`` that match :func:`pick_compute_dtype`.

    SFTConfig turns bf16 on by default, so both flags are always set explicitly. Lesson 04.
    """
    dtype = pick_compute_dtype(device)
    return {"bf16": dtype == torch.bfloat16, "fp16": dtype == torch.float16}


def cpu_model() -> str:
    """The processor's model name (``model name`` in ``/proc/cpuinfo`` on Linux), else what Python knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def describe_machine(device: torch.device | None = None) -> str:
    """The machine in a few words, the same wherever it is recorded (timings, benchmarks, lesson 00).

    ``cuda (NVIDIA H200)`` on a GPU; ``cpu (Intel(R) Xeon(R) Processor, 2 cores, x86_64)`` otherwise.
    """
    device = device or pick_device()
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"{device.type} ({cpu_model()}, {os.cpu_count()} cores, {platform.machine()})"


def package_versions(names: tuple[str, ...] = REPORTED_PACKAGES) -> dict[str, str]:
    """Installed version of each package, or ``"not installed"``."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def environment_report(model_key: str | None = None) -> str:
    """A short, friendly multi-line report: Python, library versions, device, dtype, model.

    ``model_key`` is the course model in use (see ``helpers.models.resolve_model``). Lesson 00.
    """
    device = pick_device()
    lines = [f"Python        {platform.python_version()} ({'Colab' if in_colab() else 'local'})"]
    lines += [f"{name:<13} {version}" for name, version in package_versions().items()]
    lines.append(f"device        {describe_machine(device)}, {torch.get_num_threads()} threads")
    lines.append(f"compute dtype {str(pick_compute_dtype(device)).removeprefix('torch.')}")
    lines.append(f"SFT precision {sft_precision_flags(device)}")
    if model_key is not None:
        lines.append(f"course model  {model_key}")
    return "\n".join(lines)


def quiet_library_output() -> None:
    """Hide library chatter that tells a learner nothing; keep training progress and real warnings.

    Info logs and load bars of transformers, dataset ``map`` bars, the bitsandbytes notice about an
    optional CPU kernel package, and two known deprecation messages raised inside transformers/torch
    are silenced. Called explicitly at the top of each lesson, never on import.

    The Trainer's progress bars stay on. ``TrainingArguments`` (and so ``SFTConfig``) defaults
    ``disable_tqdm`` to "the ``transformers.training_args`` logger is quieter than WARNING"; with the
    whole library at ERROR that is true, and the Trainer then swaps its bar (in Jupyter, a progress bar
    with a table of losses, stored as HTML) for ``PrinterCallback``, which prints every log as a dict.
    So that one logger stays at WARNING: its own warnings are real ones, and the bars come back for
    ``trainer.train()`` and ``trainer.evaluate()``. An explicit ``disable_tqdm=`` still wins.
    """
    import logging
    import warnings

    import datasets
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.get_logger("transformers.training_args").setLevel(logging.WARNING)
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*'pin_memory' argument is set as true.*", category=UserWarning)


def progress_bar(iterable=None, **kwargs):
    """A text progress bar (``tqdm``) on stdout, for the helpers' long loops (generation, measurements).

    It redraws in place in Jupyter, Colab and a terminal, and a saved notebook keeps its last frame as
    plain text that GitHub shows. (``tqdm.auto`` would draw a widget in Jupyter, stored as a reference to
    widget state plus the text of its *first* frame, ``0%|``.) Takes tqdm's arguments. Lesson 04.
    """
    from tqdm.std import tqdm

    kwargs.setdefault("file", sys.stdout)
    return tqdm(iterable, **kwargs)


# --- launching the training script (lesson 07) -----------------------------------------------------------------

ACCELERATE_CONFIGS = Path("configs") / "accelerate"
CPU_DEMO_PROCESSES = 2
# Two CPU training processes of configs/train/smoke_test.yaml next to lesson 07's kernel held about 3 GB of
# anonymous memory together (make course, instructor.kernel_memory); below this limit lesson 07 runs one process.
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
