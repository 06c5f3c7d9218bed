"""Before class, on your own CUDA machine (``make gpu-check``): every lesson in quick mode and ``programs.bench``,
summed up in ``results/gpu-check.{json,md}``; exit status 1 when anything failed or a memory prediction is off by
more than :data:`TOLERANCE`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from helpers import runtime
from helpers.paths import REPO_ROOT
from helpers.tables import markdown_table

RESULTS_DIR = REPO_ROOT / "results"
TOLERANCE = 0.20
"""A memory prediction counts as right when it is within ±20% of the measured peak (lesson 06's claim)."""
GB = 1e9


def lesson_results(junit_xml: Path) -> list[dict[str, Any]]:
    """One row per test case of pytest's JUnit XML report: test id, status, seconds, and why it failed."""
    rows = []
    for case in ET.parse(junit_xml).getroot().iter("testcase"):
        problem = next((case.find(tag) for tag in ("failure", "error") if case.find(tag) is not None), None)
        status = "failed" if problem is not None else "skipped" if case.find("skipped") is not None else "passed"
        rows.append({"test": case.get("name", "?"), "status": status, "seconds": float(case.get("time", 0)),
                     "message": (problem.get("message") or "")[:500] if problem is not None else ""})
    return rows


def memory_rows(bench: dict[str, Any]) -> list[dict[str, Any]]:
    """Per method of a ``programs.bench`` record: predicted and measured peak, the relative error, within tolerance?"""
    rows = []
    for row in bench["memory"]:
        error = row["predicted_bytes"] / row["measured_bytes"] - 1
        rows.append({"method": row["method"], "predicted_bytes": row["predicted_bytes"],
                     "measured_bytes": row["measured_bytes"], "error": error, "within": abs(error) <= TOLERANCE})
    return rows


def peak_bytes(bench: dict[str, Any]) -> int:
    """The largest peak the benchmark measured, over its memory runs and its two training runs."""
    return max([row["measured_bytes"] for row in bench["memory"]] + [row["peak_bytes"] for row in bench["speed"]])


def summarise(lessons: list[dict[str, Any]], bench: dict[str, Any] | None, bench_error: str,
              device: str, seconds: float) -> dict[str, Any]:
    """The results record: what ran, how it went, and one verdict (``passed``)."""
    memory = memory_rows(bench) if bench else []
    passed = (bool(lessons) and all(row["status"] == "passed" for row in lessons) and bench is not None
              and all(row["within"] for row in memory))
    return {"device": device, "date": time.strftime("%Y-%m-%d %H:%M"), "seconds": round(seconds),
            "passed": passed, "lessons": lessons, "memory": memory, "bench_error": bench_error,
            "peak_gpu_bytes": peak_bytes(bench) if bench else None,
            "measured_how": bench["memory"][0].get("measured_how", "") if bench else ""}


def render_markdown(summary: dict[str, Any]) -> str:
    """The record as the markdown page an instructor reads."""
    verdict = "**passed**" if summary["passed"] else "**FAILED**"
    lines = [f"# GPU check: {verdict}", "", f"{summary['device']}, {summary['date']}, "
             f"{summary['seconds'] / 60:.1f} min.", "",
             "## Lessons (`COURSE_QUICK=1 pytest tests/test_lessons.py`)", ""]
    lines.append(markdown_table([{"test": row["test"], "status": row["status"], "seconds": f"{row['seconds']:.0f}",
                                  "why": row["message"].splitlines()[0] if row["message"] else ""}
                                 for row in summary["lessons"]], align=["left", "left", "right", "left"])
                 if summary["lessons"] else "No lesson ran (see the log above).")
    lines += ["", "## Benchmark (`python -m programs.bench`)", ""]
    if summary["bench_error"]:
        lines.append(f"The benchmark failed:\n\n```\n{summary['bench_error']}\n```")
    else:
        lines += [f"Peak GPU memory: **{summary['peak_gpu_bytes'] / GB:.2f} GB** ({summary['measured_how']}).", "",
                  markdown_table([{"method": row["method"], "predicted": f"{row['predicted_bytes'] / GB:.2f} GB",
                                   "measured": f"{row['measured_bytes'] / GB:.2f} GB", "error": f"{row['error']:+.0%}",
                                   f"within ±{TOLERANCE:.0%}": "yes" if row["within"] else "NO"}
                                  for row in summary["memory"]])]
    return "\n".join(lines) + "\n"


def run_lessons(junit_xml: Path) -> list[dict[str, Any]]:
    """``COURSE_QUICK=1 pytest tests/test_lessons.py``, its output shown as it runs; the rows of its report."""
    command = [sys.executable, "-m", "pytest", "tests/test_lessons.py", "-q", f"--junitxml={junit_xml}"]
    subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, "COURSE_QUICK": "1"}, check=False)
    return lesson_results(junit_xml) if junit_xml.is_file() else []


def run_bench(folder: Path) -> tuple[dict[str, Any] | None, str]:
    """``python -m programs.bench --out folder``: its results record, or None and the end of its error output."""
    command = [sys.executable, "-m", "programs.bench", "--out", str(folder)]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    print(done.stdout[-4000:])
    records = sorted(folder.glob("bench-*.json"))
    if done.returncode != 0 or not records:
        return None, (done.stderr or done.stdout)[-3000:] or f"exit status {done.returncode}"
    return json.loads(records[-1].read_text()), ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for gpu-check.{json,md} (results/)")
    parser.add_argument("--allow-cpu", action="store_true", help="run without CUDA too (a rehearsal: slow)")
    options = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available() and not options.allow_cpu:
        parser.error("no CUDA device here: the GPU check is for a CUDA machine (--allow-cpu to rehearse)")
    options.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    lessons = run_lessons(options.out / "gpu-check-lessons.xml")
    bench, bench_error = run_bench(options.out / "gpu-check-bench")
    summary = summarise(lessons, bench, bench_error, runtime.describe_machine(), time.perf_counter() - start)
    (options.out / "gpu-check.json").write_text(json.dumps(summary, indent=2) + "\n")
    (options.out / "gpu-check.md").write_text(render_markdown(summary))
    print(render_markdown(summary), f"written: {options.out / 'gpu-check.md'} and .json", sep="\n")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
