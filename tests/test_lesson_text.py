"""The lessons read as a learner's book: within their word and cell budgets, with none of the course's own
machinery (the test suite's shortened run, memory bookkeeping for hosted notebooks, score files) in what a learner
reads or runs, and with one check cell for every exercise."""

from __future__ import annotations

import re

import nbformat
import pytest

from instructor.notebooks import CHECK_TAG, SOLUTION_TAG, exercise_levels, lesson_notebooks

LESSONS = lesson_notebooks()
WORDS_PER_LESSON = 1_600
WORDS_IN_COURSE = 9_000
"""The chapter's course, lessons 00-07; the lessons beyond the chapter (08 on) have the per-lesson budget and a cell
budget of their own."""
CELLS = {"04": 45, "08": 40, "09": 40}
MACHINERY = re.compile(r"\bQUICK\b|quick mode|COURSE_QUICK|shortened run|\bBinder\b|scores\.json|timings\.json"
                       r"|make course|malloc|mmap|held peak|kernel_memory|record_scores", re.IGNORECASE)


def markdown_words(path) -> int:
    cells = nbformat.read(path, as_version=4).cells
    return sum(len(cell.source.split()) for cell in cells if cell.cell_type == "markdown")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_within_its_budgets(path):
    words = markdown_words(path)
    assert words <= WORDS_PER_LESSON, f"{path.name}: {words} markdown words, the budget is {WORDS_PER_LESSON}"
    cells = len(nbformat.read(path, as_version=4).cells)
    limit = CELLS.get(path.name[:2])
    assert limit is None or cells <= limit, f"{path.name}: {cells} cells, the budget is {limit}"


def test_course_within_its_word_budget():
    total = sum(markdown_words(path) for path in LESSONS if path.name[:2] <= "07")
    assert total <= WORDS_IN_COURSE, f"the lessons hold {total} markdown words, the budget is {WORDS_IN_COURSE}"


@pytest.mark.parametrize("path", [p for p in LESSONS if not p.name.startswith("00")], ids=lambda p: p.stem)
def test_no_course_machinery_in_what_a_learner_reads(path):
    found = [(index, match.group(0)) for index, cell in enumerate(nbformat.read(path, as_version=4).cells)
             for match in MACHINERY.finditer(cell.source)]
    assert not found, f"{path.name}: course machinery in learner-visible cells (cell, word): {found}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_each_exercise_has_a_check_cell_after_its_solution(path):
    cells = nbformat.read(path, as_version=4).cells
    tags = [cell.metadata.get("tags", []) for cell in cells]
    checks = [i for i, t in enumerate(tags) if CHECK_TAG in t]
    assert len(checks) == len(exercise_levels(path)), (
        f"{path.name}: {len(exercise_levels(path))} exercises (★ lines) but {len(checks)} cells tagged {CHECK_TAG!r}")
    for index in checks:
        assert index > 0 and SOLUTION_TAG in tags[index - 1], (
            f"{path.name} cell {index}: a check cell follows its exercise's solution cell (tagged {SOLUTION_TAG!r})")
        assert cells[index].cell_type == "code" and "answer(" in cells[index].source, (
            f"{path.name} cell {index}: a check cell fetches the learner's variables with exercises.answer(...)")
