"""Every lesson runs top to bottom (shortened under ``make test``), and every exercise's check cell catches an
empty answer: it is run once *before* its worked solution, where it must fail with an ``AssertionError`` whose
message helps, then after it, where it must pass. One execution of each lesson proves both.

The second test runs lessons 01-05 on a small random model with TinyLlama's proportions (``COURSE_MODEL=
tinyllama-shaped``), so that no lesson relies on a fact of the embedded 135M model that TinyLlama does not share.
"""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from instructor.notebooks import CHECK_TAG, SOLUTION_TAG, lesson_notebooks

LESSONS = lesson_notebooks()
CHAPTER_LESSONS = [p for p in LESSONS if p.name[:2] in {"01", "02", "03", "04", "05"}]
# Lessons 05, 08 and 09 use what lessons 04 and 08 leave in the output folder. On `make test`'s workers
# (pytest-xdist, --dist loadscope) a class is one unit of work: its tests run on one worker, in this order.
USES_EARLIER_OUTPUTS = {"04", "05", "08", "09"}
SHARING = [p for p in LESSONS if p.name[:2] in USES_EARLIER_OUTPUTS]
ON_THEIR_OWN = [p for p in LESSONS if p not in SHARING]
FAILURES_A_CHECK_MAY_RAISE = {"AssertionError", "MissingAnswer"}


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def check_before_solution(cells, index: int) -> int | None:
    """For the first solution cell of an exercise, the index of the check cell that follows its solution cells."""
    if SOLUTION_TAG not in tags(cells[index]) or (index and SOLUTION_TAG in tags(cells[index - 1])):
        return None
    for later in range(index + 1, len(cells)):
        if CHECK_TAG in tags(cells[later]):
            return later
        if SOLUTION_TAG not in tags(cells[later]):
            return None
    return None


def run_lesson(path) -> list[str]:
    """Execute the lesson cell by cell in a fresh kernel; return one line per check cell proven both ways."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=1200, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    proven = []
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            check = check_before_solution(notebook.cells, index)
            if check is not None:
                empty = notebook.cells[check].copy()
                with pytest.raises(CellExecutionError) as failed:
                    client.execute_cell(empty, check)
                assert failed.value.ename in FAILURES_A_CHECK_MAY_RAISE, (
                    f"{path.name} cell {check}: before its solution, the check cell raised {failed.value.ename} "
                    f"({failed.value.evalue}); it should fail with an assert and a message that helps")
                assert str(failed.value.evalue).strip(), f"{path.name} cell {check}: the failing check says nothing"
                proven.append(f"cell {check}: {failed.value.evalue}")
            client.execute_cell(cell, index)
    return proven


def run_and_prove_every_check(path) -> None:
    proven = run_lesson(path)
    exercises = sum(CHECK_TAG in tags(cell) for cell in nbformat.read(path, as_version=4).cells)
    assert len(proven) == exercises, f"{path.name}: {exercises} check cells, {len(proven)} ran before a solution"


@pytest.mark.heavy
@pytest.mark.parametrize("path", ON_THEIR_OWN, ids=lambda p: p.stem)
def test_lesson_runs_and_each_check_catches_an_empty_answer(path):
    run_and_prove_every_check(path)


@pytest.mark.heavy
class TestLessonsThatShareOutputs:
    @pytest.mark.parametrize("path", SHARING, ids=lambda p: p.stem)
    def test_lesson_runs_and_each_check_catches_an_empty_answer(self, path):
        run_and_prove_every_check(path)


@pytest.mark.heavy
class TestOnAModelShapedLikeTinyLlama:
    @pytest.mark.parametrize("path", CHAPTER_LESSONS, ids=lambda p: p.stem)
    def test_lesson_runs(self, path, monkeypatch, tmp_path_factory):
        monkeypatch.setenv("COURSE_MODEL", "tinyllama-shaped")
        monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path_factory.getbasetemp() / "tinyllama-shaped-outputs"))
        run_lesson(path)
