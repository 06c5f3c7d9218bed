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
# Lessons 05, 08 and 09 use what lessons 04 and 08 leave in the output folder: on `make test`'s two workers
# (pytest-xdist, --dist loadgroup) they run on one worker, in this order. So do the TinyLlama-shaped runs.
USES_EARLIER_OUTPUTS = {"04", "05", "08", "09"}


def lesson_params(paths, group: str | None = None) -> list:
    """One ``pytest.param`` per lesson; those in ``group`` (or using earlier outputs) stay on one worker."""
    def group_of(path):
        return group or ("lesson-outputs" if path.name[:2] in USES_EARLIER_OUTPUTS else None)

    return [pytest.param(path, id=path.stem, marks=[pytest.mark.xdist_group(group_of(path))] if group_of(path) else [])
            for path in paths]
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


@pytest.mark.heavy
@pytest.mark.parametrize("path", lesson_params(LESSONS))
def test_lesson_runs_and_each_check_catches_an_empty_answer(path):
    proven = run_lesson(path)
    exercises = sum(CHECK_TAG in tags(cell) for cell in nbformat.read(path, as_version=4).cells)
    assert len(proven) == exercises, f"{path.name}: {exercises} check cells, {len(proven)} ran before a solution"


@pytest.mark.heavy
@pytest.mark.parametrize("path", lesson_params(CHAPTER_LESSONS, group="tinyllama-shaped"))
def test_lesson_runs_on_a_model_shaped_like_tinyllama(path, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("COURSE_MODEL", "tinyllama-shaped")
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path_factory.getbasetemp() / "tinyllama-shaped-outputs"))
    run_lesson(path)
