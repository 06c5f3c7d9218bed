import shutil
import sys

import nbformat
import pytest

from helpers import colab

FORK = "a-learner/peft-course-fork"


@pytest.fixture
def notebook_copies(tmp_path):
    """The real lessons, copied to a temp folder (synced with the configured repo, like the committed ones)."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for path in colab.lesson_notebooks():
        shutil.copy(path, folder / path.name)
    return folder


def first_and_install_sources(path):
    notebook = nbformat.read(path, as_version=4)
    install = next(c for c in notebook.cells if c.cell_type == "code" and "git clone" in c.source)
    return notebook.cells[0].source, install.source


def test_every_notebook_points_at_the_configured_repo():
    assert colab.lesson_notebooks(), "no lesson notebooks found"
    mismatches = colab.find_mismatches()
    assert mismatches == [], "run `make colab-links` (python -m helpers.colab sync):\n" + "\n".join(mismatches)


def test_configured_repo_is_read_from_pyproject(tmp_path):
    assert colab.configured_repo() == "sticky-notes-course/peft-course"
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n\n[tool.course]\ngithub_repo = "owner/name"\n\n[tool.ruff]\n')
    assert colab.configured_repo(pyproject) == "owner/name"
    assert colab.set_configured_repo(FORK, pyproject)
    assert colab.configured_repo(pyproject) == FORK
    assert not colab.set_configured_repo(FORK, pyproject)
    assert pyproject.read_text().endswith("\n\n[tool.ruff]\n")


def test_missing_configuration_says_what_to_add(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n')
    with pytest.raises(ValueError, match=r"\[tool.course\]"):
        colab.configured_repo(pyproject)
    with pytest.raises(ValueError, match="github_repo"):
        colab.set_configured_repo(FORK, pyproject)


def test_sync_rewrites_badge_and_clone_url_once(notebook_copies):
    changed = colab.sync_all(FORK, notebook_copies)
    assert [p.name for p in changed] == [p.name for p in colab.lesson_notebooks()]
    for path in colab.lesson_notebooks(notebook_copies):
        first, install = first_and_install_sources(path)
        lines = first.splitlines()
        assert lines[0] == colab.badge_line(FORK, path.name)
        assert lines[1] == "" and lines[2].startswith(f"# {path.name[:2]} · ")
        assert first.count("Open In Colab") == 1
        assert f"https://github.com/{FORK} /content/course" in install
        assert "sticky-notes-course" not in first + install
    assert colab.sync_all(FORK, notebook_copies) == []
    assert colab.find_mismatches(FORK, notebook_copies) == []
    assert len(colab.find_mismatches("sticky-notes-course/peft-course", notebook_copies)) == 2 * len(changed)


def test_sync_keeps_outputs_metadata_and_ids(notebook_copies):
    path = colab.lesson_notebooks(notebook_copies)[0]
    before = nbformat.read(path, as_version=4)
    assert colab.sync_notebook(path, FORK)
    after = nbformat.read(path, as_version=4)
    assert after.metadata == before.metadata
    assert [c.id for c in after.cells] == [c.id for c in before.cells]
    assert [c.get("outputs") for c in after.cells] == [c.get("outputs") for c in before.cells]
    assert [c.metadata for c in after.cells] == [c.metadata for c in before.cells]


def test_unchanged_notebook_is_not_rewritten(notebook_copies):
    path = colab.lesson_notebooks(notebook_copies)[0]
    colab.sync_notebook(path, FORK)
    mtime = path.stat().st_mtime_ns
    assert not colab.sync_notebook(path, FORK)
    assert path.stat().st_mtime_ns == mtime


def test_duplicate_badges_collapse_to_one(notebook_copies):
    path = colab.lesson_notebooks(notebook_copies)[0]
    notebook = nbformat.read(path, as_version=4)
    old = colab.badge_line("old/one", path.name)
    notebook.cells[0].source = f"{old}\n{old}\n\n\n{notebook.cells[0].source}"
    nbformat.write(notebook, path)
    assert colab.find_mismatches(FORK, notebook_copies)
    assert colab.sync_notebook(path, FORK)
    first, _ = first_and_install_sources(path)
    assert first.count("Open In Colab") == 1 and "old/one" not in first


def test_mismatch_is_reported_for_a_missing_install_cell(notebook_copies):
    path = colab.lesson_notebooks(notebook_copies)[0]
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [c for c in notebook.cells if "git clone" not in c.source]
    nbformat.write(notebook, path)
    problems = colab.find_mismatches(folder=notebook_copies)
    assert problems and problems[0].startswith(f"{path.name}: no Colab install cell")
    with pytest.raises(ValueError, match="install cell"):
        colab.sync_notebook(path, FORK)


def test_cli_sync_with_repo_updates_pyproject_and_notebooks(notebook_copies, tmp_path, monkeypatch, capsys):
    pyproject = tmp_path / "pyproject.toml"
    shutil.copy(colab.PYPROJECT, pyproject)
    monkeypatch.setattr(colab, "PYPROJECT", pyproject)
    monkeypatch.setattr(colab, "NOTEBOOK_DIR", notebook_copies)
    readme = tmp_path / "README.md"
    shutil.copy(colab.README, readme)
    monkeypatch.setattr(colab, "README", readme)
    assert colab.main(["sync", "--repo", FORK]) == 0
    assert f"mybinder.org/v2/gh/{FORK}/main" in readme.read_text()
    assert f"colab.research.google.com/github/{FORK}/blob/main/notebooks/" in readme.read_text()
    assert colab.configured_repo(pyproject) == FORK
    assert colab.main(["check"]) == 0
    colab.set_configured_repo("sticky-notes-course/peft-course", pyproject)
    capsys.readouterr()
    assert colab.main(["check"]) == 1
    assert "00_environment.ipynb" in capsys.readouterr().out


def test_cli_without_arguments_is_the_colab_set_up(monkeypatch):
    calls = []
    monkeypatch.setattr(colab, "set_up_colab", lambda: calls.append("set up"))
    assert colab.main([]) == 0
    assert calls == ["set up"]


def test_colab_set_up_outside_colab_explains(tmp_path):
    with pytest.raises(FileNotFoundError, match="only in Colab"):
        colab.set_up_colab(tmp_path)


@pytest.mark.parametrize(
    "repo",
    [
        "", "peft-course", "https://github.com/owner/name", "owner/name.git", "owner/name/", "owner/name/extra",
        "-owner/name", "owner/", "/name", "own er/name", "owner/..", "owner/na;me",
    ],
)
def test_bad_repo_strings_are_refused(repo, notebook_copies):
    with pytest.raises(ValueError, match="owner/name"):
        colab.check_repo(repo)
    with pytest.raises(ValueError, match="owner/name"):
        colab.sync_all(repo, notebook_copies)


def test_cli_refuses_a_bad_repo(capsys):
    with pytest.raises(SystemExit) as exit_info:
        colab.main(["sync", "--repo", "https://github.com/owner/name"])
    assert exit_info.value.code == 2
    assert "owner/name" in capsys.readouterr().err


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
    pins = colab.pinned_requirements(colab.REPO_ROOT / "constraints.txt")
    assert len(pins) == len(colab.COLAB_PACKAGES)


def test_configured_repo_without_tomllib(tmp_path, monkeypatch):
    """Python 3.10 has no tomllib: the one value is read directly."""
    monkeypatch.setitem(sys.modules, "tomllib", None)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.other]\ngithub_repo = "not/this"\n[tool.course]\n# note\ngithub_repo = "owner/name"\n')
    assert colab.configured_repo(pyproject) == "owner/name"
    assert colab.configured_repo() == "sticky-notes-course/peft-course"
    pyproject.write_text('[tool.other]\ngithub_repo = "not/this"\n')
    with pytest.raises(ValueError, match=r"\[tool.course\]"):
        colab.configured_repo(pyproject)


def test_readme_binder_link_uses_the_configured_repo():
    readme = (colab.REPO_ROOT / "README.md").read_text()
    links = colab.BINDER_URL.findall(readme)
    assert links, "the README should carry a Binder badge"
    assert all(link == f"https://mybinder.org/v2/gh/{colab.configured_repo()}/main" for link in links)
