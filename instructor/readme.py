"""The README's generated blocks, each pulled from the file that owns its numbers.

| block | source | written by |
|---|---|---|
| the front door's lesson list (Colab links, minutes, exercises) | ``notebooks/timings.json`` | ``make course`` |
| the instructors' lesson table (seconds, memory) | ``notebooks/timings.json`` | ``make course`` |
| the Corporate Translator's scores | ``notebooks/scores.json`` | ``make course`` (``instructor.scores``) |
| memory and speed | ``benchmarks/bench-cpu-*.md`` | ``make bench RECORD=1`` |
| Binder badge | ``pyproject.toml`` ``[tool.course] github_repo`` | ``make colab-links`` |

``python -m instructor.readme`` rewrites every block from its source; nothing in a block is typed by hand.
It is the only code that writes the README (``make course``, ``make bench RECORD=1`` and ``make colab-links``
all end here).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from helpers.paths import REPO_ROOT
from helpers.tables import markdown_table
from instructor.links import badge_line, configured_repo
from instructor.notebooks import NOTEBOOK_DIR, SOLUTION_TAG, exercise_levels, notebook_title
from instructor.scores import SCORES_FILE

README = REPO_ROOT / "README.md"
TIMINGS_FILE = NOTEBOOK_DIR / "timings.json"
BENCH_DIR = REPO_ROOT / "benchmarks"
BINDER_HELD_BYTES = 1_800_000_000
"""What a lesson may hold (the table's *held* column) to run in Binder's ~2 GB with a little room."""
BLOCKS = {
    "lessons": ("<!-- lessons:start (written by `make course`) -->", "<!-- lessons:end -->"),
    "timings": ("<!-- timings:start (written by `make course`) -->", "<!-- timings:end -->"),
    "scores": ("<!-- scores:start (written by `make course`, from notebooks/scores.json) -->", "<!-- scores:end -->"),
    "bench": ("<!-- bench:start (written by `make bench RECORD=1`) -->", "<!-- bench:end -->"),
}
BINDER_URL = re.compile(r"https://mybinder\.org/v2/gh/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/main")


def replace_marked_block(path: Path, name: str, body: str) -> bool:
    """Rewrite what lies between block ``name``'s two markers in ``path``; return whether it changed."""
    start, end = BLOCKS[name]
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path} has no {name} block ({start} ... {end})")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{start}\n{body.rstrip()}\n{end}{tail}"
    if new != text:
        path.write_text(new)
    return new != text


def timing_table(record: dict[str, Any], folder: Path = NOTEBOOK_DIR, repo: str | None = None) -> str:
    """Markdown table of the lessons with one run's timings (``notebooks/timings.json``) and Colab links."""
    peak = all("peak_bytes" in r for r in record["notebooks"])
    held = all("peak_anon_bytes" in r for r in record["notebooks"])
    lines = [
        f"Measured by `make course` on {record['date']}: {record['device']}, model `{record['model']}`, "
        f"{record['total_seconds'] / 60:.1f} minutes for the whole course"
        + (" and each lesson's peak memory" if peak or held else "") + ".",
    ]
    if held:
        lines.append("*Resident*: the kernel's peak resident memory, which also counts pages of the weights file "
                     "the system can drop and read again. *Held*: the peak of the anonymous memory of the kernel "
                     "and the processes it starts, sampled every 20 ms: what a memory limit such as Binder's "
                     "2 GB cannot reclaim (`helpers.memory.process_memory`).")
    solutions = [row.get("solution_seconds") for row in record["notebooks"]]
    split = all(seconds is not None for seconds in solutions)
    repo = repo or configured_repo()
    rows = []
    for row, in_solutions in zip(record["notebooks"], solutions, strict=True):
        path = folder / row["notebook"]
        title = notebook_title(path) if path.exists() else row["notebook"]
        cells = {"lesson": f"[{title}](notebooks/{row['notebook']})",
                 "Colab": badge_line(repo, row["notebook"]), "seconds": f"{row['seconds']:.0f}"}
        if split:
            cells["in solutions"] = f"{in_solutions:.0f}"
        if peak:
            cells["peak resident"] = f"{row['peak_bytes'] / 1e9:.2f} GB"
        if held:
            cells["peak held"] = f"{row['peak_anon_bytes'] / 1e9:.2f} GB"
        cells["exercises"] = ", ".join(exercise_levels(path)) if path.exists() else ""
        rows.append(cells)
    lines += ["", markdown_table(rows, align=["left", "left", *["right"] * (len(rows[0]) - 3), "left"], compact=True)]
    if split:
        in_solutions = sum(solutions)
        lines += ["", f"The exercises' solution cells took {in_solutions / 60:.1f} of those minutes; without them "
                      f"the lessons ran in {(record['total_seconds'] - in_solutions) / 60:.1f} minutes."]
    if held:
        lines += ["", binder_summary(record, folder)]
    return "\n".join(lines)


