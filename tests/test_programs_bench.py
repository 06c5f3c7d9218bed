"""The benchmark's plumbing: peak measurement, the chapter recipe's config, FLOP counting and the report."""

import dataclasses

import pytest
import torch

from helpers import budget, models, recipe, runtime
from programs import bench


def _results() -> dict:
    setup = {"batch_size": 8, "seq_len": 128, "weight_dtype": "bfloat16"}
    memory = [{"method": m, "trainable_parameters": 10, "predicted_bytes": 1.1e9, "measured_bytes": 1.0e9,
               "measured_how": "peak RSS", "setup": setup} for m in budget.METHODS]
    speed = [
        {"recipe": "course", "target_modules": ["a"] * 7, "learning_rate": 1e-3, "activation_checkpointing": False,
         "lora_dtype": "float32", "tokens": 1000, "seconds": 10.0, "seconds_per_step": 1.0, "tokens_per_second": 100.0,
         "peak_bytes": 1e9, "validation_loss": 1.5, "model_flops_per_second": 5e9, "steps": 10, "batch_size": 8,
         "lora_dropout": 0.0, "validation_chrf": 41.0, "validation_curve": [[4, 2.5], [8, 1.9], [10, 1.5]]},
        {"recipe": "chapter", "target_modules": ["q_proj", "v_proj"], "learning_rate": 2e-4,
         "activation_checkpointing": False, "lora_dtype": "float32", "tokens": 1000, "seconds": 20.0,
         "seconds_per_step": 2.0, "tokens_per_second": 50.0, "peak_bytes": 1e9, "validation_loss": 2.0,
         "model_flops_per_second": 2.5e9, "steps": 10, "batch_size": 4, "lora_dropout": 0.05,
         "validation_chrf": 35.5, "validation_curve": [[10, 2.0]]},
    ]
    return {"device": "Some CPU (2 cores)", "date": "2026-11-28", "seconds": 300.0, "memory": memory, "speed": speed,
            "matmul": {"dtype": "float32", "n": 2048, "flops_per_second": 1e11},
            "paper": bench.paper_budgets(), "size": {"speed_steps": None, "speed_evaluations": 4},
            "versions": {"torch": "2", "transformers": "5", "peft": "0.21", "trl": "1"}}


def test_ratios_read_the_speed_rows():
    results = _results()
    assert bench.speed_ratio(results) == 2.0
    # the course run reached the chapter recipe's final loss (2.0) at step 8: 8 s against its 20 s
    assert bench.time_to_chapter_quality_ratio(results) == 2.5
    results["speed"][0]["validation_curve"] = [[10, 2.1]]
    assert bench.time_to_chapter_quality_ratio(results) is None
    assert "never reached" in bench.markdown_report(results)


def test_markdown_report_has_every_method_recipe_and_paper_row():
    report = bench.markdown_report(_results())
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in report.splitlines()
            if line.startswith("|") and not line.startswith("|:")]
    assert ["full fine-tune (fp32)", "10", "1.10 GB", "1.00 GB", "+10%"] in rows
    course = next(row for row in rows if row[0] == "course")
    chapter = next(row for row in rows if row[0] == "chapter")
    assert course[:5] == ["course", "all linear", "0.001", "10 x 8", "0"] and course[10] == "41.0"
    assert chapter[:5] == ["chapter", "q_proj+v_proj", "0.0002", "10 x 4", "0.05"] and chapter[10] == "35.5"
    assert "**2.00x** the chapter's tokens per second" in report and "**2.5x** sooner" in report
    paper = next(row for row in rows if row[0] == "full fp32")
    assert len(paper) == 3 and all(cell.endswith(" GB") for cell in paper[1:])
    assert any(row[0] == "QLoRA + checkpointing" for row in rows)


def test_results_are_written_per_machine(tmp_path):
    results = _results()
    json_path, md_path = bench.write_results(results, tmp_path)
    assert json_path.name == "bench-cpu-2-cores.json" and md_path.is_file()
    assert bench.load_results(tmp_path)[0]["device"] == results["device"]


def test_machine_slugs_read_describe_machine_and_older_records():
    assert bench.machine_slug({"device": "cuda (NVIDIA H200)"}) == "gpu-h200"
    assert bench.machine_slug({"device": "cuda (Tesla T4)"}) == "gpu-tesla-t4"
    assert bench.machine_slug({"device": "cpu (AMD EPYC, 2 cores, x86_64)"}) == "cpu-2-cores"
    assert bench.machine_slug({"device": "NVIDIA H200"}) == "gpu-h200"  # records from before describe_machine
    assert bench.machine_slug({"device": "Intel(R) Xeon(R) Processor (2 cores)"}) == "cpu-2-cores"
    assert bench.machine_slug({"device": runtime.describe_machine(torch.device("cpu"))}).startswith("cpu-")


