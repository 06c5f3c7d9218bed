"""A lesson opened on its own badge starts in a fresh runtime: what it needs from earlier lessons it must make.

Lesson 05 is the one that depends on an earlier lesson's output (lesson 04's adapter). Its set-up cell and its
find-or-train cell run here, as they are in the notebook, against an empty output folder.
"""

import os
import subprocess
import sys

import nbformat
import pytest

from helpers.artifacts import ADAPTER_NAME, OUTPUT_ENV
from helpers.paths import REPO_ROOT

LESSON_05 = REPO_ROOT / "notebooks" / "05_merge_and_ship.ipynb"


def code_cell(notebook, marker: str) -> str:
    """The one code cell whose source contains ``marker``."""
    found = [cell.source for cell in notebook.cells if cell.cell_type == "code" and marker in cell.source]
    assert len(found) == 1, f"expected one code cell with {marker!r} in {LESSON_05.name}, found {len(found)}"
    return found[0]


@pytest.mark.heavy
def test_lesson_05_alone_trains_the_adapter_it_needs(tmp_path):
    notebook = nbformat.read(LESSON_05, as_version=4)
    script = "\n\n".join([code_cell(notebook, "console.quiet_library_output()"),
                          code_cell(notebook, "adapter_config.json")])
    env = {**os.environ, OUTPUT_ENV: str(tmp_path), "COURSE_QUICK": "1"}
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "No adapter from lesson 04 in this runtime" in run.stdout
    assert (tmp_path / ADAPTER_NAME / "adapter_config.json").is_file()
    assert f"{ADAPTER_NAME} - trained on" in run.stdout  # the cell went on to load and name it


@pytest.mark.parametrize("name", ["08_preference_tuning_dpo.ipynb", "09_ship_gguf.ipynb"])
def test_later_lessons_train_the_missing_adapter_as_lesson_05_does(name):
    """Lessons 08 and 09 also need lesson 04's adapter; they make it with lesson 05's block, tested above."""
    def train_if_missing(path) -> str:
        source = code_cell(nbformat.read(path, as_version=4), "adapter_config.json")
        return source[:source.index("\n", source.index("assert run.returncode"))]

    assert train_if_missing(REPO_ROOT / "notebooks" / name) == train_if_missing(LESSON_05)
