"""The GPU check: its plan, a run that records a failing and a hanging step and goes on, the results tables, and
(marked heavy) the whole check in its tiny form on this CPU, a failing lesson included."""

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from helpers.paths import REPO_ROOT
from instructor import gpu_check
from instructor.notebooks import lesson_notebooks


def settings(tmp_path, **values):
    return gpu_check.Settings(out=tmp_path / "out", work=tmp_path / "work", **values)


def python_step(key, code, *, timeout=60.0, output="details", group="test"):
    return gpu_check.Step(key, f"step {key}", group, [sys.executable, "-c", code], timeout=timeout, output=output)


# --- the plan ---------------------------------------------------------------------------------------------------


def test_on_a_gpu_the_timed_steps_run_alone_and_the_rest_side_by_side(tmp_path):
    plan = gpu_check.build_plan(settings(tmp_path, cuda=True, parallel=True, lessons=lesson_notebooks()))
    assert [phase.name for phase in plan] == ["prepare", "timed, alone", "side by side"]
    assert [phase.quiet for phase in plan] == [True, True, False]
    timed = [step.key for step in plan[1].lanes[0]]
    assert timed == ["bench-matmul-peak", "bench-speed-course", "bench-speed-chapter", "t4-weights", "t4-course",
                     "t4-chapter"]
    lanes = [[step.key for step in lane] for lane in plan[2].lanes]
    assert lanes[0] == ["lesson-00", "lesson-01", "lesson-02", "lesson-03", "launch-single"]
    assert lanes[1] == ["lesson-04", "lesson-05", "lesson-07"]  # 05 merges 04's adapter
    assert lanes[2] == ["bench-memory-full", "bench-memory-lora", "bench-memory-qlora", "bench-report", "lesson-06",
                        "launch-fsdp"]  # 06 shows the bench results
    steps = gpu_check.plan_steps(plan)
    assert len({step.key for step in steps}) == len(steps) == 1 + 6 + 8 + 4 + 2
    assert all(step.skip is None for step in steps)
    speed = next(step for step in steps if step.key == "bench-speed-course")
    assert json.loads(speed.command[-1]) == gpu_check.BENCH_SIZE and speed.output == "stdout"


def test_the_tiny_plan_skips_what_takes_minutes_and_runs_in_turn(tmp_path):
    plan = gpu_check.build_plan(settings(tmp_path, tiny=True, lessons=lesson_notebooks()[:1]))
    assert all(phase.quiet for phase in plan)
    steps = {step.key: step for step in gpu_check.plan_steps(plan)}
    assert {key for key, step in steps.items() if step.skip} == {
        "bench-memory-lora", "bench-memory-qlora", "bench-speed-course", "bench-speed-chapter"}
    assert steps["bench-speed-course"].skip.startswith("skipped in tiny mode: ")
    assert "--tiny" in steps["t4-course"].command and "lesson-00" in steps
    assert json.loads(steps["bench-memory-full"].command[-1]) == gpu_check.TINY_BENCH_SIZE


def test_only_some_groups(tmp_path):
    plan = gpu_check.build_plan(settings(tmp_path, only=("t4",)))
    assert [step.key for step in gpu_check.plan_steps(plan)] == ["prepare", "t4-weights", "t4-course", "t4-chapter"]


def test_lessons_are_chosen_by_number_or_path(tmp_path):
    lessons = lesson_notebooks()
    assert gpu_check.select_lessons([], tiny=True) == lessons[:1]
    assert gpu_check.select_lessons([], tiny=False) == lessons
    assert gpu_check.select_lessons(["4", "00"], tiny=False) == [lessons[4], lessons[0]]
    extra = tmp_path / "99_extra.ipynb"
    extra.write_text("{}")
    assert gpu_check.select_lessons([str(extra)], tiny=True) == [extra.resolve()]
    with pytest.raises(SystemExit, match="no lesson '42'"):
        gpu_check.select_lessons(["42"], tiny=False)


def test_steps_run_offline_on_the_embedded_model_in_quick_mode(tmp_path):
    env = gpu_check.step_environment(settings(tmp_path))
    assert env["COURSE_MODEL"] == "smollm2" and env["HF_HUB_OFFLINE"] == "1" and env["COURSE_QUICK"] == "1"
    assert env["COURSE_OUTPUT_DIR"] == str(tmp_path / "work" / "outputs")
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(REPO_ROOT)
    assert "COURSE_QUICK" not in gpu_check.step_environment(settings(tmp_path, full_lessons=True))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_the_check_asks_for_the_tiny_rehearsal(capsys):
    with pytest.raises(SystemExit):
        gpu_check.parse_settings([])
    assert "--tiny" in capsys.readouterr().err


