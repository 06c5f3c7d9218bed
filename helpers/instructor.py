"""Student copies of the lessons: the exercises without their answers.

The instructor notebooks in ``notebooks/`` hold each exercise's answer in a code cell tagged
``solution`` (its self-check ``assert`` included). ``python -m helpers.instructor student`` (or
``make student``) writes copies to ``build/student/`` in which every solution cell is replaced by
a one-line ``# TODO`` cell tagged ``todo`` and every output is cleared, so nothing of an answer
leaks. The instructor notebooks are never written to.
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
STUDENT_DIR = REPO_ROOT / "build" / "student"
SOLUTION_TAG = "solution"
TODO_TAG = "todo"
TODO_SOURCE = "# TODO: your solution here (see the exercise above)"


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
    student.cells = [todo_cell(cell) if is_solution(cell) else cell for cell in student.cells]
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    student.metadata.pop("widgets", None)  # saved widget state is output too
    return student


def make_student_copy(src: Path, dst: Path) -> Path:
    """Write the student copy of the notebook ``src`` to ``dst`` (never onto ``src`` itself)."""
    import nbformat

    src, dst = Path(src), Path(dst)
    if dst.resolve() == src.resolve():
        raise ValueError(f"refusing to overwrite the instructor notebook {src}; choose another destination")
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(student_notebook(nbformat.read(src, as_version=4)), dst)
    return dst


def make_student_copies(src_dir: Path = NOTEBOOK_DIR, dst_dir: Path = STUDENT_DIR) -> list[Path]:
    """Write student copies of every ``NN_topic.ipynb`` in ``src_dir`` into ``dst_dir``; return their paths."""
    src_dir, dst_dir = Path(src_dir), Path(dst_dir)
    for instructor_dir in {src_dir.resolve(), NOTEBOOK_DIR.resolve()}:
        if dst_dir.resolve() == instructor_dir or dst_dir.resolve().is_relative_to(instructor_dir):
            raise ValueError(
                f"refusing to write student copies into {dst_dir}: it is (inside) the instructor notebooks' folder "
                f"{instructor_dir}. Choose a folder outside it, e.g. {STUDENT_DIR}."
            )
    sources = sorted(src_dir.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no lesson notebooks (NN_topic.ipynb) in {src_dir}")
    return [make_student_copy(src, dst_dir / src.name) for src in sources]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.instructor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    student = commands.add_parser("student", help="write solution-free copies of the lessons")
    student.add_argument("--out", type=Path, default=STUDENT_DIR, help=f"destination folder (default {STUDENT_DIR})")
    args = parser.parse_args(argv)
    try:
        written = make_student_copies(NOTEBOOK_DIR, args.out)
    except (ValueError, FileNotFoundError) as error:
        parser.exit(2, f"error: {error}\n")
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