def test_results_of_this_machine_only(tmp_path):
    for device in ("cpu (AMD EPYC, 2 cores, x86_64)", "cuda (NVIDIA H200)"):
        bench.write_results({**_results(), "device": device}, tmp_path)
    assert [r["device"] for r in bench.load_results(tmp_path, machine="cuda (NVIDIA H200)")] == ["cuda (NVIDIA H200)"]
    assert len(bench.load_results(tmp_path, machine="cpu (Other CPU, 2 cores, x86_64)")) == 1
    assert bench.load_results(tmp_path, machine="cpu (AMD EPYC, 16 cores, x86_64)") == []


MB = 1_000_000


def _touched(megabytes: int) -> torch.Tensor:
    return torch.ones(megabytes * MB // 4)  # float32, every page written


def test_cpu_peak_memory_counts_a_known_allocation_within_5_percent():
    """Neither under- nor over-counted: a meter that double-counts, or misses the block, fails."""
    meter = bench.PeakMemory(torch.device("cpu"))
    meter.start()
    block = _touched(200)
    peak = meter.peak()
    del block
    assert 190 * MB <= peak <= 210 * MB, f"{peak / MB:.0f} MB for a 200 MB block"


def test_cpu_peak_memory_forgets_what_was_freed_before_start():
    meter = bench.PeakMemory(torch.device("cpu"))
    earlier = _touched(300)
    del earlier  # freed before the measurement starts: not part of the peak
    meter.start()
    block = _touched(100)
    peak = meter.peak()
    del block
    assert 95 * MB <= peak <= 105 * MB, f"{peak / MB:.0f} MB: the 300 MB freed before start() must not count"


def test_the_chapters_recipe_reaches_the_script_as_written():
    from trl import SFTConfig

    _, args, model_args = bench.recipe_arguments("chapter")
    assert (args.learning_rate, args.per_device_train_batch_size, args.max_steps) == (2e-4, 4, 100)
    assert (args.gradient_accumulation_steps, args.warmup_steps, args.lr_scheduler_type) == (1, 0, "linear")
    assert not args.activation_checkpointing and not args.bf16 and not args.fp16 and args.use_cpu
    default = {field.name: field.default for field in dataclasses.fields(SFTConfig)}["max_length"]
    assert args.max_length == default, "the chapter does not set it: SFTConfig's default"
    assert (model_args.lora_r, model_args.lora_alpha, model_args.lora_dropout) == (16, 32, 0.05)
    assert model_args.lora_target_modules is None, "no target_modules: peft's default for Llama (q_proj, v_proj)"


def test_the_course_recipe_is_the_scripts_default_and_quick_cuts_it():
    script_args, args, model_args = bench.recipe_arguments("course")
    assert (args.learning_rate, args.max_steps) == (recipe.TRAINING["learning_rate"], recipe.TRAINING["max_steps"])
    assert model_args.lora_target_modules == "all-linear" and script_args.model == "smollm2"
    assert args.eval_strategy == "steps"
    assert args.eval_steps == recipe.TRAINING["max_steps"] // bench.FULL.speed_evaluations
    assert script_args.eval_examples is None and script_args.validation_examples is None, "all of validation"
    script_args, args, _ = bench.recipe_arguments("course", bench.QUICK)
    assert args.max_steps == bench.QUICK.speed_steps and args.eval_steps == bench.QUICK.speed_steps
    assert script_args.eval_examples == script_args.validation_examples == bench.QUICK.speed_validation_examples
    with pytest.raises(ValueError, match="unknown recipe 'mine'"):
        bench.recipe_arguments("mine")


@pytest.mark.heavy
def test_a_recipe_is_measured_by_the_training_routine(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_OUTPUT_DIR", str(tmp_path))
    size = dataclasses.replace(bench.QUICK, speed_steps=2, speed_evaluations=2, speed_validation_examples=2)
    row = bench.measure_recipe("course", size)
    assert row["steps"] == 2 and [step for step, _ in row["validation_curve"]] == [1, 2]
    assert row["validation_loss"] == row["validation_curve"][-1][1] and 0 <= row["validation_chrf"] <= 100
    assert row["tokens_per_second"] * row["seconds"] == pytest.approx(row["tokens"], rel=1e-6)
    assert len(row["target_modules"]) == 7 and row["target_modules"] == sorted(row["target_modules"])
    # at least the 4-bit weights of the embedded model (~0.1 GB), at most the fp32 ones (~0.5 GB) plus training
    assert 0.1e9 < row["peak_bytes"] < 2e9
    assert (tmp_path / "bench-course" / "adapter_model.safetensors").is_file()


def test_training_flops_count_forward_backward_and_trainable_weights():
    config = models.load_model_config("tinyllama")
    matmul = budget.linear_parameters(config) + config.vocab_size * config.hidden_size
    assert bench.training_flops(10, config, 0, full=True) == 60 * matmul
    assert bench.training_flops(10, config, 100) == 40 * matmul + 6000


def test_setups_follow_the_course_recipe_on_cpu():
    setups = {m: bench.setup_for(m, torch.device("cpu"), bench.QUICK) for m in budget.METHODS}
    assert setups["full"].compute_dtype == "float32" and setups["lora"].weight_dtype == "bfloat16"
    assert setups["qlora"].lora_dropout == 0.0 and setups["qlora"].batch_size == bench.QUICK.memory_batch_size
