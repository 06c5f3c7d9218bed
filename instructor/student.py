"""Student copies of the lessons (``make student``): each solution cell becomes a ``# TODO`` cell (a markdown
solution, an answer's explanation, goes), outputs are cleared, and the copies are written to ``[tool.course]
student_path``, with their Colab links and relative links pointing from there. Commit that folder to publish them.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from helpers.paths import REPO_ROOT
from instructor import links
from instructor.notebooks import NOTEBOOK_DIR, SOLUTION_TAG, lesson_notebooks

TODO_TAG = "todo"
TODO_SOURCE = "# TODO: your solution here (see the exercise above)"
MARKDOWN_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
LESSON_FILE = re.compile(r"[0-9][0-9]_[^/]*\.ipynb")


def is_solution(cell) -> bool:
    """True for a cell tagged ``solution`` (an exercise's answer)."""
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def todo_cell(solution):
    """The empty exercise cell that replaces ``solution``: one TODO comment, tagged ``todo``, same id."""
    import nbformat

    tags = [tag for tag in solution.metadata.get("tags", []) if tag != SOLUTION_TAG] + [TODO_TAG]
    cell = nbformat.v4.new_code_cell(TODO_SOURCE, metadata={"tags": tags})
    if "id" in solution:
        cell.id = solution.id
    return cell


def student_notebook(notebook):
    """A copy of ``notebook`` with solution cells replaced by TODO cells and every output cleared."""
    import copy

    student = copy.deepcopy(notebook)
    student.cells = [todo_cell(cell) if is_solution(cell) else cell for cell in student.cells
                     if not (is_solution(cell) and cell.cell_type == "markdown")]  # an answer's explanation goes
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    student.metadata.pop("widgets", None)  # saved widget state is output too
    return student


def student_dir() -> Path:
    """Where student copies are written and published: ``[tool.course] student_path`` at the repository's top."""
    return REPO_ROOT / links.configured_student_path()


def relink(source: str, lesson_dir: Path, copy_dir: Path) -> str:
    """Markdown ``source`` with its relative links reaching from ``copy_dir`` what they reached from ``lesson_dir``;
    links to other lessons (``NN_topic.ipynb``) are kept, since their student copies sit alongside."""

    def fix(match: re.Match) -> str:
        path, hash_mark, anchor = match.group(2).partition("#")
        absolute = re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", path) or path.startswith("/")
        if not path or absolute or LESSON_FILE.fullmatch(path):
            return match.group(0)
        moved = Path(os.path.relpath(os.path.normpath(Path(lesson_dir) / path), os.path.normpath(copy_dir)))
        return f"{match.group(1)}{moved.as_posix()}{hash_mark}{anchor}{match.group(3)}"

    return MARKDOWN_LINK.sub(fix, source)


def make_student_copy(src: Path, dst: Path, *, repo: str | None = None, folder: str | None = None) -> Path:
    """Write the student copy of ``src`` to ``dst``, its Colab links pointing at ``folder`` of ``repo`` (defaults:
    the configured ones)."""
    import nbformat

    src, dst = Path(src), Path(dst)
    if dst.resolve() == src.resolve():
        raise ValueError(f"refusing to overwrite the instructor notebook {src}; choose another destination")
    student = student_notebook(nbformat.read(src, as_version=4))
    folder = folder or links.configured_student_path()
    if links.install_cell(student) is not None:
        links.set_colab_cells(student, repo or links.configured_repo(), src.name, folder)
    for cell in student.cells:
        if cell.cell_type == "markdown":
            cell.source = relink(cell.source, src.parent, REPO_ROOT / folder)
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(student, dst)
    return dst


def make_student_copies(src_dir: Path = NOTEBOOK_DIR, dst_dir: Path | None = None, *, repo: str | None = None,
                        folder: str | None = None) -> list[Path]:
    """Write student copies of every lesson in ``src_dir`` into ``dst_dir`` (default: :func:`student_dir`)."""
    src_dir, dst_dir = Path(src_dir), Path(dst_dir) if dst_dir is not None else student_dir()
    for instructor_dir in {src_dir.resolve(), NOTEBOOK_DIR.resolve()}:
        if dst_dir.resolve().is_relative_to(instructor_dir):
            raise ValueError(
                f"refusing to write student copies into {dst_dir}: it is (inside) the instructor notebooks' folder "
                f"{instructor_dir}. Choose a folder outside it, e.g. {student_dir()}."
            )
    sources = lesson_notebooks(src_dir)
    if not sources:
        raise FileNotFoundError(f"no lesson notebooks (NN_topic.ipynb) in {src_dir}")
    return [make_student_copy(src, dst_dir / src.name, repo=repo, folder=folder) for src in sources]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m instructor.student", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None,
                        help="destination folder (default: [tool.course] student_path, where the badges point)")
    args = parser.parse_args(argv)
    try:
        written = make_student_copies(NOTEBOOK_DIR, args.out)
    except (ValueError, FileNotFoundError) as error:
        parser.exit(2, f"error: {error}\n")
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
