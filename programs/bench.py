"""Measure where training memory and time go: predicted vs measured memory, course vs chapter recipe, matmul roof.

    python -m programs.bench                 # everything (`make bench`), results in results/
    python -m programs.bench --quick         # a smaller version (what lesson 06 runs when no results exist)
    python -m programs.bench --record        # also keep a copy in benchmarks/ (committed, quoted by the README)

Every measurement runs in a fresh Python process, so one method's leftovers cannot inflate another's
peak. Peak memory on CUDA is ``torch.cuda.max_memory_allocated``; on a CPU it is the process's peak
resident set size (``VmHWM``, reset after the model has loaded) minus its resident size before the model
was loaded — so it counts the weights, optimizer states and everything training allocates. Lesson 06.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from helpers import artifacts, budget, console, memory, models, recipe, runtime
from helpers.paths import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "results"
RECORDED_DIR = REPO_ROOT / "benchmarks"
RECIPES = ("course", "chapter")
TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
"""The budget's dtype names (``budget.DTYPE_BYTES``) as torch dtypes."""


@dataclasses.dataclass(frozen=True)
class BenchSize:
    """How big each measurement is: the memory runs' batch shape and steps, the speed runs' length.

    ``speed_steps=None`` trains each recipe as written (its own steps and batch); a number cuts both
    recipes to that many steps (the quick version).
    """

    memory_batch_size: int = 8
    memory_seq_len: int = 128
    memory_steps: int = 2
    speed_steps: int | None = None
    speed_evaluations: int = 5
    speed_validation_examples: int | None = None  # None: the whole validation split
    lora_dropout: float | None = None  # the memory runs' LoRA dropout; None: the course recipe's


FULL = BenchSize()
QUICK = BenchSize(memory_batch_size=8, memory_seq_len=64, memory_steps=2, speed_steps=3, speed_evaluations=1,
                  speed_validation_examples=20)


# --- measuring memory -------------------------------------------------------------------------------


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status (peak RSS needs Linux)")


