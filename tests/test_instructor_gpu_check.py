"""instructor.gpu_check on fake pytest and benchmark results: a failed lesson, a failed benchmark or a memory
prediction off by more than the tolerance fails the check, and the page says which."""

import json
import re
import sys
import types

import pytest

from instructor import gpu_check

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_lessons" name="test_lesson_runs[00_environment]" time="12.5"/>
<testcase classname="tests.test_lessons" name="test_lesson_runs[04_train_with_sft]" time="80.2">
  <failure message="CellExecutionError: cell 7&#10;RuntimeError: CUDA out of memory">trace</failure></testcase>
<testcase classname="tests.test_lessons" name="test_lesson_runs[07_launch]" time="0.1">
  <skipped message="no GPU"/></testcase>
</testsuite></testsuites>"""
GB = 1_000_000_000


def bench(predicted_full=1.1 * GB, measured_full=1.0 * GB) -> dict:
    return {"memory": [{"method": "full", "predicted_bytes": predicted_full, "measured_bytes": measured_full,
                        "measured_how": "torch.cuda.max_memory_allocated"},
                       {"method": "qlora", "predicted_bytes": 0.5 * GB, "measured_bytes": 0.55 * GB}],
            "speed": [{"recipe": "course", "peak_bytes": 1.4 * GB}, {"recipe": "chapter", "peak_bytes": 0.9 * GB}]}


def page(summary) -> str:
    """The markdown page with runs of spaces collapsed (tabulate pads the columns)."""
    return re.sub(" +", " ", gpu_check.render_markdown(summary))


def cuda(available: bool):
    return types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: available))


def lessons_passed() -> list[dict]:
    return [{"test": "test_lesson_runs[00_environment]", "status": "passed", "seconds": 12.5, "message": ""}]


def test_each_test_case_is_read_with_its_status_time_and_reason(tmp_path):
    path = tmp_path / "lessons.xml"
    path.write_text(JUNIT)
    rows = gpu_check.lesson_results(path)
    assert [(row["status"], row["seconds"]) for row in rows] == [("passed", 12.5), ("failed", 80.2), ("skipped", 0.1)]
    assert rows[1]["message"] == "CellExecutionError: cell 7\nRuntimeError: CUDA out of memory"
    summary = gpu_check.summarise(rows, bench(), "", "cuda (X)", 100)
    assert not summary["passed"], "a failed (or skipped) lesson fails the check"
    assert "| test_lesson_runs[04_train_with_sft] | failed |" in page(summary)


def test_memory_is_compared_two_sided_with_the_stated_tolerance():
    assert gpu_check.TOLERANCE == 0.20
    for predicted, within in [(1.19, True), (0.81, True), (1.21, False), (0.79, False), (2.0, False)]:
        rows = gpu_check.memory_rows(bench(predicted_full=predicted * GB))
        assert rows[0]["error"] == pytest.approx(predicted - 1) and rows[0]["within"] is within
        assert gpu_check.summarise(lessons_passed(), bench(predicted * GB), "", "x", 1)["passed"] is within


def test_peak_is_the_largest_of_every_measurement():
    assert gpu_check.peak_bytes(bench()) == 1.4 * GB
    assert gpu_check.peak_bytes(bench(measured_full=2 * GB)) == 2 * GB


def test_a_failed_benchmark_fails_the_check_and_shows_its_error():
    summary = gpu_check.summarise(lessons_passed(), None, "Traceback: boom", "cuda (X)", 60)
    assert not summary["passed"] and summary["peak_gpu_bytes"] is None
    assert "boom" in page(summary)
    assert not gpu_check.summarise([], bench(), "", "x", 1)["passed"], "no lesson ran: not a pass"


def test_all_good_passes_and_the_page_carries_the_numbers():
    summary = gpu_check.summarise(lessons_passed(), bench(), "", "cuda (NVIDIA H200)", 600)
    assert summary["passed"] and summary["peak_gpu_bytes"] == 1.4 * GB
    text = page(summary)
    assert "**passed**" in text and "1.40 GB" in text and "| full | 1.10 GB | 1.00 GB | +10% |" in text


def test_main_writes_both_files_and_exits_1_on_a_failure(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", cuda(True))
    monkeypatch.setattr(gpu_check, "run_lessons", lambda xml: lessons_passed())
    monkeypatch.setattr(gpu_check, "run_bench", lambda folder: (bench(predicted_full=3 * GB), ""))
    assert gpu_check.main(["--out", str(tmp_path)]) == 1
    written = json.loads((tmp_path / "gpu-check.json").read_text())
    assert written["memory"][0]["within"] is False and (tmp_path / "gpu-check.md").is_file()


def test_without_cuda_it_refuses(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", cuda(False))
    with pytest.raises(SystemExit):
        gpu_check.main([])
    assert "no CUDA device" in capsys.readouterr().err
