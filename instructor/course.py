"""Run the whole course headless, the way an instructor does before class.

``python -m instructor.course run`` (``make course``) executes every lesson in place, exports HTML copies to
``build/html/``, records each lesson's seconds and memory peaks in ``notebooks/timings.json`` and rewrites the
README's generated blocks. ``python -m instructor.course clean`` removes what the lessons generated.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from helpers.memory import PeakSampler
from helpers.paths import REPO_ROOT
from instructor import readme, scores
from instructor.notebooks import lesson_notebooks, solution_seconds

BUILD_DIR = REPO_ROOT / "build"


def tidy_stream_outputs(notebook) -> None:
    """Store streams as a reader sees them: adjacent pieces of one stream joined, carriage-return redraws
    (progress bars) reduced to their last state, as JupyterLab does on screen."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            previous = outputs[-1] if outputs else None
            if (output.output_type == "stream" and previous is not None and previous.output_type == "stream"
                    and previous.name == output.name):
                previous.text += output.text
            else:
                outputs.append(output)
        for output in outputs:
            if output.output_type == "stream":
                output.text = re.sub(r"[^\n]*\r(?=[^\n])", "", output.text.replace("\r\n", "\n"))
        cell.outputs = outputs


def execute_notebook(path: Path, timeout: int = 3600, *, record_scores: bool = False) -> dict[str, Any]:
    """Execute one notebook in place (kernel started in its folder); return its timings row without its name: the
    seconds, those of its solutions, the kernel's resident peak and the held (anonymous) peak of the kernel and its
    child processes, with the cell that reached it. With ``record_scores``, the lesson's score recorder runs too."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    recorder = scores.recorder_source(path.stem) if record_scores else None
    if recorder is not None:  # run after the lesson in its kernel; never saved into the notebook
        notebook.cells.append(nbformat.v4.new_code_cell(recorder))
    resources = {"metadata": {"path": str(path.parent)}}
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources=resources)
    sampler: list[PeakSampler] = []

    def start_sampling(**_) -> None:
        sampler.append(PeakSampler(client.km.provisioner.pid).__enter__())

    client.on_notebook_start = start_sampling
    client.on_cell_start = lambda cell_index, **_: sampler[0].mark(cell_index)
    start = time.perf_counter()
    try:
        client.execute()
    finally:  # keep what ran, error included, so the failing cell can be read in place
        if recorder is not None:
            notebook.cells.pop()
        if sampler:
            sampler[0].__exit__()
        tidy_stream_outputs(notebook)
        nbformat.write(notebook, path)
    peaks = sampler[0]
    return {"seconds": round(time.perf_counter() - start, 1), "solution_seconds": round(solution_seconds(notebook), 1),
            "peak_bytes": peaks.peak_resident, "peak_anon_bytes": peaks.peak,
            "peak_anon_cell": max(peaks.peak_by_step, key=peaks.peak_by_step.get)}


def export_html(path: Path, target_dir: Path) -> None:
    """Write an HTML copy of an executed notebook into ``target_dir``."""
    from nbconvert import HTMLExporter

    target_dir.mkdir(parents=True, exist_ok=True)
    body, _ = HTMLExporter().from_filename(str(path))
    (target_dir / f"{path.stem}.html").write_text(body, encoding="utf-8")


def machine_speed() -> float:
    """This machine's fp32 matmul speed now, in GFLOP/s: the same 2 cores run 3x faster on some days than others."""
    import torch

    from programs.bench import measure_matmul_peak

    return round(measure_matmul_peak(seconds=2.0, dtype=torch.float32)["flops_per_second"] / 1e9, 1)


def run_course(notebooks: list[Path] | None = None, *, record: bool = False) -> dict[str, Any]:
    """Execute the notebooks in order, export HTML, record (whole course, or with ``record``: replace these
    lessons' rows, each marked with its date and machine speed) and print the timings."""
    whole_course = notebooks is None or len(notebooks) == len(lesson_notebooks())
    notebooks = notebooks or lesson_notebooks()
    speed, today = machine_speed(), time.strftime("%Y-%m-%d")
    rows = []
    for path in notebooks:
        print(f"running {path.name} ...", flush=True)
        row = {"notebook": path.name, **execute_notebook(path, record_scores=whole_course or record)}
        export_html(path, BUILD_DIR / "html")
        rows.append(row if whole_course else {**row, "date": today, "matmul_gflops": speed})
        print(f"  {row['seconds']:6.1f} s, kernel peak {row['peak_bytes'] / 1e9:.2f} GB resident, "
              f"{row['peak_anon_bytes'] / 1e9:.2f} GB held (cell {row['peak_anon_cell']})", flush=True)
    from helpers.models import resolve_model
    from helpers.runtime import describe_machine

    run = {"date": today, "device": describe_machine(), "model": resolve_model().key, "matmul_gflops": speed,
           "notebooks": rows}
    if not whole_course and record:
        kept = json.loads(readme.TIMINGS_FILE.read_text())
        by_name = {row["notebook"]: row for row in kept["notebooks"] + rows}  # this run's rows replace the kept
        run = {**kept, "notebooks": sorted(by_name.values(), key=lambda row: row["notebook"])}
    run["total_seconds"] = round(sum(row["seconds"] for row in run["notebooks"]), 1)
    if whole_course or record:
        readme.TIMINGS_FILE.write_text(json.dumps(run, indent=2) + "\n")
        readme.update_readme()
    print(readme.timing_table(run))
    return run


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
    parser = argparse.ArgumentParser(prog="python -m instructor.course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute every notebook in order and record timings")
    run.add_argument("notebooks", nargs="*", type=Path, help="only these notebooks (recorded only with --record)")
    run.add_argument("--record", action="store_true", help="replace these notebooks' rows in notebooks/timings.json")
    clean_cmd = commands.add_parser("clean", help="delete outputs/, build/ and the converted-model cache")
    clean_cmd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    if args.command == "run":
        run_course([p.resolve() for p in args.notebooks] or None, record=args.record)
    else:
        clean(confirm=not args.yes)


if __name__ == "__main__":
    main()
