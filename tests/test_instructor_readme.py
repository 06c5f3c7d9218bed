"""The one README writer: every generated block is rewritten from the file that owns its numbers."""

import json
import shutil
from pathlib import Path

import pytest

from instructor import readme
from instructor.links import configured_repo

RECORD = {
    "date": "2026-11-28",
    "device": "cpu (AMD EPYC, 2 cores, x86_64)",
    "model": "smollm2",
    "total_seconds": 150.0,
    "notebooks": [
        {"notebook": "00_environment.ipynb", "seconds": 30.4, "solution_seconds": 6.0, "peak_bytes": 1.05e9,
         "peak_anon_bytes": 0.37e9, "peak_anon_cell": 3},
        {"notebook": "01_x.ipynb", "seconds": 119.6, "solution_seconds": 54.0, "peak_bytes": 2.17e9,
         "peak_anon_bytes": 0.94e9, "peak_anon_cell": -1},
    ],
}
FORK = "a-learner/peft-course-fork"


def block(name: str, body: str) -> str:
    start, end = readme.BLOCKS[name]
    return f"{start}\n{body}\n{end}"


def table_rows(table: str) -> list[str]:
    return [line for line in table.splitlines() if line.startswith("|")]


def test_timing_table_has_one_row_per_notebook():
    table = readme.timing_table(RECORD)
    summary = table.splitlines()[0]
    assert all(part in summary for part in ("2026-11-28", RECORD["device"], "`smollm2`", "2.5 minutes"))
    rows = table_rows(table)
    assert rows[0] == "| lesson | seconds | in solutions | peak resident | peak held |"
    assert len(rows) == 2 + len(RECORD["notebooks"])  # header, separator, one row each
    assert rows[2] == ("| [00 · The Workbench: your environment](notebooks/00_environment.ipynb) | 30 | 6 | 1.05 GB "
                       "| 0.37 GB |")
    assert rows[3] == "| [01_x.ipynb](notebooks/01_x.ipynb) | 120 | 54 | 2.17 GB | 0.94 GB |"
    assert table.endswith("Every lesson held at most 1.8 GB: each fits in Binder's ~2 GB.")


def test_lesson_list_opens_each_lesson_in_colab():
    rows = table_rows(readme.lesson_list(RECORD))
    assert rows[0] == "| lesson | open in Colab | minutes on cpu | exercises |"
    for row, expected in zip(rows[2:], RECORD["notebooks"], strict=True):
        assert f"(notebooks/{expected['notebook']})" in row and f"| {expected['seconds'] / 60:.1f} |" in row
        assert f"colab.research.google.com/github/{configured_repo()}/blob/main/notebooks/{expected['notebook']}" in row
    assert rows[2].endswith("| ★ |") and rows[3].endswith("| |"), "exercises: read from the lesson, if it exists"


def test_replace_marked_block_replaces_only_the_block(tmp_path):
    path = tmp_path / "README.md"
    path.write_text(f"# Title\n\n{block('timings', 'old table')}\n\n## After\n")
    assert readme.replace_marked_block(path, "timings", "new table\n")
    once = path.read_text()
    assert once == f"# Title\n\n{block('timings', 'new table')}\n\n## After\n"
    assert not readme.replace_marked_block(path, "timings", "new table")
    assert path.read_text() == once


@pytest.mark.parametrize("text", ["# no markers\n", f"only the start {readme.BLOCKS['bench'][0]}\n"])
def test_replace_marked_block_without_markers(tmp_path, text):
    path = tmp_path / "README.md"
    path.write_text(text)
    with pytest.raises(ValueError, match="no bench block"):
        readme.replace_marked_block(path, "bench", "x")
    assert path.read_text() == text


