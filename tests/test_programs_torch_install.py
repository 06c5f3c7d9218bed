"""Which PyTorch build `make` installs (programs/torch_install.py) and the Python check before it."""

import re
import subprocess
import sys

import pytest

from helpers.paths import REPO_ROOT
from programs import check_python, torch_install

CPU = ["--extra-index-url", torch_install.CPU_INDEX]


def makefile_torch_spec() -> str:
    return re.search(r"^TORCH_SPEC \?= (\S+)", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE).group(1)


@pytest.fixture
def index_online(monkeypatch):
    monkeypatch.setattr(torch_install, "cpu_index_reachable", lambda: True)


def test_linux_without_nvidia_gpu_gets_the_cpu_build(index_online):
    assert torch_install.torch_pip_args("torch==2.13.0", system="Linux", nvidia_gpu=False) == ["torch==2.13.0", *CPU]


def test_an_unreachable_cpu_index_is_left_out_and_said(monkeypatch):
    """Offline from download.pytorch.org (no address, no proxy), pip would retry it five times for every package."""
    monkeypatch.setattr(torch_install.socket, "getaddrinfo", lambda *a: (_ for _ in ()).throw(OSError("no name")))
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert not torch_install.cpu_index_reachable()
    args = torch_install.torch_pip_args("torch==2.13.0", system="Linux", nvidia_gpu=False)
    assert args == ["torch==2.13.0"]
    assert "cannot be reached" in torch_install.describe(args, system="Linux", nvidia_gpu=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")  # the proxy looks the name up
    assert torch_install.torch_pip_args("torch==2.13.0", system="Linux", nvidia_gpu=False) == ["torch==2.13.0", *CPU]


def test_linux_with_nvidia_gpu_and_macos_get_the_default_build():
    assert torch_install.torch_pip_args("torch==2.13.0", system="Linux", nvidia_gpu=True) == ["torch==2.13.0"]
    assert torch_install.torch_pip_args("torch==2.13.0", system="Darwin", nvidia_gpu=False) == ["torch==2.13.0"]


@pytest.mark.parametrize("spec", ["torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128",
                                  "torch==2.13.0+cu128", "torch==2.12.0 -i https://example.org/simple"])
def test_a_spec_that_names_its_build_is_used_as_given(spec):
    assert torch_install.torch_pip_args(spec, system="Linux", nvidia_gpu=False) == spec.split()


def test_another_version_still_gets_the_cpu_build_on_a_cpu_laptop(index_online):
    assert torch_install.torch_pip_args("torch==2.12.0", system="Linux", nvidia_gpu=False) == ["torch==2.12.0", *CPU]


def test_gpu_detection_follows_nvidia_smi_or_the_driver(monkeypatch, index_online):
    monkeypatch.setattr(torch_install.os.path, "exists", lambda path: False)
    monkeypatch.setattr(torch_install.shutil, "which", lambda name: None)
    assert not torch_install.has_nvidia_gpu()
    assert torch_install.torch_pip_args("torch==2.13.0", system="Linux")[-2:] == CPU
    monkeypatch.setattr(torch_install.shutil, "which", {"nvidia-smi": "/usr/bin/nvidia-smi"}.get)
    assert torch_install.has_nvidia_gpu()
    assert torch_install.torch_pip_args("torch==2.13.0", system="Linux") == ["torch==2.13.0"]
    monkeypatch.setattr(torch_install.shutil, "which", lambda name: None)
    monkeypatch.setattr(torch_install.os.path, "exists", lambda path: path == "/proc/driver/nvidia/version")
    assert torch_install.has_nvidia_gpu()


def test_platform_is_read_when_not_given(monkeypatch, index_online):
    monkeypatch.setattr(torch_install.platform, "system", lambda: "Darwin")
    assert torch_install.torch_pip_args("torch==2.13.0", nvidia_gpu=False) == ["torch==2.13.0"]
    monkeypatch.setattr(torch_install.platform, "system", lambda: "Linux")
    assert torch_install.torch_pip_args("torch==2.13.0", nvidia_gpu=False)[-2:] == CPU


def test_empty_spec_is_refused():
    with pytest.raises(ValueError, match="torch=="):
        torch_install.torch_pip_args("  ")


def test_command_line_prints_pip_arguments_and_says_which_build():
    """As the Makefile runs it: a plain script with the standard library, arguments on stdout."""
    result = subprocess.run([sys.executable, "-I", str(REPO_ROOT / "programs" / "torch_install.py"),
                             makefile_torch_spec()], capture_output=True, text=True, check=True)
    args = result.stdout.split()
    assert args[0] == makefile_torch_spec()
    assert args == torch_install.torch_pip_args(makefile_torch_spec())
    assert "PyTorch" in result.stderr


def test_environment_yml_documents_the_cpu_index():
    assert torch_install.CPU_INDEX in (REPO_ROOT / "environment.yml").read_text()
    assert torch_install.CPU_INDEX in (REPO_ROOT / "binder" / "requirements.txt").read_text()


def test_python_check_accepts_311_and_newer():
    assert check_python.python_problem((3, 11, 0)) is None
    assert check_python.python_problem((3, 13, 2)) is None


@pytest.mark.parametrize("version", [(3, 10, 12), (3, 9, 0), (2, 7, 18)])
def test_python_check_refuses_older_with_the_ways_out(version):
    problem = check_python.python_problem(version, executable="/usr/bin/python3")
    found = ".".join(map(str, version))
    assert f"Python {found} found (/usr/bin/python3)" in problem
    assert "PYTHON=python3.11" in problem and "environment.yml" in problem


def test_python_check_names_a_missing_venv_module():
    problem = check_python.python_problem((3, 11, 4), executable="/usr/bin/python3.11", has_venv=False)
    assert "python3.11-venv" in problem


def test_python_check_script_runs_silently_here():
    result = subprocess.run([sys.executable, "-I", str(REPO_ROOT / "programs" / "check_python.py")],
                            capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_python_check_is_plain_enough_for_an_old_python_to_run():
    """It must parse on the Pythons it refuses, or the learner sees a SyntaxError instead of the message."""
    import ast

    ast.parse((REPO_ROOT / "programs" / "check_python.py").read_text(), feature_version=(3, 7))
