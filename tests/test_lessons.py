"""Every lesson runs top to bottom (shortened under ``make test``), and every exercise's check cell catches an
empty answer: it is run once *before* its worked solution, where it must fail with an ``AssertionError`` whose
message helps, then after it, where it must pass. One execution of each lesson proves both.

Lesson 05 runs as a learner who opens it from its badge finds it: with no adapter from lesson 04, it trains one
with the course's script. That one run tests the script's real run, what it saves, and lesson 05 on its adapter.

The last test runs lessons 01-05 on a small random model with TinyLlama's proportions (``COURSE_MODEL=
tinyllama-shaped``), so that no lesson relies on a fact of the embedded 135M model that TinyLlama does not share.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from helpers import artifacts, lora, models, recipe, run_size
from instructor.notebooks import CHECK_TAG, SOLUTION_TAG, lesson_notebooks
from programs import train

LESSONS = lesson_notebooks()
CHAPTER_LESSONS = [p for p in LESSONS if p.name[:2] in {"01", "02", "03", "04", "05"}]
LESSON_05 = next(p for p in LESSONS if p.name.startswith("05"))
# Lessons 08 and 09 use what lessons 04 and 08 leave in the output folder. On `make test`'s workers
# (pytest-xdist, --dist loadscope) a class is one unit of work: its tests run on one worker, in this order.
USES_EARLIER_OUTPUTS = {"04", "08", "09"}
SHARING = [p for p in LESSONS if p.name[:2] in USES_EARLIER_OUTPUTS]
ON_THEIR_OWN = [p for p in LESSONS if p not in SHARING and p != LESSON_05]
FAILURES_A_CHECK_MAY_RAISE = {"AssertionError", "MissingAnswer"}


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def check_before_solution(cells, index: int) -> int | None:
    """For the first solution cell of an exercise, the index of the check cell that follows its solution cells."""
    if SOLUTION_TAG not in tags(cells[index]) or (index and SOLUTION_TAG in tags(cells[index - 1])):
        return None
    for later in range(index + 1, len(cells)):
        if CHECK_TAG in tags(cells[later]):
            return later
        if SOLUTION_TAG not in tags(cells[later]):
            return None
    return None


def run_lesson(path) -> tuple[list[str], nbformat.NotebookNode]:
    """Execute the lesson cell by cell in a fresh kernel; return one line per check cell proven both ways, and the
    executed notebook."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=1200, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    proven = []
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            check = check_before_solution(notebook.cells, index)
            if check is not None:
                empty = notebook.cells[check].copy()
                with pytest.raises(CellExecutionError) as failed:
                    client.execute_cell(empty, check)
                assert failed.value.ename in FAILURES_A_CHECK_MAY_RAISE, (
                    f"{path.name} cell {check}: before its solution, the check cell raised {failed.value.ename} "
                    f"({failed.value.evalue}); it should fail with an assert and a message that helps")
                assert str(failed.value.evalue).strip(), f"{path.name} cell {check}: the failing check says nothing"
                proven.append(f"cell {check}: {failed.value.evalue}")
            client.execute_cell(cell, index)
    return proven, notebook


def run_and_prove_every_check(path) -> nbformat.NotebookNode:
    proven, notebook = run_lesson(path)
    exercises = sum(CHECK_TAG in tags(cell) for cell in notebook.cells)
    assert len(proven) == exercises, f"{path.name}: {exercises} check cells, {len(proven)} ran before a solution"
    return notebook


def printed(notebook, marker: str) -> str:
    """What the one code cell whose source contains ``marker`` printed."""
    cells = [cell for cell in notebook.cells if cell.cell_type == "code" and marker in cell.source]
    assert len(cells) == 1, f"expected one code cell with {marker!r}, found {len(cells)}"
    return "".join(output.get("text", "") for output in cells[0].outputs if output.output_type == "stream")


@pytest.mark.heavy
@pytest.mark.parametrize("path", ON_THEIR_OWN, ids=lambda p: p.stem)
def test_lesson_runs_and_each_check_catches_an_empty_answer(path):
    run_and_prove_every_check(path)


@pytest.mark.heavy
class TestLessonsThatShareOutputs:
    @pytest.mark.parametrize("path", SHARING, ids=lambda p: p.stem)
    def test_lesson_runs_and_each_check_catches_an_empty_answer(self, path):
        run_and_prove_every_check(path)


@pytest.mark.heavy
class TestLesson05OpenedAlone:
    def test_it_trains_the_adapter_with_the_script_and_merges_it(self, monkeypatch, tmp_path):
        monkeypatch.setenv(artifacts.OUTPUT_ENV, str(tmp_path))  # an empty output folder: no lesson 04 ran
        notebook = run_and_prove_every_check(LESSON_05)
        said = printed(notebook, "adapter_config.json")
        assert "No adapter from lesson 04 in this runtime" in said and f"{artifacts.ADAPTER_NAME} - trained on" in said

        # What the script saved beside the adapter lesson 05 went on with.
        out = tmp_path / artifacts.ADAPTER_NAME
        adapter = json.loads((out / "adapter_config.json").read_text())
        assert adapter["r"] == recipe.LORA["r"] and adapter["lora_alpha"] == recipe.LORA["lora_alpha"]
        assert len(adapter["target_modules"]) == 7, "all-linear: the 7 projections of a Llama block"
        metrics = json.loads((out / train.METRICS_FILE).read_text())
        steps = run_size.steps(recipe.TRAINING["max_steps"])
        assert metrics["processes"] == 1 and metrics["steps"] == steps and metrics["validation_curve"][-1][0] == steps
        config = models.load_model_config(metrics["model"])  # r * (d_in + d_out), summed: the design notes' count
        per_block = sum(adapter["r"] * (d_in + d_out) for d_in, d_out in lora.llama_linear_shapes(config).values())
        assert metrics["trainable_parameters"] == per_block * config.num_hidden_layers and metrics["tokens"] > 0
        assert 0 < metrics["train_seconds"] <= metrics["total_seconds"] and metrics["train_cpu_seconds"] > 0
        assert metrics["validation_examples_scored"] > 0 and 0 <= metrics["validation_chrf"] <= 100
        assert metrics["validation_scores"]["chrf"] == pytest.approx(metrics["validation_chrf"], abs=0.01)
        saved = train.parse_arguments(["--config", str(out / train.CONFIG_COPY)])  # itself a valid config
        assert saved[1].max_steps == steps and saved[1].output_dir == str(out) and saved[2].lora_r == recipe.LORA["r"]


@pytest.mark.heavy
class TestOnAModelShapedLikeTinyLlama:
    @pytest.mark.parametrize("path", CHAPTER_LESSONS, ids=lambda p: p.stem)
    def test_lesson_runs(self, path, monkeypatch, tmp_path_factory):
        monkeypatch.setenv("COURSE_MODEL", "tinyllama-shaped")
        monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path_factory.getbasetemp() / "tinyllama-shaped-outputs"))
        run_lesson(path)
