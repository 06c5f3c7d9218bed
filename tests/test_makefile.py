"""The Makefile as a learner meets it: a too-old Python stops at once, and `make lab` serves the whole repo.

The targets run for real (not ``make -n``), in a copy of the files the install rule needs, with a fake
interpreter that reports another Python version and refuses to create a virtual environment.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers.paths import REPO_ROOT

MAKEFILE = REPO_ROOT / "Makefile"
SETUP_FILES = ("Makefile", "pyproject.toml", "constraints.txt", "programs/check_python.py",
               "programs/torch_install.py")
VENV_REFUSED = "FAKE PYTHON: asked to create a virtual environment"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def targets_that_install() -> list[str]:
    """Every Makefile target that depends on the install rule (lab, test, ...)."""
    return re.findall(r"^([A-Za-z][\w-]*):[^=\n]*\binstall\b", MAKEFILE.read_text(), re.MULTILINE)


def fake_python(folder: Path, version: tuple[int, int, int]) -> Path:
    """An executable that runs scripts with the real Python while reporting ``version``; ``-m venv`` fails."""
    script = folder / f"python{version[0]}.{version[1]}"
    patch = f"sys.version_info = {(*version, 'final', 0)!r}; sys.executable = {str(script)!r}"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-m" ]; then echo "{VENV_REFUSED}: $*" >&2; exit 97; fi\n'
        f'exec {sys.executable} -c "import runpy, sys; {patch}; sys.argv = sys.argv[1:]; '
        "runpy.run_path(sys.argv[0], run_name='__main__')\" \"$@\"\n"
    )
    script.chmod(0o755)
    return script


@pytest.fixture
def make_copy(tmp_path):
    """A folder holding only what the install rule reads, so nothing real is installed or touched."""
    folder = tmp_path / "course"
    for name in SETUP_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, folder / name)
    return folder


def run_make(folder: Path, target: str, python: Path) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("MAKE", "PYTHON"))}
    return subprocess.run(["make", "-C", str(folder), target, f"PYTHON={python}"], capture_output=True, text=True,
                          env=environment, timeout=60)


def test_the_targets_learners_run_all_install_first():
    assert {"lab", "test"} <= set(targets_that_install())


@pytest.mark.parametrize("target", targets_that_install())
def test_an_old_python_stops_make_at_once_and_says_what_to_do(make_copy, tmp_path, target):
    old = fake_python(tmp_path, (3, 10, 12))
    result = run_make(make_copy, target, old)
    assert result.returncode != 0
    message = result.stderr
    assert "Python 3.10.12 found" in message and str(old) in message, message
    assert "3.11 or newer" in message and "PYTHON=python3.11" in message
    assert "conda env create -f environment.yml" in message
    assert VENV_REFUSED not in message, "make went on to create the venv"
    assert not (make_copy / ".venv").exists()


def test_a_new_enough_python_gets_to_the_venv(make_copy, tmp_path):
    result = run_make(make_copy, "install", fake_python(tmp_path, (3, 11, 9)))
    assert "found" not in result.stderr
    assert f"{VENV_REFUSED}: -m venv .venv" in result.stderr, result.stderr


def test_an_old_existing_venv_is_named(make_copy, tmp_path):
    (make_copy / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(fake_python(tmp_path, (3, 10, 4)), make_copy / ".venv" / "bin" / "python")
    result = run_make(make_copy, "install", fake_python(tmp_path, (3, 12, 1)))
    assert result.returncode != 0
    assert "Python 3.10.4 found" in result.stderr and "Delete .venv" in result.stderr


def test_a_missing_python_is_named(make_copy, tmp_path):
    result = run_make(make_copy, "install", tmp_path / "no-such-python")
    assert result.returncode != 0
    assert "no-such-python" in result.stderr and "3.11" in result.stderr


def lab_command(folder: Path) -> list[str]:
    """The command `make lab` runs once the install is done (``make -n`` with a fresh install stamp)."""
    stamp = folder / ".venv" / ".course-installed"
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    result = subprocess.run(["make", "-n", "-C", str(folder), "lab"], capture_output=True, text=True, check=True)
    lines = [line for line in result.stdout.splitlines() if "jupyter" in line]
    assert len(lines) == 1, result.stdout
    return lines[0].split()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_make_lab_serves_the_repository_and_opens_the_lessons(make_copy, tmp_path):
    command = lab_command(make_copy)
    assert command[0] == ".venv/bin/jupyter" and command[1] == "lab"
    jupyter = Path(sys.executable).with_name("jupyter")
    if not jupyter.exists():
        pytest.skip("jupyter is not installed next to this Python")
    port, token = free_port(), "course-test"
    options = ["--no-browser", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        options.append("--allow-root")  # containers and CI often run as root; Jupyter refuses that otherwise
    server = subprocess.Popen(
        [str(jupyter), *command[1:], *options],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")},
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)

    def get(path: str):
        try:
            return opener.open(f"http://127.0.0.1:{port}{path}?token={token}", timeout=10)
        except urllib.error.HTTPError as response:
            return response

    try:
        for _ in range(120):
            assert server.poll() is None, "jupyter lab exited at start-up"
            try:
                landing = get("/")
                break
            except urllib.error.URLError:
                time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not start within a minute")
        assert landing.status in (301, 302) and landing.headers["Location"].startswith("/lab/tree/notebooks")
        for folder in ("notebooks", "data", "helpers", "configs"):
            assert get(f"/api/contents/{folder}").status == 200, f"{folder}/ is not reachable in JupyterLab"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_conda_route_opens_lab_the_same_way(make_copy):
    """environment.yml's steps end with the same JupyterLab command as `make lab`."""
    jupyter_args = " ".join(lab_command(make_copy)[1:])
    assert f"#   jupyter {jupyter_args}" in (REPO_ROOT / "environment.yml").read_text()