@pytest.fixture
def sources(tmp_path, monkeypatch):
    """A README with every block, and the source files it is pulled from, in a temp folder."""
    timings, scores, bench = tmp_path / "timings.json", tmp_path / "scores.json", tmp_path / "benchmarks"
    bench.mkdir()
    monkeypatch.setattr(readme, "TIMINGS_FILE", timings)
    monkeypatch.setattr(readme, "SCORES_FILE", scores)
    monkeypatch.setattr(readme, "BENCH_DIR", bench)
    path = tmp_path / "README.md"
    path.write_text("\n\n".join([
        "[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/old/repo/main?urlpath=lab)",
        block("lessons", "old"), block("timings", "old"), block("scores", "old"), block("bench", "old"),
    ]) + "\n")
    return path, timings, scores, bench


def test_update_readme_pulls_each_block_from_its_file(sources):
    path, timings, _, bench = sources
    assert readme.update_readme(path, repo=FORK) == ["binder"], "no source files: only the Binder link changes"
    timings.write_text(json.dumps(RECORD))
    (bench / "bench-cpu-2-cores.md").write_text("the bench table\n")
    assert readme.update_readme(path, repo=FORK) == ["timings", "lessons", "bench"]
    text = path.read_text()
    assert block("timings", readme.timing_table(RECORD)) in text
    assert block("lessons", readme.lesson_list(RECORD, repo=FORK)) in text
    assert block("bench", "the bench table") in text
    assert block("scores", "old") in text, "a block without its source file is left alone"
    assert "https://mybinder.org/v2/gh/a-learner/peft-course-fork/main?urlpath=lab" in text
    assert readme.update_readme(path, repo=FORK) == [], "a second run changes nothing"


def test_scores_block_reads_the_score_record(sources):
    path, _, scores, _ = sources
    scores.write_text(json.dumps({
        "recipe": "r=16, lr 1e-3, 56 steps", "train_seconds": 250.0, "device": "cpu", "test_examples": 100,
        "chrf": {"copy_input": 20.0, "base": 25.0, "fine_tuned": 40.0},
        "chrf_ci": {"copy_input": 1.0, "base": 1.5, "fine_tuned": 2.0},
        "perplexity": {"base": 9.5, "fine_tuned": 4.25},
        "slang_free": {"copy_input": 0.1, "base": 0.5, "fine_tuned": 0.9},
        "on_task": {"copy_input": 1.0, "base": 0.6, "fine_tuned": 0.95},
        "facts_kept": {"copy_input": 1.0, "base": 0.7, "fine_tuned": 0.8},
        "chrf_p_vs_copy": {"base": 0.02, "fine_tuned": 0.001},
        "targets": {"chrF above copying": True, "slang-free 90%": False},
        "showcase": {"casual": "gonna be late lol", "fine_tuned": "I will be late."},
    }))
    assert "scores" in readme.update_readme(path, repo=FORK)
    text = path.read_text()
    assert "all 100 test messages" in text and "40.0 ± 2.0" in text and "4.25" in text
    assert "merged" not in text, "a system without a score gets no row"
    assert "copy the input: +20.0 chrF; sacrebleu's paired bootstrap over the same messages gives p = 0.001." in text
    assert "- chrF above copying: **reached**\n- slang-free 90%: **not reached**" in text
    assert "*gonna be late lol*, comes out as *I will be late.*" in text


def test_readme_timing_block_matches_the_last_run():
    if not readme.TIMINGS_FILE.exists():
        pytest.skip(f"{readme.TIMINGS_FILE.name} does not exist yet: `make course` writes it and the README table")
    record = json.loads(readme.TIMINGS_FILE.read_text())
    start, end = readme.BLOCKS["timings"]
    written = readme.README.read_text().split(start, 1)[1].split(end, 1)[0]
    assert written.strip() == readme.timing_table(record), "the README is stale: run `python -m instructor.readme`"


def test_readme_bench_block_matches_the_recorded_benchmark():
    report = readme.bench_report()
    if report is None:
        pytest.skip("no recorded benchmark yet: `make bench RECORD=1` writes it")
    start, end = readme.BLOCKS["bench"]
    written = readme.README.read_text().split(start, 1)[1].split(end, 1)[0]
    assert written.strip() == report.strip(), "the README benchmark is stale: run `python -m instructor.readme`"


