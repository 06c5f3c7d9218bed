"""Every lesson's Colab install cell comes from one template (instructor.links.INSTALL_CELL); the cell itself works.

The cell's Python is run here with IPython's own transformation of ``%run``, a faked ``google.colab`` module
and a local git repository in place of GitHub, so a failed clone, a fresh clone and a second run are all seen.
Student copies open themselves (not the solutions) from their badges (a fork: tests/test_instructor_links.py).
"""

import os
import re
import shutil
import subprocess
import sys
import types

import nbformat
import pytest

from helpers.paths import REPO_ROOT
from instructor import links, student
from instructor.notebooks import NOTEBOOK_DIR, lesson_notebooks

FORK = "a-learner/peft-course-fork"


@pytest.fixture
def notebook_copies(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for path in lesson_notebooks():
        shutil.copy(path, folder / path.name)
    return folder


def install_source(path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return next(c.source for c in notebook.cells if c.cell_type == "code")


# --- the template ---------------------------------------------------------------------------------


def test_the_template_clones_the_repo_and_runs_the_set_up_in_the_notebooks_folder():
    source = links.install_cell_source(FORK)
    assert f'url = "https://github.com/{FORK}"' in source
    assert "%run /content/course/helpers/colab.py notebooks" in source
    assert "2>/dev/null" not in source and "|| true" not in source, "a failed clone must not be hidden"
    assert max(len(line) for line in source.splitlines()) <= 120
    assert links.install_cell_source(FORK, "student").endswith(
        'colab.py student\nelse:\n    print("Local run: nothing to install (`make lab` set up .venv).")')


def test_sync_writes_the_whole_canonical_install_cell(notebook_copies):
    path = lesson_notebooks(notebook_copies)[0]
    notebook = nbformat.read(path, as_version=4)
    install = next(c for c in notebook.cells if c.cell_type == "code")
    install.source = ('import sys\n\nif "google.colab" in sys.modules:\n'
                      f"    !git clone -q https://github.com/{FORK} /content/course 2>/dev/null || true\n"
                      "    %run /content/course/helpers/colab.py\n")
    nbformat.write(notebook, path)
    problems = links.find_mismatches(FORK, notebook_copies)
    assert any(p.startswith(path.name) and "install cell" in p for p in problems), problems
    links.find_mismatches(FORK, notebook_copies, fix=True)
    assert links.find_mismatches(FORK, notebook_copies) == []
    for lesson in lesson_notebooks(notebook_copies):
        assert install_source(lesson) == links.install_cell_source(FORK)


def test_check_reports_an_install_cell_that_drifted(notebook_copies):
    links.find_mismatches(FORK, notebook_copies, fix=True)
    path = lesson_notebooks(notebook_copies)[-1]
    notebook = nbformat.read(path, as_version=4)
    install = next(c for c in notebook.cells if c.cell_type == "code")
    install.source = install.source.replace("--depth", "--depth=5 --no-tags --depth")
    nbformat.write(notebook, path)
    assert links.find_mismatches(FORK, notebook_copies) == [
        f"{path.name}: the install cell differs from instructor.links.INSTALL_CELL (expected {FORK})"]


# --- the cell, run -------------------------------------------------------------------------------


@pytest.fixture
def in_colab(monkeypatch):
    """Pretend to be in Colab, and record the line magics the cell runs."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    calls = []
    shell = types.SimpleNamespace(run_line_magic=lambda name, line: calls.append((name, line)))
    return calls, shell


def run_cell(source: str, course_dir, url: str, shell) -> None:
    """Execute the install cell's Python with ``/content/course`` and the GitHub URL replaced."""
    from IPython.core.inputtransformer2 import TransformerManager

    python = TransformerManager().transform_cell(source)
    python = python.replace("/content/course", str(course_dir))
    python = re.sub(r'url = "https://github\.com/[^"]+"', f"url = {url!r}", python)
    exec(compile(python, "<install cell>", "exec"), {"get_ipython": lambda: shell})


@pytest.fixture
def local_repo(tmp_path):
    """A one-commit git repository to clone instead of GitHub."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "origin"
    (repo / "helpers").mkdir(parents=True)
    (repo / "helpers" / "colab.py").write_text("print('set-up')\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "course"], check=True)
    return repo


def test_the_cell_clones_then_runs_the_set_up(in_colab, local_repo, tmp_path):
    calls, shell = in_colab
    course = tmp_path / "content" / "course"
    run_cell(links.install_cell_source(FORK), course, f"file://{local_repo}", shell)
    assert (course / "helpers" / "colab.py").is_file()
    assert calls == [("run", f"{course}/helpers/colab.py notebooks")]
    run_cell(links.install_cell_source(FORK), course, "file:///nowhere", shell)  # run again: no second clone
    assert calls[-1] == ("run", f"{course}/helpers/colab.py notebooks") and len(calls) == 2


def test_a_failed_clone_stops_with_gits_message(in_colab, local_repo, tmp_path):
    calls, shell = in_colab
    course = tmp_path / "content" / "course"
    missing = tmp_path / "no-such-repo"
    with pytest.raises(RuntimeError, match=r"git clone file://.*no-such-repo failed:\n(.|\n)*fatal:") as error:
        run_cell(links.install_cell_source(FORK), course, f"file://{missing}", shell)
    assert "run this cell again" in str(error.value)
    assert calls == [], "the set-up must not run without a checkout"


def test_outside_colab_the_cell_only_says_so(monkeypatch, capsys, tmp_path):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    run_cell(links.install_cell_source(FORK), tmp_path / "course", "file:///nowhere", None)
    assert capsys.readouterr().out == "Local run: nothing to install (`make lab` set up .venv).\n"
    assert not (tmp_path / "course").exists()


# --- student copies ------------------------------------------------------------------------------


def relative_links(notebook) -> list[str]:
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", markdown)]
    return [t for t in targets if t and not re.match(r"[a-z]+:", t)]


def reachable(folder, target: str) -> bool:
    return os.path.exists(os.path.normpath(folder / target)) or (folder / target).exists()


def test_student_copies_open_themselves_and_keep_their_links(tmp_path):
    folder = links.configured_student_path()
    written = student.make_student_copies(dst_dir=tmp_path / folder, repo=FORK)
    published = REPO_ROOT / folder  # where the copies live once committed: next to notebooks/
    for path in written:
        notebook = nbformat.read(path, as_version=4)
        first = notebook.cells[0].source.splitlines()[0]
        assert first == links.badge_line(FORK, path.name, folder)
        assert f"/blob/main/{folder}/{path.name})" in first and "/notebooks/" not in first
        assert install_source(path) == links.install_cell_source(FORK, folder)
        before, after = relative_links(nbformat.read(NOTEBOOK_DIR / path.name, as_version=4)), relative_links(notebook)
        assert len(before) == len(after)
        broken = [(old, new) for old, new in zip(before, after, strict=True)
                  if reachable(NOTEBOOK_DIR, old) and not (reachable(published, new) or (path.parent / new).exists())]
        assert not broken, f"{path.name}: links that work in the lesson but not from {folder}/: {broken}"


def test_relink_moves_links_next_to_the_lessons_and_keeps_lessons_and_urls():
    source = ("[data](../data/README.md#stats) [scores](scores.json) [next](05_merge_and_ship.ipynb) "
              "[web](https://example.org/a) [here](#section) ![plot](img/x.png)")
    assert student.relink(source, REPO_ROOT / "notebooks", REPO_ROOT / "student") == (
        "[data](../data/README.md#stats) [scores](../notebooks/scores.json) [next](05_merge_and_ship.ipynb) "
        "[web](https://example.org/a) [here](#section) ![plot](../notebooks/img/x.png)")


def test_student_copies_are_written_where_their_badges_point_by_default(monkeypatch, tmp_path):
    monkeypatch.setattr(student, "REPO_ROOT", tmp_path)
    written = student.make_student_copies()
    assert {p.parent for p in written} == {tmp_path / links.configured_student_path()}


@pytest.mark.parametrize("value", ['"notebooks"', '"a/b"', '"../up"', '""', "3", '"data"'])
def test_student_path_must_be_one_new_top_level_folder(tmp_path, value):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f'[tool.course]\ngithub_repo = "o/n"\nstudent_path = {value}\n')
    with pytest.raises(ValueError, match="one new folder at the top"):
        links.configured_student_path(pyproject)


def test_student_path_defaults_to_student(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.course]\ngithub_repo = "o/n"\n')
    assert links.configured_student_path(pyproject) == "student"


def test_no_test_hard_codes_the_configured_repo():
    """Tests compare with instructor.links.configured_repo(), so that they pass unchanged in a fork."""
    repo = links.configured_repo()
    offenders = [p.name for p in sorted((REPO_ROOT / "tests").glob("*.py")) if repo in p.read_text()]
    assert not offenders, f"these tests spell out {repo!r}; read links.configured_repo() instead: {offenders}"
