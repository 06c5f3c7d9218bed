"""The GPU check's steps, in pieces: lessons exported as scripts, the T4 estimate, the T4 recipes and model shape,
and the bench report assembled from the measurements' output."""

import ast
import json
import subprocess
import sys

import pytest

from helpers import budget
from instructor import gpu_steps
from instructor.notebooks import lesson_notebooks
from programs import bench


def notebook(tmp_path, *cells):
    """A notebook file with the given cells, ``("code", source)`` or ``("markdown", source)``."""
    path = tmp_path / "99_test.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True),
         **({"outputs": [], "execution_count": None} if kind == "code" else {})} for kind, source in cells]}))
    return path


# --- lessons as scripts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "converted"), [
    ("%matplotlib inline", "pass  # IPython magic, skipped: %matplotlib inline"),
    ("    %run /content/course/helpers/colab.py notebooks",
     "    pass  # IPython magic, skipped: %run /content/course/helpers/colab.py notebooks"),
    ("!pip install -q peft", "pass  # skipped (the bundle installed everything): !pip install -q peft"),
    ("  !ls -l data", "  _shell('ls -l data')"),
    ("x = 1  # 100% plain", "x = 1  # 100% plain"),
])
def test_magics_and_shell_lines_become_python(line, converted):
    assert gpu_steps.convert_line(line) == converted


def test_the_colab_cell_stays_valid_python_without_its_magic():
    source = ('import sys\n\nif "google.colab" in sys.modules:\n    import os\n'
              "    %run /content/course/helpers/colab.py notebooks\nelse:\n    print('Local run')")
    converted = gpu_steps.convert_cell(source)
    ast.parse(converted)
    assert "pass  # IPython magic, skipped: %run" in converted and "print('Local run')" in converted


@pytest.mark.parametrize(("source", "expected"), [
    ("x = 2\nx * 3", "x = 2\n_display_last(x * 3)"),
    ("x = 2\nx * 3;", "x = 2\nx * 3;"),  # Jupyter hides a value behind a semicolon
    ("print('hi')", "print('hi')"),
    ("s = 'é'; len(s)", "s = 'é'; _display_last(len(s))"),  # ast columns count UTF-8 bytes
    ("table = {\n    'a': 1,\n}\ntable", "table = {\n    'a': 1,\n}\n_display_last(table)"),
    ("total = sum([\n    1,\n    2])", "total = sum([\n    1,\n    2])"),
    ("pd.DataFrame(\n    rows\n).T", "_display_last(pd.DataFrame(\n    rows\n).T)"),
])
def test_a_cells_last_expression_is_displayed(source, expected):
    assert gpu_steps.convert_cell(source) == expected


def test_cell_magics_keep_or_skip_the_cell():
    assert gpu_steps.convert_cell("%%time\nx = 1") == "x = 1"
    skipped = gpu_steps.convert_cell("%%bash\necho hi")
    assert all(line.startswith("# skipped cell (%%bash magic)") for line in skipped.splitlines())