def test_binder_summary_names_the_lessons_over_the_line_and_their_cell(tmp_path):
    shutil.copy(readme.NOTEBOOK_DIR / "07_going_further.ipynb", tmp_path)
    import nbformat

    cells = nbformat.read(tmp_path / "07_going_further.ipynb", as_version=4).cells
    solution = next(i for i, c in enumerate(cells) if "solution" in c.metadata.get("tags", []))
    rows = [{**RECORD["notebooks"][0], "peak_anon_bytes": 400e6},
            {**RECORD["notebooks"][1], "notebook": "07_going_further.ipynb", "peak_anon_bytes": 3.08e9,
             "peak_anon_cell": solution}]
    summary = readme.binder_summary({**RECORD, "notebooks": rows}, tmp_path)
    expected = f"lesson 07 (3.08 GB, cell {solution}, an exercise's solution)."
    assert summary == f"Held more than 1.8 GB in this run: {expected}"
    assert readme.binder_summary({**RECORD, "notebooks": rows[:1]}, tmp_path).startswith("Every lesson held at most")
    assert summary in readme.timing_table({**RECORD, "notebooks": rows}, tmp_path)


def test_every_lesson_of_the_last_run_fits_binder_or_starts_fewer_processes_there():
    """Binder gives a notebook ~2 GB. Only a cell that starts fewer training processes where memory is short
    (lesson 07's launch and exercise ★★, under 4 GB) may hold more on the course machine."""
    if not readme.TIMINGS_FILE.exists():
        pytest.skip(f"{readme.TIMINGS_FILE.name} does not exist yet: `make course` writes it")
    import nbformat

    for row in json.loads(readme.TIMINGS_FILE.read_text())["notebooks"]:
        if row["peak_anon_bytes"] <= readme.BINDER_HELD_BYTES:
            continue
        cell = nbformat.read(readme.NOTEBOOK_DIR / row["notebook"], as_version=4).cells[row["peak_anon_cell"]]
        adapts = "room_for_two_cpu_processes()" in cell.source or "training_processes()" in cell.source
        held = row["peak_anon_bytes"] / 1e9
        assert adapts, (f"{row['notebook']} held {held:.2f} GB in cell {row['peak_anon_cell']}: more than a Binder "
                        f"notebook can ({readme.BINDER_HELD_BYTES / 1e9:.1f} GB)")