def lesson_list(record: dict[str, Any], folder: Path = NOTEBOOK_DIR, repo: str | None = None) -> str:
    """The front door's table: each lesson with its Colab badge, its minutes in the last full run and its exercises."""
    repo = repo or configured_repo()
    rows = []
    for row in record["notebooks"]:
        path = folder / row["notebook"]
        rows.append({"lesson": f"[{notebook_title(path) if path.exists() else row['notebook']}]"
                               f"(notebooks/{row['notebook']})",
                     "open in Colab": badge_line(repo, row["notebook"]),
                     f"minutes on {record['device'].split(' ')[0]}": f"{row['seconds'] / 60:.1f}",
                     "exercises": ", ".join(exercise_levels(path)) if path.exists() else ""})
    table = markdown_table(rows, align=["left", "left", "right", "left"], compact=True)
    return (f"{table}\n\nMinutes from the last full run of every lesson ({record['date']}, {record['device']}, "
            f"model `{record['model']}`); the instructor notes below have the details.")


def binder_summary(record: dict[str, Any], folder: Path = NOTEBOOK_DIR) -> str:
    """One sentence: which lessons held more than :data:`BINDER_HELD_BYTES`, and in which cell."""
    import nbformat

    over = []
    for row in record["notebooks"]:
        held, cell, path = row["peak_anon_bytes"], row.get("peak_anon_cell"), folder / row["notebook"]
        if held <= BINDER_HELD_BYTES:
            continue
        where = ""
        if cell is not None and cell >= 0 and path.exists():
            tags = nbformat.read(path, as_version=4).cells[cell].metadata.get("tags", [])
            where = f", cell {cell}" + (", an exercise's solution" if SOLUTION_TAG in tags else "")
        over.append(f"{row['notebook'][:2]} ({held / 1e9:.2f} GB{where})")
    limit = f"{BINDER_HELD_BYTES / 1e9:.1f} GB"
    if not over:
        return f"Every lesson held at most {limit}: each fits in Binder's ~2 GB."
    return f"Held more than {limit} in this run: lesson " + ", ".join(over) + "."


def scores_table(scores: dict[str, Any]) -> str:
    """The Corporate Translator's scores on the whole test split, one row per system (``notebooks/scores.json``)."""

    systems = {"copy_input": "copy the input", "base": "base model", "fine_tuned": "fine-tuned (adapter)",
               "merged": "merged model (what ships)"}
    rows = []
    for key, label in systems.items():
        if key not in scores["chrf"]:
            continue
        perplexity = scores.get("perplexity", {}).get(key)
        rows.append({
            "system": label,
            "chrF (95% interval)": f"{scores['chrf'][key]:.1f} ± {scores['chrf_ci'][key]:.1f}",
            "reference perplexity": f"{perplexity:.2f}" if perplexity is not None else "—",
            "slang-free": f"{scores['slang_free'][key]:.0%}",
            "on task": f"{scores['on_task'][key]:.0%}",
            "facts kept": f"{scores['facts_kept'][key]:.0%}",
        })
    table = markdown_table(rows)
    targets = "\n".join(f"- {target}: **{'reached' if reached else 'not reached'}**"
                        for target, reached in scores.get("targets", {}).items())
    showcase = scores.get("showcase", {})
    lines = [f"Lesson 04's recipe ({scores['recipe']}), {scores['train_seconds']:.0f} s of training on "
             f"{scores['device']}; all {scores['test_examples']} test messages:", "", table]
    p_vs_copy = scores.get("chrf_p_vs_copy", {}).get("fine_tuned")
    if p_vs_copy is not None:
        gap = scores["chrf"]["fine_tuned"] - scores["chrf"]["copy_input"]
        lines += ["", f"Fine-tuned minus copy the input: {gap:+.1f} chrF; sacrebleu's paired bootstrap over the same "
                      f"messages gives p = {p_vs_copy:.3f}."]
    if targets:
        lines += ["", "The course's targets for the fine-tuned model on this split:", "", targets]
    if showcase:
        lines += ["", f"The chapter's example, *{showcase['casual']}*, comes out as *{showcase['fine_tuned']}*"]
    if "preference_tuning" in scores:
        lines += ["", *preference_lines(scores["preference_tuning"])]
    return "\n".join(lines)