def test_an_exported_lesson_runs_as_a_script_and_shows_what_jupyter_shows(tmp_path):
    path = notebook(tmp_path, ("markdown", "# 99 · A test"), ("code", "%matplotlib inline\nvalues = [1, 2, 3]"),
                    ("code", "sum(values)"), ("code", "display({'a': 1})\nNone"), ("code", "!echo from-the-shell"))
    script = gpu_steps.export_script(path)
    assert script.count("# %% [cell ") == 4 and "A test" not in script
    (tmp_path / "lesson.py").write_text(script)
    run = subprocess.run([sys.executable, "lesson.py"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert run.stdout.splitlines() == ["6", "{'a': 1}", "from-the-shell"]


def test_a_failing_shell_line_fails_the_script(tmp_path):
    path = notebook(tmp_path, ("code", "!exit 3"))
    (tmp_path / "lesson.py").write_text(gpu_steps.export_script(path))
    run = subprocess.run([sys.executable, "lesson.py"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode != 0 and "CalledProcessError" in run.stderr


@pytest.mark.parametrize("lesson", lesson_notebooks(), ids=lambda p: p.stem)
def test_every_lesson_exports_to_valid_python(lesson):
    ast.parse(gpu_steps.export_script(lesson))


# --- the T4 emulation ----------------------------------------------------------------------------------------------


def test_the_t4_estimate_scales_by_the_ratio_of_matmul_rates():
    # 0.13 s here on a GPU with 780 TFLOP/s of fp16 matmul: 12x the T4's 65, so about 1.56 s on a T4
    assert gpu_steps.t4_seconds_per_step(0.13, 780e12) == pytest.approx(1.56)
    assert gpu_steps.t4_seconds_per_step(2.0, 65e12) == pytest.approx(2.0)
    assert gpu_steps.t4_seconds_per_step(1.0, 10e12, t4_flops=20e12) == pytest.approx(0.5)
    assert gpu_steps.t4_floor_seconds(6.5e12) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="positive rates"):
        gpu_steps.t4_seconds_per_step(1.0, 0.0)


def test_the_t4_recipes_are_the_course_and_the_chapter():
    course, chapter = gpu_steps.t4_recipe("course"), gpu_steps.t4_recipe("chapter")
    assert (course.batch_size, course.learning_rate, course.lora["target_modules"]) == (8, 1e-3, "all-linear")
    assert (chapter.batch_size, chapter.learning_rate) == (4, 2e-4) and "target_modules" not in chapter.lora
    assert chapter.lora["lora_dropout"] == 0.05
    with pytest.raises(ValueError, match="unknown recipe"):
        gpu_steps.t4_recipe("mine")


def test_the_tinyllama_shape_and_its_tiny_version():
    full, tiny = gpu_steps.tiny_llama_config(False), gpu_steps.tiny_llama_config(True)
    assert (full.num_hidden_layers, full.hidden_size, full.vocab_size) == (22, 2048, 32000)
    assert (tiny.num_hidden_layers, tiny.hidden_size, tiny.head_dim, tiny.vocab_size) == (2, 64, 8, 32000)
    assert tiny.num_attention_heads // tiny.num_key_value_heads == full.num_attention_heads // full.num_key_value_heads
    # the budget reads the same shapes the model is built from
    setup = budget.TrainingSetup("qlora", 8, 128, compute_dtype="float16", device="cuda")
    assert budget.predict_peak_bytes(full, setup) < gpu_steps.T4_MEMORY_CAP


# --- the bench report ----------------------------------------------------------------------------------------------


def bench_outcome(kind, name):
    setup = {"batch_size": 8, "seq_len": 128, "weight_dtype": "bfloat16"}
    if kind == "memory":
        return {"method": name, "trainable_parameters": 10, "predicted_bytes": 1.1e9, "measured_bytes": 1.0e9,
                "measured_how": "torch.cuda.max_memory_allocated", "setup": setup, "device": "cuda (Test GPU)"}
    if kind == "matmul":
        return {"dtype": "bfloat16", "n": 8192, "flops_per_second": 7e14}
    return {"recipe": name, "target_modules": ["q_proj", "v_proj"] if name == "chapter" else ["a"] * 7,
            "learning_rate": 1e-3, "lora_dropout": 0.0, "tokens": 1000, "seconds": 10.0, "seconds_per_step": 1.0,
            "tokens_per_second": 100.0, "peak_bytes": 1e9, "validation_loss": 1.5, "model_flops_per_second": 5e12,
            "steps": 10, "batch_size": 8, "validation_chrf": 41.0, "validation_curve": [[10, 1.5]]}


def write_bench_logs(work, jobs):
    (work / "steps").mkdir(parents=True, exist_ok=True)
    for kind, name in jobs:
        (work / "steps" / f"bench-{kind}-{name}.log").write_text(f"noise\n{json.dumps(bench_outcome(kind, name))}\n")


def test_the_bench_report_is_bench_s_own_when_every_measurement_passed(tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    write_bench_logs(work, bench.JOBS)
    (out).mkdir()
    (out / "results.json").write_text(json.dumps({"steps": [{"key": "bench-memory-full", "seconds": 20.0},
                                                             {"key": "bench-report", "seconds": 5.0}]}))
    code = gpu_steps.step_bench_report(tmp_path / "details.json", work, str(out), size=json.dumps({"speed_steps": 3}),
                                       tiny=True)
    assert code == 0
    details = json.loads((tmp_path / "details.json").read_text())
    assert details["missing"] == [] and len(details["written"]) == 2
    (record_path,) = out.glob("bench-*.json")
    record = json.loads(record_path.read_text())
    assert [row["method"] for row in record["memory"]] == list(budget.METHODS)
    assert record["size"]["speed_steps"] == 3 and record["seconds"] == 20.0
    assert "course recipe processes" in record_path.with_suffix(".md").read_text()


def test_the_bench_report_says_what_is_missing(tmp_path):
    work = tmp_path / "work"
    write_bench_logs(work, [("memory", "qlora"), ("matmul", "peak")])
    gpu_steps.step_bench_report(tmp_path / "details.json", work, str(tmp_path / "out"), size="{}", tiny=True)
    details = json.loads((tmp_path / "details.json").read_text())
    assert details["written"] == [] and "memory full" in details["missing"] and "speed chapter" in details["missing"]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("bench-*"))
