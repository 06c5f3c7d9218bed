"""Which PyTorch build ``make`` installs: the pip arguments for this machine.

    python programs/torch_install.py torch==2.13.0
    # Linux without an NVIDIA GPU:  torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu

``pip install torch`` on Linux fetches the CUDA build: a large wheel plus several GB of NVIDIA libraries that
a laptop without an NVIDIA GPU never uses. So on Linux without an NVIDIA driver the CPU-only build comes
from PyTorch's CPU wheel index; with a GPU (or on macOS, where there is one build) the default stays. The
index is *extra*, so PyPI and any pip configuration still serve everything else; for the same version,
pip prefers the CPU index's ``+cpu`` build. Where that index's host has no address (a machine offline from it,
such as the course's CI, which has its own CPU wheel) and no proxy is set, pip is not sent there: it would retry
each package five times before giving up. A spec that already says where or which build to get (a pip
option such as ``--index-url ...``, or a local version such as ``torch==2.13.0+cu128``) is used as given:
``make lab TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"``. Standard library
only: the Makefile runs it before anything else is installed.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import sys
from urllib.parse import urlsplit

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
DEFAULT_SPEC = "torch==2.13.0"


def has_nvidia_gpu() -> bool:
    """True when an NVIDIA driver is installed: ``nvidia-smi`` on the PATH or the driver's ``/proc`` entry."""
    return shutil.which("nvidia-smi") is not None or os.path.exists("/proc/driver/nvidia/version")


def cpu_index_reachable() -> bool:
    """False when PyTorch's CPU index has no address from here and no proxy would look it up instead."""
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    try:
        socket.getaddrinfo(urlsplit(CPU_INDEX).hostname, 443)
    except OSError:
        return False
    return True


def torch_pip_args(spec: str = DEFAULT_SPEC, *, system: str | None = None, nvidia_gpu: bool | None = None,
                   index_reachable: bool | None = None) -> list[str]:
    """``pip install`` arguments for ``spec``: the CPU-only build on Linux without an NVIDIA GPU (from PyTorch's CPU
    index, when it can be reached), else as given."""
    words = spec.split()
    if not words:
        raise ValueError("empty torch spec; give one such as torch==2.13.0")
    chooses_build = any(word.startswith("-") or "+" in word for word in words)
    system = platform.system() if system is None else system
    if chooses_build or system != "Linux":
        return words
    if nvidia_gpu is None:
        nvidia_gpu = has_nvidia_gpu()
    if nvidia_gpu:
        return words
    if index_reachable is None:
        index_reachable = cpu_index_reachable()
    return [*words, "--extra-index-url", CPU_INDEX] if index_reachable else words


def describe(args: list[str], system: str | None = None, nvidia_gpu: bool | None = None) -> str:
    """One line saying which build the arguments install."""
    if CPU_INDEX in args:
        return "Linux without an NVIDIA GPU: installing PyTorch's CPU-only build"
    chooses_build = any(word.startswith("-") or "+" in word for word in args)
    system = platform.system() if system is None else system
    if not chooses_build and system == "Linux" and not (has_nvidia_gpu() if nvidia_gpu is None else nvidia_gpu):
        return (f"Linux without an NVIDIA GPU, but PyTorch's CPU index ({urlsplit(CPU_INDEX).hostname}) cannot be "
                "reached: torch comes from pip's own indexes (to choose the build: TORCH_SPEC with --index-url)")
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
