"""Where are we running, and which precision fits that hardware?

One place decides the device, whether we are in Google Colab, the compute dtype for 4-bit
layers and the matching precision flags for ``SFTConfig``. Introduced in lesson 00.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path

import torch

REPORTED_PACKAGES = ("torch", "transformers", "peft", "trl", "bitsandbytes", "datasets", "accelerate")


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