# --- running steps ------------------------------------------------------------------------------------------------


def test_a_failing_step_is_recorded_and_the_run_goes_on(tmp_path):
    run = settings(tmp_path, minutes=5)
    details = gpu_check.details_path(run.work, "writes")
    steps = [
        python_step("fails", "import sys; print('checking...'); print('AssertionError: 2 != 3'); sys.exit(3)"),
        python_step("hangs", "import time; print('waiting', flush=True); time.sleep(60)", timeout=1.5),
        python_step("writes", f"import json; open({str(details)!r}, 'w').write(json.dumps({{'notes': ['fine']}}))"),
        python_step("prints", "print('noise'); print('{\"value\": 7}')", output="stdout"),
        gpu_check.Step("skips", "a skipped step", "test", skip="skipped on CPU: no GPU here"),
        gpu_check.Step("absent", "a program that is not there", "test", ["/no/such/program"]),
    ]
    details.parent.mkdir(parents=True)
    saved = []
    runner = gpu_check.Runner(run, dict(os.environ))
    runner.on_record = lambda: saved.append(len(runner.records))
    start = time.monotonic()
    records = runner.run([gpu_check.Phase("test", [steps], quiet=True)])
    assert time.monotonic() - start < 30
    assert [records[key]["status"] for key in ("fails", "hangs", "writes", "prints", "skips", "absent")] == [
        "failed", "timed out", "passed", "passed", "skipped", "failed"]
    assert "could not start /no/such/program" in records["absent"]["error_tail"]
    assert records["fails"]["note"] == "exit code 3" and "AssertionError: 2 != 3" in records["fails"]["error_tail"]
    assert records["hangs"]["note"].startswith("killed at its time limit")
    assert "waiting" in records["hangs"]["error_tail"]
    assert records["writes"]["note"] == "fine" and records["prints"]["details"] == {"value": 7}
    assert records["skips"]["note"] == "skipped on CPU: no GPU here"
    assert records["fails"]["peak_rss_bytes"] > 1e6 and saved == [1, 2, 3, 4, 5, 6]


def test_lanes_run_side_by_side_and_know_it(tmp_path):
    run = settings(tmp_path, minutes=5)
    lanes = [[python_step("a", "import time; time.sleep(1.5)")], [python_step("b", "import time; time.sleep(1.5)")]]
    start = time.monotonic()
    records = gpu_check.Runner(run, dict(os.environ)).run([gpu_check.Phase("pair", lanes)])
    assert time.monotonic() - start < 2.9
    assert records["a"]["concurrent"] and records["b"]["concurrent"]


def test_steps_past_the_budget_are_skipped_and_say_why(tmp_path):
    run = settings(tmp_path, minutes=0.1)  # 6 s: less than a step needs to start
    records = gpu_check.Runner(run, dict(os.environ)).run([gpu_check.Phase("late", [[python_step("x", "pass")]])])
    assert records["x"]["status"] == "skipped" and "0.1-minute budget ran out" in records["x"]["note"]


# --- the results folder ----------------------------------------------------------------------------------------


