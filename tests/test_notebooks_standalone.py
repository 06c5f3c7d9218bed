"""A lesson opened on its own badge starts in a fresh runtime: what it needs from earlier lessons it must make.

Lessons 05, 08 and 09 need lesson 04's adapter. Lesson 05 trains it with the course's script when it is missing;
tests/test_lessons.py runs lesson 05 that way, against an empty output folder. Lessons 08 and 09 do the same with
the same block of code, checked here.
"""

import nbformat
import pytest

from helpers.paths import REPO_ROOT

LESSON_05 = REPO_ROOT / "notebooks" / "05_merge_and_ship.ipynb"


def code_cell(path, marker: str) -> str:
    """The one code cell of the notebook at ``path`` whose source contains ``marker``."""
    notebook = nbformat.read(path, as_version=4)
    found = [cell.source for cell in notebook.cells if cell.cell_type == "code" and marker in cell.source]
    assert len(found) == 1, f"expected one code cell with {marker!r} in {path.name}, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("name", ["08_preference_tuning_dpo.ipynb", "09_ship_gguf.ipynb"])
def test_later_lessons_train_the_missing_adapter_as_lesson_05_does(name):
    def train_if_missing(path) -> str:
        source = code_cell(path, "adapter_config.json")
        return source[:source.index("\n", source.index("assert run.returncode"))]

    assert train_if_missing(REPO_ROOT / "notebooks" / name) == train_if_missing(LESSON_05)
