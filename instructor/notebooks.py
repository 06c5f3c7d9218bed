"""The lesson notebooks as files: which they are, their titles and their exercises."""

from __future__ import annotations

from pathlib import Path

from helpers.artifacts import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"


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
