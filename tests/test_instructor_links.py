"""The notebooks' Colab links follow the one configured repository."""

import shutil
import tomllib

import nbformat
import pytest

from instructor import links
from instructor.notebooks import lesson_notebooks

FORK = "a-learner/peft-course-fork"
OTHER = "another-owner/another-course"  # neither the configured repo nor FORK: the tests pass unchanged in a fork


@pytest.fixture
def notebook_copies(tmp_path):
    """The real lessons, copied to a temp folder (synced with the configured repo, like the committed ones)."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for path in lesson_notebooks():
        shutil.copy(path, folder / path.name)
    return folder


def first_and_install_sources(path):
    notebook = nbformat.read(path, as_version=4)
    install = next(c for c in notebook.cells if c.cell_type == "code" and "git clone" in c.source)
    return notebook.cells[0].source, install.source


def test_every_notebook_points_at_the_configured_repo():
    assert lesson_notebooks(), "no lesson notebooks found"
    mismatches = links.find_mismatches()
    assert mismatches == [], "run `make colab-links` (python -m instructor.links sync):\n" + "\n".join(mismatches)


def test_configured_repo_is_read_from_pyproject(tmp_path):
    assert links.configured_repo() == tomllib.loads(links.PYPROJECT.read_text())["tool"]["course"]["github_repo"]
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n\n[tool.course]\ngithub_repo = "owner/name"\n\n[tool.ruff]\n')
    assert links.configured_repo(pyproject) == "owner/name"
    assert links.set_configured_repo(FORK, pyproject)
    assert links.configured_repo(pyproject) == FORK
    assert not links.set_configured_repo(FORK, pyproject)
    assert pyproject.read_text().endswith("\n\n[tool.ruff]\n")


def test_missing_configuration_says_what_to_add(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n')
    with pytest.raises(ValueError, match=r"\[tool.course\]"):
        links.configured_repo(pyproject)
    with pytest.raises(ValueError, match="github_repo"):
        links.set_configured_repo(FORK, pyproject)


def fixed_notebooks(problems: list[str]) -> list[str]:
    return sorted({problem.split(":")[0] for problem in problems})


def test_sync_rewrites_badge_and_clone_url_once(notebook_copies):
    changed = fixed_notebooks(links.find_mismatches(FORK, notebook_copies, fix=True))
    assert changed == [p.name for p in lesson_notebooks()]
    for path in lesson_notebooks(notebook_copies):
        first, install = first_and_install_sources(path)
        lines = first.splitlines()
        assert lines[0] == links.badge_line(FORK, path.name)
        assert lines[1] == "" and lines[2].startswith(f"# {path.name[:2]} · ")
        assert first.count("Open In Colab") == 1
        assert install == links.install_cell_source(FORK)
        assert links.configured_repo() not in first + install
    assert links.find_mismatches(FORK, notebook_copies, fix=True) == []
    assert len(links.find_mismatches(OTHER, notebook_copies)) == 2 * len(changed)


def test_sync_keeps_outputs_metadata_and_ids(notebook_copies):
    path = lesson_notebooks(notebook_copies)[0]
    before = nbformat.read(path, as_version=4)
    assert links.find_mismatches(FORK, notebook_copies, fix=True)
    after = nbformat.read(path, as_version=4)
    assert after.metadata == before.metadata
    assert [c.id for c in after.cells] == [c.id for c in before.cells]
    assert [c.get("outputs") for c in after.cells] == [c.get("outputs") for c in before.cells]
    assert [c.metadata for c in after.cells] == [c.metadata for c in before.cells]


def test_unchanged_notebook_is_not_rewritten(notebook_copies):
    path = lesson_notebooks(notebook_copies)[0]
    links.find_mismatches(FORK, notebook_copies, fix=True)
    mtime = path.stat().st_mtime_ns
    assert links.find_mismatches(FORK, notebook_copies, fix=True) == []
    assert path.stat().st_mtime_ns == mtime


def test_duplicate_badges_collapse_to_one(notebook_copies):
    links.find_mismatches(FORK, notebook_copies, fix=True)
    path = lesson_notebooks(notebook_copies)[0]
    notebook = nbformat.read(path, as_version=4)
    old = links.badge_line("old/one", path.name)
    notebook.cells[0].source = f"{old}\n{old}\n\n\n{notebook.cells[0].source}"
    nbformat.write(notebook, path)
    assert links.find_mismatches(FORK, notebook_copies) == [
        f"{path.name}: the Colab badge is missing, repeated or points elsewhere (expected {FORK})"]
    links.find_mismatches(FORK, notebook_copies, fix=True)
    first, _ = first_and_install_sources(path)
    assert first.count("Open In Colab") == 1 and "old/one" not in first


def test_mismatch_is_reported_for_a_missing_install_cell(notebook_copies):
    path = lesson_notebooks(notebook_copies)[0]
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [c for c in notebook.cells if "git clone" not in c.source]
    nbformat.write(notebook, path)
    problems = links.find_mismatches(folder=notebook_copies)
    assert problems and problems[0].startswith(f"{path.name}: no Colab install cell")
    with pytest.raises(ValueError, match="install cell"):
        links.find_mismatches(FORK, notebook_copies, fix=True)


def test_a_fork_end_to_end(notebook_copies, tmp_path, monkeypatch, capsys):
    """`make colab-links REPO=<fork>`: pyproject and the notebooks by this module, then the README by
    instructor.readme; the checks then read the fork, student copies point at it, and another repo fails them."""
    from instructor import readme, student

    pyproject, path = tmp_path / "pyproject.toml", tmp_path / "README.md"
    shutil.copy(links.PYPROJECT, pyproject)
    shutil.copy(readme.README, path)
    original = links.configured_repo()
    monkeypatch.setattr(links, "PYPROJECT", pyproject)
    monkeypatch.setattr(links, "NOTEBOOK_DIR", notebook_copies)
    monkeypatch.setattr(readme, "SCORES_FILE", tmp_path / "no-scores.json")
    assert links.main(["sync", "--repo", FORK]) == 0
    assert links.configured_repo(pyproject) == FORK
    assert links.main(["check"]) == 0
    readme.update_readme(path, repo=links.configured_repo(pyproject))
    text = path.read_text()
    assert f"mybinder.org/v2/gh/{FORK}/main" in text and original not in text
    assert f"colab.research.google.com/github/{FORK}/blob/main/notebooks/" in text
    copies = student.make_student_copies(notebook_copies, tmp_path / "student", repo=links.configured_repo(pyproject))
    assert all(f"github.com/{FORK}" in first_and_install_sources(copy)[1] for copy in copies)
    links.set_configured_repo(OTHER, pyproject)
    capsys.readouterr()
    assert links.main(["check"]) == 1
    assert "00_environment.ipynb" in capsys.readouterr().out


@pytest.mark.parametrize(
    "repo",
    [
        "", "peft-course", "https://github.com/owner/name", "owner/name.git", "owner/name/", "owner/name/extra",
        "-owner/name", "owner/", "/name", "own er/name", "owner/..", "owner/na;me",
    ],
)
def test_bad_repo_strings_are_refused(repo, notebook_copies):
    with pytest.raises(ValueError, match="owner/name"):
        links.check_repo(repo)
    with pytest.raises(ValueError, match="owner/name"):
        links.find_mismatches(repo, notebook_copies, fix=True)


def test_cli_refuses_a_bad_repo(capsys):
    with pytest.raises(SystemExit) as exit_info:
        links.main(["sync", "--repo", "https://github.com/owner/name"])
    assert exit_info.value.code == 2
    assert "owner/name" in capsys.readouterr().err


def test_readme_binder_link_uses_the_configured_repo():
    from instructor import readme

    found = readme.BINDER_URL.findall(readme.README.read_text())
    assert found, "the README should carry a Binder badge"
    assert all(link == f"https://mybinder.org/v2/gh/{links.configured_repo()}/main" for link in found)
