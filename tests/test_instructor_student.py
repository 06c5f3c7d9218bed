"""Student copies: every solution cell becomes a TODO cell, no answer line leaks, the instructor notebooks stay."""

import nbformat
import pytest

from helpers.paths import REPO_ROOT
from instructor import student as copies
from instructor.notebooks import CHECK_TAG, NOTEBOOK_DIR, lesson_notebooks

LESSONS = lesson_notebooks()


def telling_lines(source: str) -> set[str]:
    """Lines that could give an answer away: not blank, not a lone bracket, at least 8 characters."""
    lines = {line.strip() for line in source.splitlines()}
    return {line for line in lines if len(line) >= 8 and line not in {")", "]", "}"}}


def all_lines(cells) -> set[str]:
    return {line.strip() for cell in cells for line in cell.source.splitlines()}


def leaked_lines(original, copy) -> set[str]:
    """Solution lines of ``original`` found in ``copy``.

    A line the lesson also shows outside its solutions (e.g. ``with torch.no_grad():``) gives nothing away.
    """
    solutions = [c for c in original.cells if copies.is_solution(c)]
    shown_anyway = all_lines(c for c in original.cells if not copies.is_solution(c))
    solution_lines = set().union(*(telling_lines(c.source) for c in solutions))
    return (solution_lines - shown_anyway) & all_lines(copy.cells)


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("student")
    copies.make_student_copies(NOTEBOOK_DIR, folder)
    return folder


def test_lessons_exist():
    assert LESSONS, f"no lesson notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_lesson_has_a_solution_cell(path):
    notebook = nbformat.read(path, as_version=4)
    assert any(copies.is_solution(cell) for cell in notebook.cells), f"{path.name} has no cell tagged 'solution'"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_student_copy_leaks_no_solution_line(path, student_dir):
    original = nbformat.read(path, as_version=4)
    student = nbformat.read(student_dir / path.name, as_version=4)
    assert leaked_lines(original, original), f"{path.name}: its solutions repeat lines shown elsewhere only"
    leaked = leaked_lines(original, student)
    assert not leaked, f"{path.name}: the student copy contains solution lines {sorted(leaked)}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_student_copy_has_one_todo_per_solution_and_no_outputs(path, student_dir):
    original = nbformat.read(path, as_version=4)
    student = nbformat.read(student_dir / path.name, as_version=4)
    nbformat.validate(student)
    todos = [c for c in student.cells if copies.TODO_TAG in c.metadata.get("tags", [])]
    solutions = [c for c in original.cells if copies.is_solution(c)]
    explained = sum(c.cell_type == "markdown" for c in solutions)  # an answer's explanation is left out
    assert len(todos) == len(solutions) - explained
    assert all(c.source == copies.TODO_SOURCE and c.cell_type == "code" for c in todos)
    assert not any(copies.is_solution(c) for c in student.cells)
    assert len(student.cells) == len(original.cells) - explained
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_copy_replaces_only_solution_cells(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("**Exercise ★** compute the answer"),
        nbformat.v4.new_code_cell("answer = 42\nassert answer == 42", metadata={"tags": ["solution", "keep"]}),
        nbformat.v4.new_markdown_cell("So the answer is 42.", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("print('hello')", execution_count=3,
                                  outputs=[nbformat.v4.new_output("stream", text="hello\n")]),
    ]
    src = tmp_path / "00_x.ipynb"
    nbformat.write(notebook, src)
    student = nbformat.read(copies.make_student_copy(src, tmp_path / "out" / "00_x.ipynb"), as_version=4)
    assert [c.source for c in student.cells] == ["**Exercise ★** compute the answer", copies.TODO_SOURCE,
                                                 "print('hello')"]
    assert student.cells[1].metadata.tags == ["keep", "todo"] and student.cells[1].id == notebook.cells[1].id
    assert student.cells[2].outputs == [] and student.cells[2].execution_count is None
    assert nbformat.read(src, as_version=4) == notebook  # the instructor notebook is untouched


@pytest.mark.parametrize("where", ["notebooks", "notebooks/student"])
def test_refuses_to_write_into_the_instructor_folder(where):
    dst = REPO_ROOT / where
    with pytest.raises(ValueError, match="instructor notebooks"):
        copies.make_student_copies(NOTEBOOK_DIR, dst)
    assert not (REPO_ROOT / "notebooks" / "student").exists()


def test_refuses_to_overwrite_the_source_notebook(tmp_path):
    with pytest.raises(ValueError, match="refusing to overwrite"):
        copies.make_student_copy(LESSONS[0], LESSONS[0])


def test_cli_writes_copies_to_out(tmp_path, capsys):
    copies.main(["--out", str(tmp_path)])
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == [p.name for p in LESSONS]
    assert str(tmp_path / LESSONS[0].name) in capsys.readouterr().out


def test_cli_refuses_the_notebooks_folder(capsys):
    with pytest.raises(SystemExit) as exit_info:
        copies.main(["--out", str(NOTEBOOK_DIR)])
    assert exit_info.value.code == 2
    assert "instructor notebooks" in capsys.readouterr().err


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_student_copy_keeps_every_check_cell_as_it_is(path, student_dir):
    original = nbformat.read(path, as_version=4)
    student = nbformat.read(student_dir / path.name, as_version=4)
    checks = [cell.source for cell in original.cells if CHECK_TAG in cell.metadata.get("tags", [])]
    kept = [cell.source for cell in student.cells if CHECK_TAG in cell.metadata.get("tags", [])]
    assert kept == checks, f"{path.name}: the student copy must keep each check cell unchanged"
