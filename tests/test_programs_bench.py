"""The benchmark's plumbing: peak measurement, the chapter recipe's config, FLOP counting and the report."""

import torch

from helpers import budget, models, runtime
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


def test_cpu_peak_memory_sees_a_large_allocation():
    meter = bench.PeakMemory(torch.device("cpu"))
    meter.start()
    block = torch.ones(50_000_000)  # 200 MB, touched
    assert meter.peak() >= 190e6
    del block


def test_chapter_config_is_the_chapters_training_arguments():
    args = bench.chapter_sft_config("unused", torch.device("cpu"))
    assert args.learning_rate == 2e-4 and args.per_device_train_batch_size == 4 and args.max_steps == 100
    assert not args.gradient_checkpointing and args.lr_scheduler_type == "linear" and args.warmup_steps == 0
    assert not args.bf16 and not args.fp16 and args.use_cpu
    assert bench.chapter_sft_config("unused", torch.device("cpu"), max_steps=3).max_steps == 3


def test_training_flops_count_forward_backward_and_trainable_weights():
    config = models.load_model_config("tinyllama")
    matmul = budget.linear_parameters(config) + config.vocab_size * config.hidden_size
    assert bench.training_flops(10, config, 0, full=True) == 60 * matmul
    assert bench.training_flops(10, config, 100) == 40 * matmul + 6000


def test_setups_follow_the_course_recipe_on_cpu():
    setups = {m: bench.setup_for(m, torch.device("cpu"), bench.QUICK) for m in budget.METHODS}
    assert setups["full"].compute_dtype == "float32" and setups["lora"].weight_dtype == "bfloat16"
    assert setups["qlora"].lora_dropout == 0.0 and setups["qlora"].batch_size == bench.QUICK.memory_batch_size