def fake_report():
    memory = {"method": "qlora", "predicted_bytes": 2.3e9, "measured_bytes": 2.0e9, "device": "cuda (Test GPU)",
              "measured_how": "torch.cuda.max_memory_allocated", "setup": {"batch_size": 8, "seq_len": 128}}
    far = {**memory, "method": "full", "predicted_bytes": 3.0e9}
    speed = {"recipe": "chapter", "target_modules": ["q_proj", "v_proj"], "steps": 30, "batch_size": 4,
             "seconds_per_step": 0.21, "tokens_per_second": 1234.0, "peak_bytes": 1.5e9, "validation_loss": 1.7,
             "validation_chrf": 36.4, "device": "cuda (Test GPU)"}
    t4 = {"recipe": "course", "model": "TinyLlama-shaped, random weights, 22 layers x 2048", "batch_size": 8,
          "seq_len": 128, "predicted_bytes": 1.75e9, "measured_bytes": 1.6e9, "seconds_per_step": 0.13,
          "t4_estimate_seconds_per_step": 1.56, "t4_floor_seconds_per_step": 0.09, "compute_dtype": "float16",
          "precision": "fp16 mixed precision (autocast + GradScaler)", "memory_cap": "capped at 15 GiB",
          "roof_dtype": "float16", "roof_flops": 7.8e14, "notes": [], "device": "cuda (Test GPU)"}
    steps = [
        {"key": "lesson-04", "title": "04 · The Training Loop", "group": "lessons", "status": "passed",
         "seconds": 61.0, "details": {"ran_as": "notebook (nbclient)", "quick": "yes", "cuda_peak_bytes": 9.6e8,
                                     "rss_peak_bytes": 2.5e9}},
        {"key": "lesson-05", "title": "05 · Merging", "group": "lessons", "status": "failed", "seconds": 12.0,
         "note": "exit code 1", "error_tail": "AssertionError: merged != trained", "details": {}},
        {"key": "bench-memory-qlora", "title": "bench: memory", "group": "bench", "status": "passed", "seconds": 20.0,
         "details": memory},
        {"key": "bench-memory-full", "title": "bench: memory", "group": "bench", "status": "passed", "seconds": 20.0,
         "details": far},
        {"key": "bench-speed-chapter", "title": "bench: chapter", "group": "bench", "status": "passed",
         "seconds": 30.0, "details": speed},
        {"key": "t4-course", "title": "T4: course", "group": "t4", "status": "passed", "seconds": 40.0, "details": t4},
        {"key": "launch-fsdp", "title": "launch: FSDP", "group": "launches", "status": "passed", "seconds": 50.0,
         "details": {"config": "configs/accelerate/fsdp_qlora.yaml", "config_accepted": True,
                     "metrics": {"processes": 1, "steps": 3, "train_seconds": 4.2, "device": "cuda:0"}},
         "gpu_used_peak_bytes": 3e9, "concurrent": True},
        {"key": "t4-chapter", "title": "T4: chapter", "group": "t4", "status": "timed out", "seconds": 300.0,
         "note": "killed at its time limit, 300 s", "error_tail": "step 2 of 6", "details": {}},
    ]
    check = {"mode": "GPU", "device": "cuda (Test GPU)", "date": "2026-12-01", "started": "2026-12-01 10:00:00",
             "seconds": 420.0, "minutes": 8.0, "versions_line": "Python 3.12.3.", "argv": ["python -m x"]}
    return {"check": check, "steps": steps}


def rows_of(markdown):
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in markdown.splitlines()
            if line.startswith("|") and not line.startswith("|:")]


def test_results_md_has_every_step_and_the_measured_tables():
    markdown = gpu_check.render_markdown(fake_report())
    assert markdown.startswith("# GPU check: cuda (Test GPU), 2026-12-01\n")
    assert "7.0 min of a 8-minute budget; 6 passed, 1 failed, 1 timed out." in markdown
    rows = rows_of(markdown)
    assert ["`lesson-04` 04 · The Training Loop", "passed", "61", "0.96 GB", ""] in rows
    assert ["`launch-fsdp` launch: FSDP", "passed", "50", "3.00 GB²", ""] in rows
    assert "| step | status | seconds | peak GPU memory | note |\n|:--|--:|--:|--:|:--|" in markdown
    assert ["04 · The Training Loop", "passed", "61", "0.96 GB", "2.50 GB", "notebook (nbclient)", "yes"] in rows
    assert ["qlora", "8 x 128", "2.30 GB", "2.00 GB", "+15%", "yes"] in rows
    assert ["full", "8 x 128", "3.00 GB", "2.00 GB", "+50%", "**no**"] in rows
    assert ["chapter", "q_proj+v_proj", "30 x 4", "0.21", "1,234", "1.50 GB", "1.700", "36.4"] in rows
    assert ["course", "8 x 128", "1.75 GB", "1.60 GB", "+9%", "0.13", "1.56 (floor 0.09)"] in rows
    assert ["configs/accelerate/fsdp_qlora.yaml", "passed", "yes", "1", "3", "4.2", "cuda:0"] in rows
    assert "The T4 column is an **estimate**" in markdown and "780.0 TFLOP/s" in markdown
    assert "### failed: `lesson-05` 05 · Merging (exit code 1)" in markdown
    assert "AssertionError: merged != trained" in markdown and "### timed out: `t4-chapter`" in markdown


