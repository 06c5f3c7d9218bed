"""``python -m instructor.readme``, the only README writer: each generated block is rewritten from the file that owns
its numbers (``notebooks/timings.json`` and ``scores.json`` from ``make course``, ``benchmarks/bench-cpu-*.md`` from
``make bench RECORD=1``, the Binder badge from ``[tool.course] github_repo``); nothing in a block is typed by hand.
"""

from __future__ import annotations

import json
import re
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


def _lesson_link(row: dict[str, Any], folder: Path) -> str:
    """A link to the lesson of a timings row, named by its title."""
    path = folder / row["notebook"]
    return f"[{notebook_title(path) if path.exists() else row['notebook']}](notebooks/{row['notebook']})"


def timing_table(record: dict[str, Any], folder: Path = NOTEBOOK_DIR) -> str:
    """The instructors' table: one run's seconds and memory per lesson (``notebooks/timings.json``)."""
    rows = [{"lesson": _lesson_link(row, folder), "seconds": f"{row['seconds']:.0f}",
             "in solutions": f"{row['solution_seconds']:.0f}", "peak resident": f"{row['peak_bytes'] / 1e9:.2f} GB",
             "peak held": f"{row['peak_anon_bytes'] / 1e9:.2f} GB"} for row in record["notebooks"]]
    in_solutions = sum(row["solution_seconds"] for row in record["notebooks"])
    return "\n".join([
        f"Measured by `make course` on {record['date']}: {record['device']}, model `{record['model']}`, "
        f"{record['total_seconds'] / 60:.1f} minutes for the whole course and each lesson's peak memory"
        + _speed(record) + "." + _run_alone(record),
        "*Resident*: the kernel's peak resident memory, which also counts pages of the weights file the system can "
        "drop and read again. *Held*: the peak of the anonymous memory of the kernel and the processes it starts, "
        "sampled every 20 ms: what a memory limit such as Binder's 2 GB cannot reclaim "
        "(`helpers.memory.process_memory`).",
        "", markdown_table(rows, align=["left", "right", "right", "right", "right"], compact=True), "",
        f"The exercises' solution cells took {in_solutions / 60:.1f} of those minutes; without them the lessons ran "
        f"in {(record['total_seconds'] - in_solutions) / 60:.1f} minutes.",
        "", binder_summary(record, folder),
    ])


def _speed(record: dict[str, Any]) -> str:  # the machine's speed that day: compare times within one run
    gflops = record.get("matmul_gflops")
    return f" (that day its fp32 matmul ran at {gflops:.0f} GFLOP/s; compare times within one run)" if gflops else ""


def _run_alone(record: dict[str, Any]) -> str:  # rows replaced by `python -m instructor.course run NB --record`
    alone = [f"{row['notebook'][:2]} on {row['date']}{_speed(row)}" for row in record["notebooks"] if "date" in row]
    return f" Run on its own later: lesson {', '.join(alone)}." if alone else ""


def lesson_list(record: dict[str, Any], folder: Path = NOTEBOOK_DIR, repo: str | None = None) -> str:
    """The front door's table: each lesson with its Colab badge, its minutes in the last full run and its exercises."""
    repo = repo or configured_repo()
    rows = []
    for row in record["notebooks"]:
        path = folder / row["notebook"]
        rows.append({"lesson": _lesson_link(row, folder), "open in Colab": badge_line(repo, row["notebook"]),
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
        held, cell, path = row["peak_anon_bytes"], row["peak_anon_cell"], folder / row["notebook"]
        if held <= BINDER_HELD_BYTES:
            continue
        where = ""
        if cell >= 0 and path.exists():  # -1: before the first cell
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
    rows = [{
        "system": label,
        "chrF (95% interval)": f"{scores['chrf'][key]:.1f} ± {scores['chrf_ci'][key]:.1f}",
        "reference perplexity": f"{scores['perplexity'][key]:.2f}" if key in scores["perplexity"] else "—",
        "slang-free": f"{scores['slang_free'][key]:.0%}",
        "on task": f"{scores['on_task'][key]:.0%}",
        "facts kept": f"{scores['facts_kept'][key]:.0%}",
    } for key, label in systems.items() if key in scores["chrf"]]  # merged: once lesson 05 has run
    gap = scores["chrf"]["fine_tuned"] - scores["chrf"]["copy_input"]
    showcase = scores["showcase"]
    targets = [f"- {target}: **{'reached' if hit else 'not reached'}**" for target, hit in scores["targets"].items()]
    return "\n".join([
        f"Lesson 04's recipe ({scores['recipe']}), {scores['train_seconds']:.0f} s of training on {scores['device']}; "
        f"all {scores['test_examples']} test messages:", "", markdown_table(rows), "",
        f"Fine-tuned minus copy the input: {gap:+.1f} chrF; sacrebleu's paired bootstrap over the same messages gives "
        f"p = {scores['chrf_p_vs_copy']['fine_tuned']:.3f}.", "",
        "The course's targets for the fine-tuned model on this split:", "",
        *targets,
        "", f"The chapter's example, *{showcase['casual']}*, comes out as *{showcase['fine_tuned']}*",
        *(["", *preference_lines(scores["preference_tuning"])] if "preference_tuning" in scores else []),
        *(["", *shipping_lines(scores["shipping"])] if "shipping" in scores else []),
    ])


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


def shipping_lines(shipping: dict[str, Any]) -> list[str]:
    """Lesson 09's verification table: each shipped file (and runtime) against the glued model it came from."""
    formats = {"identical replies": "{:.0%}", "chrF": "{:.1f}", "tokens/s": "{:.0f}", "MB": "{:.0f}"}
    rows = [{"model": name, **{column: form.format(row[column]) if column in row else "—"
                               for column, form in formats.items()}} for name, row in shipping["rows"].items()]
    targets = [f"- {target}: {result['measured']}, **{'reached' if result['reached'] else 'not reached'}**"
               for target, result in shipping.get("targets", {}).items()]
    return [f"Lesson 09, the translator shipped as GGUF ({' + '.join(shipping['notes'])} glued in), checked on all "
            f"{shipping['test_examples']} test messages against the glued model:", "", markdown_table(rows),
            *(["", "Its targets:", "", *targets] if targets else [])]


def bench_report() -> str | None:
    """The recorded CPU benchmark's markdown (``make bench RECORD=1``), or None if none is recorded."""
    reports = sorted(BENCH_DIR.glob("bench-cpu-*.md"))
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
    blocks = {}
    if TIMINGS_FILE.exists():
        record = json.loads(TIMINGS_FILE.read_text())
        blocks |= {"timings": timing_table(record), "lessons": lesson_list(record, repo=repo)}
    if SCORES_FILE.exists():
        blocks["scores"] = scores_table(json.loads(SCORES_FILE.read_text()))
    if (report := bench_report()) is not None:
        blocks["bench"] = report
    return changed + [name for name, body in blocks.items() if replace_marked_block(readme, name, body)]


if __name__ == "__main__":
    print("README blocks rewritten:", ", ".join(update_readme()) or "none (all up to date)")
