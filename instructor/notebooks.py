"""The lesson notebooks as files: which they are, their titles and their exercises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.paths import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
SOLUTION_TAG = "solution"  # a cell that answers an exercise (student copies replace it with a TODO cell)
CHECK_TAG = "check"  # the cell after a solution that tests the learner's answer (student copies keep it)


def lesson_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered lesson notebooks (``NN_topic.ipynb``) in course order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))


def notebook_title(path: Path) -> str:
    """The first markdown heading of a notebook, without the leading ``#`` marks."""
    import nbformat

    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


def exercise_levels(path: Path) -> list[str]:
    """Star ratings of a notebook's exercises: markdown lines that start with a star (★)."""
    import nbformat

    return [
        line.split()[0]
        for cell in nbformat.read(path, as_version=4).cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("★")
    ]


def solution_seconds(notebook: Any) -> float | None:
    """Seconds an executed notebook spent in its solution cells, from nbclient's timings; None if a cell has none."""
    from datetime import datetime

    total = 0.0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        timing = cell.metadata.get("execution", {})
        if "iopub.execute_input" not in timing or "shell.execute_reply" not in timing:
            return None
        if SOLUTION_TAG in cell.metadata.get("tags", []):
            start, end = (datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                          for key in ("iopub.execute_input", "shell.execute_reply"))
            total += (end - start).total_seconds()
    return total
