"""Run the whole course headless, the way an instructor does before class.

``python -m helpers.course run`` executes every numbered notebook in order (in place, so the
committed notebooks are the executed ones), exports HTML copies to ``build/html/``, records the
seconds each took in ``notebooks/timings.json`` and rewrites the timing table in the README from
that file. ``python -m helpers.course clean`` removes what the lessons generated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from helpers.colab import badge_line, configured_repo

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
BUILD_DIR = REPO_ROOT / "build"
TIMINGS_FILE = NOTEBOOK_DIR / "timings.json"
README = REPO_ROOT / "README.md"
TABLE_START = "<!-- timings:start (written by `make course`) -->"
TABLE_END = "<!-- timings:end -->"


def lesson_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered lesson notebooks (``NN_topic.ipynb``) in course order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def notebook_title(path: Path) -> str:
    """The first markdown heading of a notebook, without the leading ``#`` marks."""
    import nbformat

    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


def execute_notebook(path: Path, timeout: int = 1800) -> float:
    """Execute one notebook in place (kernel started in its folder); return seconds taken."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(path.parent)}}
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources=resources)
    start = time.perf_counter()
    try:
        client.execute()
    finally:  # keep what ran, error included, so the failing cell can be read in place
        nbformat.write(notebook, path)
    return time.perf_counter() - start


def export_html(path: Path, target_dir: Path) -> Path:
    """Write an HTML copy of an executed notebook into ``target_dir``."""
    from nbconvert import HTMLExporter

    target_dir.mkdir(parents=True, exist_ok=True)
    body, _ = HTMLExporter().from_filename(str(path))
    target = target_dir / f"{path.stem}.html"
    target.write_text(body, encoding="utf-8")
    return target


def describe_machine() -> dict[str, str]:
    """Device, model and core count of this run, for the timing table."""
    from helpers.models import resolve_model
    from helpers.runtime import pick_device

    device = pick_device()
    if device.type == "cuda":
        import torch

        name = f"cuda ({torch.cuda.get_device_name(device)})"
    else:
        name = f"{device.type} ({os.cpu_count()} cores, {platform.machine()})"
    return {"device": name, "model": resolve_model().key}


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


def timing_table(record: dict[str, Any], folder: Path = NOTEBOOK_DIR, repo: str | None = None) -> str:
    """Markdown table of the lessons with one run's timings (``notebooks/timings.json``) and Colab links."""
    lines = [
        f"Measured by `make course` on {record['date']}: {record['device']}, model `{record['model']}`, "
        f"{record['total_seconds'] / 60:.1f} minutes for the whole course.",
        "",
        "| lesson | Colab | seconds | exercises |",
        "|---|---|---:|---|",
    ]
    repo = repo or configured_repo()
    for row in record["notebooks"]:
        path = folder / row["notebook"]
        title = notebook_title(path) if path.exists() else row["notebook"]
        stars = ", ".join(exercise_levels(path)) if path.exists() else ""
        colab = badge_line(repo, row["notebook"])
        lines.append(f"| [{title}](notebooks/{row['notebook']}) | {colab} | {row['seconds']:.0f} | {stars} |")
    return "\n".join(lines)


def replace_marked_block(path: Path, start: str, end: str, body: str, *, what: str = "generated") -> None:
    """Rewrite what lies between the ``start`` and ``end`` markers of ``path`` (the README's generated blocks)."""
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path} has no {what} block ({start} ... {end})")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{body}{end}{tail}")


def update_readme_table(record: dict[str, Any], readme: Path = README, repo: str | None = None) -> None:
    """Replace the README's timing block with the table of ``record``."""
    replace_marked_block(readme, TABLE_START, TABLE_END, timing_table(record, repo=repo) + "\n", what="timing")


def run_course(notebooks: list[Path] | None = None) -> dict[str, Any]:
    """Execute the notebooks in order, export HTML, record and print the timings."""
    notebooks = notebooks or lesson_notebooks()
    rows = []
    for path in notebooks:
        print(f"running {path.name} ...", flush=True)
        seconds = execute_notebook(path)
        export_html(path, BUILD_DIR / "html")
        rows.append({"notebook": path.name, "seconds": round(seconds, 1)})
        print(f"  {seconds:6.1f} s", flush=True)
    record = {
        "date": time.strftime("%Y-%m-%d"),
        **describe_machine(),
        "total_seconds": round(sum(row["seconds"] for row in rows), 1),
        "notebooks": rows,
    }
    if len(notebooks) == len(lesson_notebooks()):
        TIMINGS_FILE.write_text(json.dumps(record, indent=2) + "\n")
        update_readme_table(record)
    print(timing_table(record))
    return record


def generated_paths() -> list[Path]:
    """What the lessons and tools create: never anything in data/ or notebooks/."""
    from helpers.artifacts import outputs_dir
    from helpers.embedded import converted_dir

    return [p for p in (outputs_dir(), BUILD_DIR, converted_dir()) if p.exists()]


def clean(confirm: bool = True) -> list[Path]:
    """Delete training outputs, build files and the converted-model cache, after listing them."""
    paths = generated_paths()
    if not paths:
        print("Nothing to clean.")
        return []
    print("This deletes:\n" + "\n".join(f"  {p}" for p in paths))
    if confirm and sys.stdin.isatty() and input("Proceed? [y/N] ").strip().lower() != "y":
        print("Nothing deleted.")
        return []
    for path in paths:
        shutil.rmtree(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute every notebook in order and record timings")
    run.add_argument("notebooks", nargs="*", type=Path, help="only these notebooks (timings are not recorded)")
    clean_cmd = commands.add_parser("clean", help="delete outputs/, build/ and the converted-model cache")
    clean_cmd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    if args.command == "run":
        run_course([p.resolve() for p in args.notebooks] or None)
    else:
        clean(confirm=not args.yes)


if __name__ == "__main__":
    main()