def preference_lines(dpo: dict[str, Any]) -> list[str]:
    """Lesson 08's SFT vs SFT + DPO rows and the targets' outcome, for the scores block."""
    rows = [{"system": label, "held-out preference accuracy": f"{dpo['preference_accuracy'][key]:.0%}",
             "chrF (95% interval)": f"{dpo['chrf'][key]:.1f} ± {dpo['chrf_ci'][key]:.1f}",
             "slang-free": f"{dpo['slang_free'][key]:.0%}", "facts kept": f"{dpo['facts_kept'][key]:.0%}",
             **{f"polite, {kind.replace('_', ' ')}": f"{shares[key]:.0%}" for kind, shares in dpo["polite"].items()}}
            for key, label in (("sft", "SFT translator"), ("dpo", "SFT + DPO note"))]
    targets = [f"- {target}: **{'reached' if reached else 'not reached'}**"
               for target, reached in dpo["targets"].items()]
    return [f"Lesson 08, preference tuning ({dpo['recipe']}, {dpo['train_seconds']:.0f} s of training): "
            f"{dpo['held_out_triples']} held-out triples (sign test p = {dpo['preference_p']:.3f}) and "
            f"{dpo['test_examples']} test messages (chrF paired bootstrap p = {dpo['chrf_p_vs_sft']:.3f}):", "",
            markdown_table(rows), "", "Its targets:", "", *targets, "",
            f"The chapter's example after DPO: *{dpo['showcase']['dpo']}*"]


def bench_report(folder: Path | None = None) -> str | None:
    """The recorded CPU benchmark's markdown (``make bench RECORD=1``), or None if none is recorded."""
    reports = sorted((folder or BENCH_DIR).glob("bench-cpu-*.md"))
    return reports[0].read_text() if reports else None


def point_binder_links(readme: Path, repo: str) -> bool:
    """Point every Binder link in ``readme`` at ``repo``'s main branch; return whether the file changed."""
    text = readme.read_text()
    new = BINDER_URL.sub(f"https://mybinder.org/v2/gh/{repo}/main", text)
    if new != text:
        readme.write_text(new)
    return new != text


def update_readme(readme: Path = README, repo: str | None = None) -> list[str]:
    """Rewrite every generated block whose source file exists; return the names of the blocks that changed."""
    repo = repo or configured_repo()
    changed = ["binder"] if point_binder_links(readme, repo) else []
    if TIMINGS_FILE.exists():
        record = json.loads(TIMINGS_FILE.read_text())
        if replace_marked_block(readme, "timings", timing_table(record, repo=repo)):
            changed.append("timings")
        if replace_marked_block(readme, "lessons", lesson_list(record, repo=repo)):
            changed.append("lessons")
    scores = json.loads(SCORES_FILE.read_text()) if SCORES_FILE.exists() else None
    if scores is not None and replace_marked_block(readme, "scores", scores_table(scores)):
        changed.append("scores")
    report = bench_report()
    if report is not None and replace_marked_block(readme, "bench", report):
        changed.append("bench")
    return changed


if __name__ == "__main__":
    print("README blocks rewritten:", ", ".join(update_readme()) or "none (all up to date)")
    sys.exit(0)