def test_check_log_holds_each_steps_command_and_output(tmp_path):
    report = fake_report()
    report["steps"][0]["command"] = ["python", "-m", "instructor.gpu_steps", "lesson"]
    outputs = {"lesson-04": "cell 1\n" * 10, "lesson-05": "x" * (gpu_check.LOG_LIMIT + 500)}
    paths = gpu_check.write_results(tmp_path, report, outputs)
    assert [p.name for p in paths] == list(gpu_check.RESULT_FILES)
    log = paths[0].read_text()
    assert "==== lesson-04: passed (61 s) 04 · The Training Loop ====\n$ python -m instructor.gpu_steps lesson" in log
    assert "characters cut" in log and json.loads(paths[1].read_text()) == report


def test_peak_gpu_memory_prefers_the_steps_own_torch_number():
    assert gpu_check.peak_gpu({"details": {"cuda_peak_bytes": 5}, "gpu_used_peak_bytes": 9}) == (5, "torch")
    assert gpu_check.peak_gpu({"details": {"measured_bytes": 7, "device": "cpu (x)"}}) == (None, "")
    assert gpu_check.peak_gpu({"details": {}, "gpu_used_peak_bytes": 9}) == (9, "nvidia-smi")
    assert gpu_check.peak_gpu({"details": {}, "gpu_used_peak_bytes": 9, "concurrent": True})[1].endswith("running")


def test_small_pieces():
    assert gpu_check.memory_error(1.1e9, 1.0e9) == pytest.approx(0.1)
    assert gpu_check.gb(None) == "—" and gpu_check.gb(1.234e9) == "1.23 GB"
    assert gpu_check.error_tail("a" * 5000).startswith("…") and len(gpu_check.error_tail("a" * 5000)) == 3001
    assert gpu_check.clip_log("short") == "short"


# --- the whole check, tiny, on this CPU ------------------------------------------------------------------------


@pytest.mark.heavy
def test_the_tiny_check_runs_every_step_and_records_a_failing_lesson(tmp_path):
    failing = tmp_path / "lessons" / "99_fails.ipynb"
    failing.parent.mkdir()
    failing.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ["assert 1 + 1 == 3, 'a lesson that fails'"]}]}))
    out, work = tmp_path / "out", tmp_path / "work"
    start = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "instructor.gpu_check", "--tiny", "--out", str(out), "--work",
                          str(work), "--lessons", "00", str(failing)], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=900)
    seconds = time.monotonic() - start
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]  # one failure, recorded
    assert sorted(p.name for p in out.iterdir()) == sorted(gpu_check.RESULT_FILES)
    report = json.loads((out / "results.json").read_text())
    status = {step["key"]: step["status"] for step in report["steps"]}
    assert status == {
        "prepare": "passed", "bench-matmul-peak": "passed", "bench-speed-course": "skipped",
        "bench-speed-chapter": "skipped", "t4-weights": "passed", "t4-course": "passed", "t4-chapter": "passed",
        "lesson-00": "passed", "lesson-99": "failed", "launch-single": "passed", "bench-memory-full": "passed",
        "bench-memory-lora": "skipped", "bench-memory-qlora": "skipped", "bench-report": "passed",
        "launch-fsdp": "skipped",
    }, report["steps"]
    steps = {step["key"]: step for step in report["steps"]}
    assert "a lesson that fails" in steps["lesson-99"]["error_tail"]
    assert steps["lesson-00"]["details"]["quick"] == "yes"
    t4 = steps["t4-course"]["details"]
    assert t4["measured_bytes"] > 0 and t4["predicted_bytes"] > 0 and t4["t4_estimate_seconds_per_step"] > 0
    assert any(note.startswith("memory cap skipped on CPU") for note in t4["notes"])
    assert any(note.startswith("fp16 skipped on CPU") for note in t4["notes"])
    assert steps["launch-fsdp"]["note"].startswith("skipped on CPU") and steps["launch-fsdp"]["details"][
        "config_accepted"]
    assert steps["launch-single"]["details"]["metrics"]["steps"] == 2
    markdown = (out / "results.md").read_text()
    for heading in ("## Lessons", "## Training memory", "## T4 emulation", "## Launches", "## Failures"):
        assert heading in markdown
    log = (out / "check.log").read_text()
    assert log.count("\n==== ") == len(status) and "a lesson that fails" in log
    print(f"tiny check: {seconds:.0f} s")