class PeakMemory:
    """Peak memory of what runs after :meth:`start`: CUDA allocator peak, or peak RSS above a baseline."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        if device.type != "cuda":
            memory.release_memory()  # hand freed heap pages back, so RSS reflects live memory
        self.baseline = 0 if device.type == "cuda" else _status_kb("VmRSS")

    @property
    def method(self) -> str:
        if self.device.type == "cuda":
            return "torch.cuda.max_memory_allocated"
        return "peak RSS (VmHWM) minus the RSS before the model loaded"

    def start(self) -> None:
        memory.release_memory()  # hand freed heap pages back, so RSS reflects live memory
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS

    def peak(self) -> int:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated()
        return _status_kb("VmHWM") - self.baseline


def warm_up_kernels(device: torch.device, dtypes: tuple[torch.dtype, ...]) -> None:
    """Run a tiny forward and backward first, so the math libraries' thread pools and workspaces are in the baseline.

    They are set up once per process whatever the model, so they are not training memory.
    """
    for dtype in dtypes:
        x = torch.randn(64, 256, device=device, dtype=dtype, requires_grad=True)
        w = torch.randn(256, 256, device=device, dtype=dtype, requires_grad=True)
        q = (x @ w).view(1, 4, 16, 256)
        torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True).float().logsumexp(-1).sum().backward()


def setup_for(method: str, device: torch.device, size: BenchSize) -> budget.TrainingSetup:
    """The budget setup the memory run of ``method`` trains with on ``device``.

    full: fp32 weights and activations. lora: the base in 16 bits (bf16 on a CPU or an Ampere+ GPU,
    fp16 on a T4), activations at that width. qlora: the course recipe (NF4 base, compute dtype of
    the hardware). LoRA runs use the course's LoraConfig (:data:`helpers.recipe.LORA`), with
    ``size.lora_dropout`` instead of its dropout when that is set.
    """
    compute = runtime.pick_compute_dtype(device)
    sixteen = compute if compute != torch.float32 else torch.bfloat16
    names = {dtype: name for name, dtype in TORCH_DTYPES.items()}
    lora = recipe.LORA
    common = {"device": device.type, "batch_size": size.memory_batch_size, "seq_len": size.memory_seq_len,
              "r": lora["r"], "target_modules": lora["target_modules"],
              "lora_dropout": lora["lora_dropout"] if size.lora_dropout is None else size.lora_dropout}
    if method == "full":
        return budget.TrainingSetup("full", compute_dtype="float32", weight_dtype="float32", **common)
    if method == "lora":
        return budget.TrainingSetup("lora", compute_dtype=names[sixteen], weight_dtype=names[sixteen], **common)
    return budget.TrainingSetup("qlora", compute_dtype=names[compute], weight_dtype=names[compute], **common)


def packed_batch(tokenizer: Any, batch_size: int, seq_len: int) -> torch.Tensor:
    """``batch_size x seq_len`` real tokens: training conversations, chat-templated and packed end to end."""
    from helpers import data

    ids: list[int] = []
    for row in data.load_split("train"):
        messages = [*data.prompt_messages(row["casual"]), {"role": "assistant", "content": row["corporate"]}]
        ids += tokenizer.apply_chat_template(messages, return_dict=True)["input_ids"]
        if len(ids) >= batch_size * seq_len:
            break
    return torch.tensor(ids[: batch_size * seq_len]).view(batch_size, seq_len)


def load_for_method(method: str, setup: budget.TrainingSetup, device: torch.device) -> Any:
    """The embedded model ready to train by ``method`` (all weights, LoRA on 16 bits, or QLoRA)."""
    from peft import get_peft_model

    if method == "full":
        model = models.load_base_model("smollm2", dtype=torch.float32, device=device)
        model.requires_grad_(True)
        return model.train()
    if method == "lora":
        base = models.load_base_model("smollm2", dtype=TORCH_DTYPES[setup.weight_dtype], device=device)
    else:
        compute = TORCH_DTYPES[setup.compute_dtype]
        base = models.load_base_model("smollm2", quantization_config=recipe.bnb_config(device), dtype=compute,
                                      device=device)
    model = get_peft_model(base, recipe.lora_config(lora_dropout=setup.lora_dropout))
    recipe.keep_adapter_in_fp32(model)
    return model.train()


def measure_memory(method: str, size: BenchSize = FULL) -> dict[str, Any]:
    """Train ``size.memory_steps`` AdamW steps by ``method`` in this process; return measured and predicted peaks."""
    device = runtime.pick_device()
    setup = setup_for(method, device, size)
    tokenizer = models.load_tokenizer("smollm2")
    batch = packed_batch(tokenizer, setup.batch_size, setup.seq_len).to(device)
    warm_up_kernels(device, (torch.float32, TORCH_DTYPES[setup.compute_dtype]))
    meter = PeakMemory(device)  # baseline: libraries imported and warmed up, no model yet
    model = load_for_method(method, setup, device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-5, fused=True)  # what the Trainer uses (adamw_torch_fused)
    meter.start()
    step_seconds = []
    for _ in range(size.memory_steps):
        start = time.perf_counter()
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        del loss
        step_seconds.append(time.perf_counter() - start)
    config = models.load_model_config("smollm2")
    return {
        "method": method,
        "device": runtime.describe_machine(device),
        "measured_bytes": meter.peak(),
        "measured_how": meter.method,
        "predicted_bytes": budget.predict_peak_bytes(config, setup),
        "predicted_terms": budget.predict_training_memory(config, setup),
        "setup": dataclasses.asdict(setup),
        "trainable_parameters": sum(p.numel() for p in trainable),
        "seconds_per_step": min(step_seconds),
    }


# --- measuring speed: the course recipe against the chapter's, each as written -----------------------


def chapter_options() -> dict[str, Any]:
    """The chapter's ``TrainingArguments`` and ``LoraConfig`` (:data:`helpers.recipe.CHAPTER_TRAINING`,
    :data:`~helpers.recipe.CHAPTER_LORA`) as the training script's options.

    Where the chapter is silent, the libraries' own defaults hold: ``TrainingArguments``' (linear decay, no
    warm-up, no gradient accumulation, activation checkpointing off) and ``SFTConfig``'s ``max_length``.
    Precision follows the hardware, as for the course recipe: the chapter's ``fp16=True`` is the T4 path.
    Its ``LoraConfig`` names no ``target_modules`` (peft's default for Llama: q_proj and v_proj).
    """
    from trl import SFTConfig

    lora = {"lora_r": recipe.CHAPTER_LORA["r"], "lora_alpha": recipe.CHAPTER_LORA["lora_alpha"],
            "lora_dropout": recipe.CHAPTER_LORA["lora_dropout"]}
    max_length = {field.name: field.default for field in dataclasses.fields(SFTConfig)}["max_length"]
    return {**recipe.CHAPTER_TRAINING, "gradient_accumulation_steps": 1, "max_length": max_length, **lora}


def training_flops(tokens: int, model_config: Any, trainable: int, *, full: bool = False) -> float:
    """Useful training FLOPs: 2 per weight per token forward, 2 more backward for activations' gradients,
    and 2 more for weight gradients of what trains (all weights for full fine-tuning, else the LoRA ones).

    The head counts (it is a matmul), the embedding lookup does not; recomputation by checkpointing is
    not useful work and is left out.
    """
    matmul = budget.linear_parameters(model_config) + model_config.vocab_size * model_config.hidden_size
    if full:
        return 6 * matmul * tokens
    return (4 * matmul + 6 * trainable) * tokens


def recipe_arguments(name: str, size: BenchSize = FULL) -> tuple[Any, Any, Any]:
    """The training script's arguments for the course's or the chapter's recipe, each as written, on the embedded
    model, evaluated ``size.speed_evaluations`` times during training."""
    from programs import train

    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {RECIPES}")
    values = recipe.TRAINING if name == "course" else chapter_options()
    steps = size.speed_steps or values["max_steps"]
    examples = "none" if size.speed_validation_examples is None else size.speed_validation_examples
    values = {**(values if name == "chapter" else {}), "model": "smollm2", "max_steps": steps, "logging_steps": 1,
              "output_dir": artifacts.outputs_dir() / f"bench-{name}", "seed": 0, "eval_strategy": "steps",
              "eval_steps": max(1, steps // size.speed_evaluations), "per_device_eval_batch_size": 16,
              "validation_examples": examples, "eval_examples": examples}
    script_args, training_args, model_args = train.parse_arguments([t for k, v in values.items()
                                                                    for t in (f"--{k}", str(v))])
    if name == "chapter":
        model_args.lora_target_modules = recipe.CHAPTER_LORA.get("target_modules")  # None: peft's default
    return script_args, training_args, model_args


def measure_recipe(name: str, size: BenchSize = FULL) -> dict[str, Any]:
    """Train the embedded model with the course's or the chapter's recipe by the course's training routine
    (:func:`programs.train.run_training`); time it, score it and measure its peak memory.

    The validation loss is measured a few times during training (its time is not counted as training)
    and chrF on the validation messages at the end, so the two recipes compare by time to the same quality.
    """
    from transformers import TrainerCallback

    from programs import train

    device = runtime.pick_device()
    meter = PeakMemory(device)  # baseline: before the model loads

    class Peak(TrainerCallback):  # from the start of training to its end
        def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
            meter.start()

        def on_train_end(self, *args: Any, **kwargs: Any) -> None:
            self.bytes = meter.peak()

    script_args, args, model_args = recipe_arguments(name, size)
    peak = Peak()
    run = train.run_training(script_args, args, model_args, callbacks=(peak,))
    seconds = run["train_seconds"]
    flops = training_flops(run["tokens"], models.load_model_config("smollm2"), run["trainable_parameters"])
    scheduler = getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)
    return {"recipe": name, "device": runtime.describe_machine(device), "steps": run["steps"],
            "batch_size": run["effective_batch_size"], "tokens": run["tokens"], "seconds": seconds,
            "seconds_per_step": seconds / run["steps"], "tokens_per_second": run["tokens"] / seconds,
            "peak_bytes": peak.bytes, "peak_how": meter.method, "validation_loss": run["validation_loss"],
            "validation_curve": run["validation_curve"], "validation_chrf": run["validation_chrf"],
            "trainable_parameters": run["trainable_parameters"], "learning_rate": args.learning_rate,
            "lr_scheduler_type": str(scheduler), "lora_dropout": run["lora_dropout"],
            "activation_checkpointing": bool(args.activation_checkpointing), "target_modules": run["target_modules"],
            "model_flops_per_second": flops / seconds}


def measure_matmul_peak(seconds: float = 2.0, dtype: torch.dtype | None = None) -> dict[str, Any]:
    """FLOP/s of a large square matmul in the dtype training computes in (or ``dtype``): the roof to measure against."""
    device = runtime.pick_device()
    dtype = dtype or runtime.pick_compute_dtype(device)
    n = 2048 if device.type == "cpu" else 8192
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    a @ b  # warm-up
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return {"device": runtime.describe_machine(device), "dtype": str(dtype).replace("torch.", ""), "n": n,
            "flops_per_second": best, "threads": torch.get_num_threads()}


# --- on paper ------------------------------------------------------------------------------------------


def paper_budgets(batch_size: int = 4, seq_len: int = 512) -> list[dict[str, Any]]:
    """Predicted peaks for TinyLlama-1.1B and a 7B model, full (fp32 and mixed bf16) vs LoRA vs QLoRA on a GPU."""
    from functools import partial

    rows = []
    for name, config in (("TinyLlama-1.1B", models.load_model_config("tinyllama")),
                         ("Llama-2-7B", budget.paper_config("llama-2-7b"))):
        setup = partial(budget.TrainingSetup, device="cuda")
        setups = {
            "full fp32": setup("full", batch_size, seq_len),
            "full, bf16 mixed": setup("full", batch_size, seq_len, compute_dtype="bfloat16"),
            "full, bf16 mixed, 8-bit AdamW, checkpointing": setup(
                "full", batch_size, seq_len, compute_dtype="bfloat16", optimizer="adamw_8bit",
                activation_checkpointing=True),
            "LoRA (16-bit base)": setup("lora", batch_size, seq_len, compute_dtype="float16",
                                                       weight_dtype="float16"),
            "QLoRA (NF4 base)": setup("qlora", batch_size, seq_len, compute_dtype="float16"),
            "QLoRA + checkpointing": setup("qlora", batch_size, seq_len, compute_dtype="float16",
                                                          activation_checkpointing=True),
        }
        for label, training in setups.items():
            terms = budget.predict_training_memory(config, training)
            rows.append({"model": name, "setup": label, "batch_size": batch_size, "seq_len": seq_len,
                         "peak_bytes": budget.predict_peak_bytes(config, training), "terms": terms})
    return rows


# --- running it all ---------------------------------------------------------------------------------------


def in_fresh_process(kind: str, name: str, size: BenchSize) -> dict[str, Any]:
    """One measurement (``kind`` memory or speed, ``name`` a method or recipe) in a new Python process."""
    size_json = json.dumps(dataclasses.asdict(size))
    command = [sys.executable, "-m", "programs.bench", "--one", kind, name, "--size", size_json]
    env = dict(os.environ)
    if kind == "memory":
        # glibc keeps freed blocks under its (growing) mmap threshold for reuse, so peak RSS would count
        # memory that was already free; a fixed 64 kB threshold returns every tensor's memory when freed.
        env["MALLOC_MMAP_THRESHOLD_"] = "65536"
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{kind} run {name!r} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


JOBS = (*(("memory", method) for method in budget.METHODS), *(("speed", name) for name in RECIPES), ("matmul", "peak"))
"""Every measurement of a run as ``(kind, name)``, in order; ``python -m programs.bench --one KIND NAME`` runs one."""


def assemble_results(outcomes: list[tuple[str, dict[str, Any]]], size: BenchSize, seconds: float) -> dict[str, Any]:
    """One results record from the measurements' outcomes, ``(kind, outcome)`` in :data:`JOBS` order."""
    results: dict[str, Any] = {"memory": [], "speed": [], "size": dataclasses.asdict(size)}
    for kind, outcome in outcomes:
        if kind == "matmul":
            results["matmul"] = outcome
        else:
            results[kind].append(outcome)
    results["paper"] = paper_budgets()
    results["device"] = runtime.describe_machine()
    results["versions"] = runtime.package_versions()
    results["date"] = time.strftime("%Y-%m-%d")
    results["seconds"] = seconds
    return results


def run_all(size: BenchSize = FULL, progress: bool = True) -> dict[str, Any]:
    """Memory by method, course vs chapter recipe, and the matmul roof — each in a fresh process."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    outcomes = [(kind, in_fresh_process(kind, name, size))
                for kind, name in tqdm(JOBS, desc="bench", unit="run", disable=not progress)]
    return assemble_results(outcomes, size, time.perf_counter() - start)


def speed_ratio(results: dict[str, Any]) -> float:
    """Course tokens/s divided by the chapter recipe's."""
    by_recipe = {row["recipe"]: row for row in results["speed"]}
    return by_recipe["course"]["tokens_per_second"] / by_recipe["chapter"]["tokens_per_second"]


def time_to_chapter_quality_ratio(results: dict[str, Any]) -> float | None:
    """The chapter recipe's training time divided by the time the course recipe took to reach the chapter's
    final validation loss — read off the course run's validation curve; None if it never got there.
    """
    by_recipe = {row["recipe"]: row for row in results["speed"]}
    course, chapter = by_recipe["course"], by_recipe["chapter"]
    for step, loss in course["validation_curve"]:
        if loss <= chapter["validation_loss"]:
            return chapter["seconds"] / (step * course["seconds_per_step"])
    return None


def _table(rows: list[dict[str, Any]]) -> str:
    """A markdown table (pandas' ``to_markdown``): the first column left-aligned, the rest right-aligned."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    alignment = ["left"] + ["right"] * (len(frame.columns) - 1)
    return frame.to_markdown(index=False, colalign=alignment, disable_numparse=True)  # cells are formatted already


def _flops_share(flops: float, roof: dict[str, Any]) -> str:
    return f"{flops / 1e9:.1f} GFLOP/s ({flops / roof['flops_per_second']:.0%})"


def markdown_report(results: dict[str, Any]) -> str:
    """The results as markdown tables: memory predicted vs measured, speed, the roof, the paper budgets."""
    gb = 1e9
    lines = [f"Measured on **{results['device']}**, {results['date']} (torch {results['versions']['torch']}, "
             f"transformers {results['versions']['transformers']}, peft {results['versions']['peft']}, "
             f"trl {results['versions']['trl']}); `make bench` took {results['seconds'] / 60:.1f} min.", ""]
    memory = results["memory"]
    shape = memory[0]["setup"]
    labels = {"full": "full fine-tune (fp32)", "qlora": "QLoRA (NF4 base)"}
    lines += [f"**Training memory, embedded SmolLM2-135M**, batch {shape['batch_size']} x {shape['seq_len']} tokens, "
              f"{memory[0]['measured_how']}:", "",
              _table([{"method": labels.get(row["method"], f"LoRA ({row['setup']['weight_dtype']} base)"),
                       "trainable": f"{row['trainable_parameters']:,}",
                       "predicted peak": f"{row['predicted_bytes'] / gb:.2f} GB",
                       "measured peak": f"{row['measured_bytes'] / gb:.2f} GB",
                       "error": f"{row['predicted_bytes'] / row['measured_bytes'] - 1:+.0%}"} for row in memory])]
    roof = results["matmul"]
    lines += ["", f"**Course recipe vs the chapter's**, each as written, same model and data; roof = {roof['dtype']} "
              f"{roof['n']}² matmul at {roof['flops_per_second'] / 1e9:.0f} GFLOP/s:", "",
              _table([{"recipe": row["recipe"],
                       "targets": "all linear" if len(row["target_modules"]) == 7 else "+".join(row["target_modules"]),
                       "lr": f"{row['learning_rate']:g}", "steps x batch": f"{row['steps']} x {row['batch_size']}",
                       "LoRA dropout": f"{row['lora_dropout']:g}", "tokens": f"{row['tokens']:,}",
                       "training s": f"{row['seconds']:.0f}", "tokens/s": f"{row['tokens_per_second']:,.0f}",
                       "peak memory": f"{row['peak_bytes'] / gb:.2f} GB",
                       "validation loss": f"{row['validation_loss']:.3f}",
                       "validation chrF": f"{row['validation_chrf']:.1f}",
                       "model FLOP/s (share of roof)": _flops_share(row["model_flops_per_second"], roof)}
                      for row in results["speed"]])]
    lines += ["", f"The course recipe processes **{speed_ratio(results):.2f}x** the chapter's tokens per second."]
    quality = time_to_chapter_quality_ratio(results)
    if quality is not None:
        lines += [f"It reaches the chapter recipe's final validation loss **{quality:.1f}x** sooner (validation loss "
                  f"measured {results['size']['speed_evaluations']} times per run)."]
    else:
        lines += ["It never reached the chapter recipe's final validation loss in this run."]
    paper = results["paper"]
    models_on_paper = list(dict.fromkeys(row["model"] for row in paper))
    setups = list(dict.fromkeys(row["setup"] for row in paper))
    lines += ["", f"**On paper** (predicted peaks, batch {paper[0]['batch_size']} x {paper[0]['seq_len']} tokens, "
              "on a GPU; activations in 16 bits except for full fp32):", "",
              _table([{"setup": setup, **{row["model"]: f"{row['peak_bytes'] / gb:.1f} GB" for row in paper
                                          if row["setup"] == setup and row["model"] in models_on_paper}}
                      for setup in setups])]
    return "\n".join(lines) + "\n"


def machine_slug(results: dict[str, Any]) -> str:
    """A file name for one machine's results (its :func:`~helpers.runtime.describe_machine`): ``cpu-2-cores``,
    ``gpu-h200``. Older records named the machine without the device type (``NVIDIA H200``); they map the same."""
    device = results["device"]
    cores = re.search(r"(\d+) cores", device)
    if cores:
        kind = "mps" if device.startswith("mps") else "cpu"
        return f"{kind}-{cores.group(1)}-cores"
    gpu = re.fullmatch(r"cuda \((.*)\)", device)
    name = gpu.group(1) if gpu else device
    return "gpu-" + "-".join(name.lower().replace("nvidia", "").split())


def write_results(results: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write ``bench-<machine>.json`` and ``.md`` into ``folder``; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"bench-{machine_slug(results)}"
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(markdown_report(results))
    return json_path, md_path


def load_results(folder: Path, machine: str | None = None) -> list[dict[str, Any]]:
    """Every ``bench-*.json`` in ``folder`` (empty if none); with ``machine`` (a ``describe_machine()`` text)
    only that machine's."""
    results = [json.loads(path.read_text()) for path in sorted(Path(folder).glob("bench-*.json"))]
    if machine is None:
        return results
    return [r for r in results if machine_slug(r) == machine_slug({"device": machine})]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m programs.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller batches and fewer steps (what lesson 06 runs)")
    parser.add_argument("--record", action="store_true", help=f"also write the results to {RECORDED_DIR.name}/")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder (default: results/)")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "NAME"), help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    size = BenchSize(**json.loads(options.size)) if options.size else (QUICK if options.quick else FULL)
    if options.one:  # a single measurement, in the fresh process run_all started
        console.quiet_library_output()
        kind, name = options.one
        if kind == "memory":
            outcome = measure_memory(name, size)
        elif kind == "speed":
            outcome = measure_recipe(name, size)
        else:
            outcome = measure_matmul_peak()
        print(json.dumps(outcome))
        return 0
    results = run_all(size)
    paths = write_results(results, options.out)
    if options.record:
        write_results(results, RECORDED_DIR)
    print(markdown_report(results))
    print("written:", *paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