def timed_notebook(cells):
    """A notebook whose code cells ran for the given seconds, as nbclient records it; ``tags`` marks solutions."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    for seconds, tags in cells:
        cell = nbformat.v4.new_code_cell("pass")
        if seconds is not None:
            cell.metadata["execution"] = {"iopub.execute_input": "2026-11-29T06:00:00.000000Z",
                                          "shell.execute_reply": f"2026-11-29T06:00:{seconds:06.3f}Z"}
        cell.metadata["tags"] = tags
        notebook.cells.append(cell)
    return notebook


def test_solution_seconds_add_up_the_solution_cells_only():
    from instructor.notebooks import solution_seconds

    ran = timed_notebook([(20.0, []), (12.5, ["solution"]), (3.0, ["solution", "x"])])
    assert solution_seconds(ran) == pytest.approx(15.5)
    never_ran = timed_notebook([(2.0, ["solution"]), (None, [])])
    assert solution_seconds(never_ran) is None, "without every cell's time the split would be a guess"


def test_timing_table_says_what_the_solutions_cost():
    table = readme.timing_table(RECORD)
    assert "solution cells took 1.0 of those minutes; without them the lessons ran in 1.5 minutes." in table


def test_scores_block_shows_lesson_08_when_recorded():
    import pandas as pd
    from trl import DPOConfig

    from instructor import scores

    lens = {"chrf": 40.0, "chrf_ci": 3.0, "slang_free": 0.98, "on_task": 0.97, "facts_kept": 0.95}
    namespace = {
        "held_out_triples": [{}] * 45, "preference_accuracy": {"SFT": 0.5, "SFT + DPO": 0.8}, "preference_p": 0.001,
        "test_pairs": [{"casual": "Yo, I ain't doing that."}] * 111, "chrf_p": 0.3,
        "scores": {"SFT": lens, "SFT + DPO": {**lens, "chrf": 39.5}},
        "politeness_table": pd.DataFrame({"messages": [12, 11], "SFT": [0.25, 0.5], "SFT + DPO": [0.75, 0.5]},
                                         index=["declining", "pushing back"]),
        "targets": pd.DataFrame([("chrF ≥ SFT - 1.0", "-0.5", True), ("facts kept ≥ 90%", "85%", False)],
                                columns=["target", "measured", "reached"]),
        "training_args": DPOConfig(output_dir="unused", beta=0.1, loss_type=["sigmoid", "sft"], learning_rate=2e-4,
                                   per_device_train_batch_size=1, gradient_accumulation_steps=4, bf16=False),
        "train_seconds": 120.0, "steps": 30,
        "replies": {"SFT": ["I'm not doing that."], "SFT + DPO": ["I'm afraid not."]},
    }
    record = scores.lesson_08_record(namespace)["preference_tuning"]
    assert record["recipe"] == "DPO sigmoid+sft, beta 0.1, lr 0.0002, 30 steps x 4"
    assert record["polite"]["pushing_back"] == {"sft": 0.5, "dpo": 0.5}
    text = "\n".join(readme.preference_lines(record))
    row = next(line for line in text.splitlines() if line.startswith("| SFT + DPO note"))
    assert [cell.strip() for cell in row.strip("|").split("|")] == ["SFT + DPO note", "80%", "39.5 ± 3.0", "98%", "95%",
                                                                   "75%", "50%"]
    assert "- facts kept ≥ 90%: **not reached**" in text and "*I'm afraid not.*" in text
    with pytest.raises(KeyError, match="steps"):
        scores.lesson_08_record({k: v for k, v in namespace.items() if k != "steps"})


def test_scores_block_shows_lesson_09_verification_when_recorded():
    import pandas as pd

    from instructor import scores

    table = pd.DataFrame({"glued model": {"identical replies": 1.0, "chrF": 41.9, "tokens/s": 60.0, "MB": 538.1},
                          "GGUF q8_0, llama.cpp": {"identical replies": 0.7, "chrF": 40.9, "tokens/s": 61.2,
                                                   "MB": 144.8},
                          "glued model, one at a time": {"identical replies": float("nan"), "chrF": float("nan"),
                                                         "tokens/s": 11.5, "MB": 538.1}}).T
    targets = pd.DataFrame([("q8_0: chrF within 0.5 of the glued model's", "+0.90 (paired p = 0.04)", False)],
                           columns=["target", "measured", "reached"])
    namespace = {"table": table, "casual": ["m"] * 111, "notes": [Path("outputs/corporate-translator-adapter")],
                 "targets": targets}
    record = scores.lesson_09_record(namespace)["shipping"]
    assert record["rows"]["glued model, one at a time"] == {"tokens/s": 11.5, "MB": 538.1}, "no value, no key"
    text = "\n".join(readme.shipping_lines(record))
    row = next(line for line in text.splitlines() if line.startswith("| GGUF q8_0, llama.cpp"))
    assert [cell.strip() for cell in row.strip("|").split("|")] == ["GGUF q8_0, llama.cpp", "70%", "40.9", "61", "145"]
    single = next(line for line in text.splitlines() if line.startswith("| glued model, one at a time"))
    assert "—" in single and "all 111 test messages" in text and "corporate-translator-adapter glued in" in text
    assert "- q8_0: chrF within 0.5 of the glued model's: +0.90 (paired p = 0.04), **not reached**" in text
    with pytest.raises(KeyError, match="notes"):
        scores.lesson_09_record({"table": table, "casual": []})
