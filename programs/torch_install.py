"""Which PyTorch build ``make`` installs: the pip arguments for this machine.

    python programs/torch_install.py torch==2.13.0
    # Linux without an NVIDIA GPU:  torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu

``pip install torch`` on Linux fetches the CUDA build: a large wheel plus several GB of NVIDIA libraries that
a laptop without an NVIDIA GPU never uses. So on Linux without an NVIDIA driver the CPU-only build comes
from PyTorch's CPU wheel index; with a GPU (or on macOS, where there is one build) the default stays. The
index is *extra*, so PyPI and any pip configuration still serve everything else; for the same version,
pip prefers the CPU index's ``+cpu`` build. A spec that already says where or which build to get (a pip
option such as ``--index-url ...``, or a local version such as ``torch==2.13.0+cu128``) is used as given:
``make lab TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"``. Standard library
only: the Makefile runs it before anything else is installed.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
DEFAULT_SPEC = "torch==2.13.0"


def has_nvidia_gpu() -> bool:
    """True when an NVIDIA driver is installed: ``nvidia-smi`` on the PATH or the driver's ``/proc`` entry."""
    return shutil.which("nvidia-smi") is not None or os.path.exists("/proc/driver/nvidia/version")


def torch_pip_args(spec: str = DEFAULT_SPEC, *, system: str | None = None, nvidia_gpu: bool | None = None) -> list[str]:
    """``pip install`` arguments for ``spec``: the CPU-only build on Linux without an NVIDIA GPU, else as given."""
    words = spec.split()
    if not words:
        raise ValueError("empty torch spec; give one such as torch==2.13.0")
    chooses_build = any(word.startswith("-") or "+" in word for word in words)
    system = platform.system() if system is None else system
    if chooses_build or system != "Linux":
        return words
    if nvidia_gpu is None:
        nvidia_gpu = has_nvidia_gpu()
    return words if nvidia_gpu else [*words, "--extra-index-url", CPU_INDEX]


def describe(args: list[str]) -> str:
    """One line saying which build the arguments install."""
    if CPU_INDEX in args:
        return "Linux without an NVIDIA GPU: installing PyTorch's CPU-only build"
    return "installing PyTorch's default build for this machine"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = torch_pip_args(" ".join(argv) or DEFAULT_SPEC)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(describe(args), file=sys.stderr)
    print(" ".join(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
