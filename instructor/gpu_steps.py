"""The GPU check's steps, each run in its own process by ``instructor.gpu_check`` (``python -m instructor.gpu_steps
KIND --work DIR --details FILE``): prepare the embedded model, run a lesson, assemble the bench report, build and
train the T4-emulation model, launch the training script. Each writes what it measured as JSON to ``--details``.

Lessons run as notebooks through nbclient when it is installed, else as their code cells exported to a script
(:func:`export_script`). The T4 emulation trains a TinyLlama-shaped model with random weights, loaded in NF4, as
the Trainer's fp16 path does (autocast to float16, a GradScaler, fused AdamW) on a batch of random token ids: the
shape, not the text, decides memory and time. README, "For instructors".
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from helpers.paths import REPO_ROOT, display_path

T4_FP16_FLOPS = 65e12
"""A T4's fp16 tensor-core rate (NVIDIA's datasheet): the denominator of the T4 time estimate."""
T4_MEMORY_CAP = 15 * 2**30
"""What a process gets on a T4 (16 GB card), the emulation's ``set_per_process_memory_fraction`` cap."""
PEAK_MARKER = "GPU-CHECK-PEAK "
TINY_SHAPE = {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 176, "num_attention_heads": 8,
              "num_key_value_heads": 1}
"""The tiny TinyLlama: TinyLlama's proportions (MLP 2.75x, 8 query heads per key/value head), 2 small layers."""
SMOKE_CONFIG = "configs/train/smoke_test.yaml"
TINY_TRAIN_OPTIONS = ["--max_steps", "2", "--eval_examples", "0", "--validation_examples", "0", "--max_length", "32"]
FSDP_TRAIN_OPTIONS = ["--max_steps", "3", "--eval_examples", "0"]
NO_FSDP_ON_CPU = ("skipped on CPU: accelerate's FSDP plugin needs a GPU (on a CPU it stops with 'There are "
                  "currently no available devices found'); the configuration was read by accelerate's own loader")


# --- the T4 estimate ----------------------------------------------------------------------------------------


def t4_seconds_per_step(measured_seconds: float, machine_flops: float, t4_flops: float = T4_FP16_FLOPS) -> float:
    """An *estimate* of a step's time on a T4: the time measured here times (this machine's fp16 matmul rate / the
    T4's). It assumes the step runs at the same share of the matmul roof on both; small steps bound by memory
    bandwidth or kernel launches take longer on a T4 than this."""
    if measured_seconds < 0 or machine_flops <= 0 or t4_flops <= 0:
        raise ValueError(f"need seconds >= 0 and positive rates, got {measured_seconds}, {machine_flops}, {t4_flops}")
    return measured_seconds * machine_flops / t4_flops


def t4_floor_seconds(flops_per_step: float, t4_flops: float = T4_FP16_FLOPS) -> float:
    """The least a step can take on a T4: its useful FLOPs at the T4's full fp16 rate."""
    return flops_per_step / t4_flops


# --- lessons as scripts ------------------------------------------------------------------------------------------

SCRIPT_HEADER = '''# {name}: the lesson's code cells, exported by instructor.gpu_check to run without Jupyter.
# IPython magics became comments, shell lines (!cmd) run through subprocess, and each cell's last expression is
# printed, as Jupyter would show it.
import subprocess as _subprocess


def display(*values):  # IPython's display(), printing instead
    for value in values:
        print(getattr(value, "data", value) if type(value).__name__ == "Styler" else value)


def _display_last(value):
    if value is not None:
        display(value)


def _shell(command):  # a notebook's !command; a failing one fails the script
    _subprocess.run(command, shell=True, check=True)


'''
KEPT_CELL_MAGICS = ("%%time", "%%capture")
"""Cell magics whose cell runs as plain Python once the magic line is gone; any other cell magic skips the cell."""


def convert_line(line: str) -> str:
    """One line of a cell without IPython syntax: ``%magic`` becomes ``pass  # ...``, ``!pip install`` too, any
    other ``!command`` runs through ``_shell`` (``subprocess``; a failing command fails the script)."""
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if stripped.startswith("%"):
        return f"{indent}pass  # IPython magic, skipped: {stripped}"
    if stripped.startswith("!"):
        command = stripped[1:].strip()
        if re.match(r"(python3? -m )?(pip|uv pip|conda|mamba) install\b", command):
            return f"{indent}pass  # skipped (the bundle installed everything): {stripped}"
        return f"{indent}_shell({command!r})"
    return line


def convert_cell(source: str) -> str:
    """A code cell's source as plain Python (see :func:`convert_line`), its last expression printed."""
    lines = source.splitlines()
    if lines and lines[0].startswith("%%"):
        if lines[0].split()[0] not in KEPT_CELL_MAGICS:
            return "\n".join(f"# skipped cell ({lines[0].split()[0]} magic): {line}" for line in lines)
        lines = lines[1:]
    code = "\n".join(lines)
    try:
        ast.parse(code)
    except SyntaxError:
        code = "\n".join(convert_line(line) for line in lines)
    return display_last_expression(code)


def display_last_expression(code: str) -> str:
    """Wrap the cell's last statement in ``_display_last(...)`` when it is an expression (Jupyter shows its value),
    unless the cell ends with ``;`` (Jupyter's way to hide it)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code  # the script will fail on it, naming the line, as the notebook would
    if not tree.body or not isinstance(tree.body[-1], ast.Expr) or code.rstrip().endswith(";"):
        return code
    node = tree.body[-1]
    if isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) in ("print", "display"):
        return code  # shows its own output and returns None
    lines = code.splitlines(keepends=True)
    start = _char_offset(lines, node.lineno, node.col_offset)
    end = _char_offset(lines, node.end_lineno, node.end_col_offset)
    return f"{code[:start]}_display_last({code[start:end]}){code[end:]}"


def _char_offset(lines: list[str], lineno: int, byte_column: int) -> int:
    """Character offset in the joined ``lines`` of an ast position (1-based line, UTF-8 byte column)."""
    column = len(lines[lineno - 1].encode()[:byte_column].decode())
    return sum(len(line) for line in lines[: lineno - 1]) + column


def code_cells(notebook: Path) -> list[str]:
    """The sources of a notebook's code cells, in order (read as JSON: no Jupyter package needed)."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in cells if c["cell_type"] == "code"]


def export_script(notebook: Path) -> str:
    """The lesson as one Python script: its code cells in order, each under a ``# %% [cell N]`` marker."""
    parts = [SCRIPT_HEADER.format(name=Path(notebook).name)]
    for number, source in enumerate(code_cells(notebook), start=1):
        parts.append(f"# %% [cell {number}]\n{convert_cell(source)}\n\n")
    return "".join(parts)


def notebook_runner_available() -> bool:
    """Whether lessons can run as notebooks here (nbclient and an IPython kernel are installed)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("nbclient", "nbformat", "ipykernel"))


# --- the steps (each in its own process) ---------------------------------------------------------------


def write_details(path: Path, details: dict[str, Any]) -> None:
    """What a step measured, as JSON at ``path`` (the check reads it into results.json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(details, indent=2, default=str) + "\n")


def step_prepare(details: Path, **_: Any) -> int:
    """Convert the embedded model once (later steps only read it) and record the machine and the versions."""
    import platform

    import torch

    from helpers import embedded, runtime

    folder = embedded.ensure_converted()
    device = runtime.pick_device()
    info = {"device": runtime.describe_machine(device), "python": platform.python_version(),
            "torch_cuda": torch.version.cuda, "versions": runtime.package_versions(),
            "model_folder": display_path(folder), "notebook_runner": notebook_runner_available()}
    if device.type == "cuda":
        info["gpu_total_bytes"] = torch.cuda.get_device_properties(device).total_memory
        info["compute_dtype"] = str(runtime.pick_compute_dtype(device)).removeprefix("torch.")
    write_details(details, info)
    print(json.dumps(info, indent=2))
    return 0


PEAK_CELL = (
    "import json as _json, resource as _resource, sys as _sys\n"
    "_torch = _sys.modules.get('torch')\n"
    "_cuda = _torch is not None and _torch.cuda.is_available() and _torch.cuda.is_initialized()\n"
    f"print({PEAK_MARKER!r} + _json.dumps({{'cuda_peak_bytes': _torch.cuda.max_memory_allocated() if _cuda else None,"
    " 'rss_peak_bytes': _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss * 1024}))\n"
)
"""Run in the lesson's own kernel after its last cell (or its failing one): that process's peak memory."""


def run_as_notebook(notebook: Path, saved: Path) -> dict[str, Any]:
    """Execute a lesson top to bottom in a fresh kernel started in its folder; stop at the first error."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}})
    result: dict[str, Any] = {"ran_as": "notebook (nbclient)", "failed_cell": None}
    with client.setup_kernel():
        try:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":  # where it got to, should the step be stopped at its time limit
                    first_line = (cell.source.strip().splitlines() or [""])[0]
                    print(f"[cell {index}] {first_line[:100]}", flush=True)
                client.execute_cell(cell, index)
        except CellExecutionError as error:
            result["failed_cell"] = index
            result["error"] = str(error)[-4000:]
        nb.cells.append(probe := nbformat.v4.new_code_cell(PEAK_CELL))
        client.execute_cell(probe, len(nb.cells) - 1)
    nb.cells.pop()
    saved.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, saved)
    for output in probe.outputs:
        for line in output.get("text", "").splitlines():
            if line.startswith(PEAK_MARKER):
                result.update(json.loads(line[len(PEAK_MARKER):]))
    print(notebook_text_outputs(nb))
    if result.get("error"):
        print(result["error"])
    return result


def notebook_text_outputs(nb: Any) -> str:
    """What the executed cells printed (streams, plain-text results, errors), for check.log."""
    parts = []
    for number, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        texts = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts.append(output.get("text", ""))
            elif "data" in output and "text/plain" in output["data"]:
                texts.append(output["data"]["text/plain"])
            elif output.get("output_type") == "error":
                texts.append(f"{output.get('ename')}: {output.get('evalue')}")
        if texts:
            parts.append(f"--- cell {number}\n" + "".join(t if t.endswith("\n") else t + "\n" for t in texts))
    return "".join(parts)


def run_as_script(notebook: Path, script: Path) -> dict[str, Any]:
    """Export the lesson's code cells to ``script`` and run it in this process, in the lesson's folder."""
    import resource
    import runpy
    import traceback

    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(export_script(notebook))
    os.environ.setdefault("MPLBACKEND", "Agg")
    result: dict[str, Any] = {"ran_as": "script (code cells exported)", "script": display_path(script)}
    previous, sys.argv = os.getcwd(), [str(script)]
    os.chdir(notebook.parent)
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as error:  # sys.exit() in a lesson: only a non-zero code is a failure
        if error.code not in (None, 0):
            result["error"] = f"SystemExit: {error.code}"
    except BaseException as error:  # a lesson's failing assert: record it, never stop the check
        traceback.print_exc()
        result["error"] = f"{type(error).__name__}: {error}"
    finally:
        os.chdir(previous)
    torch = sys.modules.get("torch")
    cuda = torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized()
    result["cuda_peak_bytes"] = torch.cuda.max_memory_allocated() if cuda else None
    result["rss_peak_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


def step_lesson(details: Path, work: Path, notebook: str, ran_as: str = "auto", **_: Any) -> int:
    """One lesson, top to bottom: as a notebook when nbclient is here (or asked for), else as a script."""
    from helpers import runtime

    path = Path(notebook).resolve()
    as_notebook = ran_as == "notebook" or (ran_as == "auto" and notebook_runner_available())
    if as_notebook:
        result = run_as_notebook(path, Path(work) / "lessons" / path.name)
    else:
        result = run_as_script(path, Path(work) / "lessons" / f"{path.stem}.py")
    result["quick"] = "yes" if runtime.quick_mode() else "no"
    write_details(details, result)
    return 1 if result.get("error") else 0


def step_bench_report(details: Path, work: Path, out: str, size: str, tiny: bool = False, **_: Any) -> int:
    """Assemble the bench measurements into ``programs.bench``'s own record and report, when all of them passed.

    Each measurement printed its outcome as the last JSON line of its step's log (``<work>/steps/bench-*.log``).

    On a GPU the record also goes to ``results/`` (where lesson 06 looks) unless that folder has one for this
    machine already; a tiny run writes only into the check's folder.
    """
    from programs import bench

    outcomes, missing = [], []
    for kind, name in bench.JOBS:
        record_path = Path(work) / "steps" / f"bench-{kind}-{name}.log"
        lines = [line for line in record_path.read_text().splitlines() if line.startswith("{")] \
            if record_path.is_file() else []
        if lines:
            outcomes.append((kind, json.loads(lines[-1])))
        else:
            missing.append(f"{kind} {name}")
    result: dict[str, Any] = {"measurements": len(outcomes), "missing": missing, "written": []}
    if missing:
        result["notes"] = [f"no bench-<machine> report: {', '.join(missing)} did not run or failed"]
    else:
        results = bench.assemble_results(outcomes, bench.BenchSize(**json.loads(size)), bench_seconds(Path(out)))
        paths = list(bench.write_results(results, Path(out)))
        if not tiny and not bench.load_results(bench.RESULTS_DIR, machine=results["device"]):
            paths += bench.write_results(results, bench.RESULTS_DIR)
        result["written"] = [display_path(p) for p in paths]
    write_details(details, result)
    print(json.dumps(result, indent=2))
    return 0


def bench_seconds(out: Path) -> float:
    """Seconds the bench measurements took, read from the check's results.json (written after every step)."""
    try:
        steps = json.loads((out / "results.json").read_text())["steps"]
    except (OSError, ValueError, KeyError):
        return 0.0
    return sum(s.get("seconds", 0.0) for s in steps if s["key"].startswith("bench-") and s["key"] != "bench-report")


def tiny_llama_config(tiny: bool) -> Any:
    """TinyLlama-1.1B's ``LlamaConfig`` from the repository's copy; with ``tiny``, :data:`TINY_SHAPE`."""
    from helpers import models

    config = models.load_model_config("tinyllama")
    if tiny:
        for key, value in TINY_SHAPE.items():
            setattr(config, key, value)
        config.head_dim = config.hidden_size // config.num_attention_heads
    return config


def t4_folder_name(tiny: bool) -> str:
    """The work folder's subfolder for the random TinyLlama (the tiny one has its own)."""
    return "tinyllama-random-tiny" if tiny else "tinyllama-random"


def step_t4_weights(details: Path, work: Path, tiny: bool = False, **_: Any) -> int:
    """A TinyLlama-shaped model with random weights, saved in fp16 with ``save_pretrained`` for the T4 steps."""
    import torch
    from transformers import LlamaForCausalLM

    from helpers import runtime

    device = runtime.pick_device()
    config = tiny_llama_config(tiny)
    folder = Path(work) / t4_folder_name(tiny)
    shutil.rmtree(folder, ignore_errors=True)
    torch.manual_seed(0)
    start = time.perf_counter()
    with torch.device(device):
        model = LlamaForCausalLM(config)
    model.to(torch.float16).save_pretrained(folder)
    size = sum(p.stat().st_size for p in folder.iterdir())
    result = {"folder": display_path(folder), "parameters": sum(p.numel() for p in model.parameters()),
              "layers": config.num_hidden_layers, "hidden_size": config.hidden_size, "bytes_on_disk": size,
              "seconds": round(time.perf_counter() - start, 1)}
    write_details(details, result)
    print(json.dumps(result, indent=2))
    return 0


@dataclasses.dataclass(frozen=True)
class T4Recipe:
    """What the T4 emulation trains: a recipe's LoRA values and batch, the learning rate its optimizer uses."""

    name: str
    lora: dict[str, Any]
    batch_size: int
    learning_rate: float


def t4_recipe(name: str) -> T4Recipe:
    """The course recipe at batch 8, or the chapter's at its batch 4 (``helpers.recipe``)."""
    from helpers import recipe

    if name == "course":
        return T4Recipe("course", recipe.LORA, 8, recipe.TRAINING["learning_rate"])
    if name == "chapter":
        return T4Recipe("chapter", recipe.CHAPTER_LORA, recipe.CHAPTER_TRAINING["per_device_train_batch_size"],
                        recipe.CHAPTER_TRAINING["learning_rate"])
    raise ValueError(f"unknown recipe {name!r}; choose course or chapter")


def cap_like_a_t4(device: Any) -> tuple[str, list[str]]:
    """Cap this process's CUDA memory at a T4's 15 GiB; return what was done and, on a CPU, what was skipped."""
    import torch

    if device.type != "cuda":
        return "no memory cap", [
            "memory cap skipped on CPU: torch.cuda.set_per_process_memory_fraction limits CUDA's allocator",
            "fp16 skipped on CPU: 4-bit layers compute in float32 and steps run without autocast and GradScaler "
            "(fp16 mixed precision is the T4's CUDA path)"]
    total = torch.cuda.get_device_properties(device).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, T4_MEMORY_CAP / total), device)
    return f"the process capped at 15 GiB of {total / 2**30:.0f} GiB (torch.cuda.set_per_process_memory_fraction)", []


def load_nf4(folder: Path, device: Any, compute: Any) -> Any:
    """The saved model in NF4 the normal way: ``from_pretrained`` with the recipe's ``BitsAndBytesConfig``."""
    from transformers import AutoModelForCausalLM

    from helpers import models, recipe

    cuda = device.type == "cuda"
    base = AutoModelForCausalLM.from_pretrained(
        folder, quantization_config=recipe.bnb_config(device, bnb_4bit_compute_dtype=compute), dtype=compute,
        device_map={"": device.index or 0} if cuda else {"": "cpu"})
    if not cuda:
        models.keep_4bit_layout_for_training(base)
        models.release_weights_file(base)
    return base


def train_steps(model: Any, batch: Any, optimizer: Any, steps: int) -> tuple[list[float], int, float]:
    """``steps`` training steps as the Trainer's fp16 path runs them on CUDA (autocast to float16, a GradScaler;
    plain float32 on a CPU); return each step's seconds, how many the GradScaler skipped, and the last loss."""
    import torch

    cuda = batch.device.type == "cuda"
    scaler = torch.amp.GradScaler(batch.device.type, enabled=cuda)
    seconds, skipped, loss = [], 0, None
    for _ in range(steps):
        start, scale = time.perf_counter(), scaler.get_scale() if cuda else 1.0
        with torch.autocast(batch.device.type, dtype=torch.float16, enabled=cuda):
            loss = model(input_ids=batch, labels=batch).loss
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        skipped += int(cuda and scaler.get_scale() < scale)
        seconds.append(time.perf_counter() - start)
    return seconds, skipped, float(loss.detach())


def step_t4(details: Path, work: Path, recipe_name: str, tiny: bool = False, **_: Any) -> int:
    """Train ``recipe_name`` a few steps on the random TinyLlama the T4 way; measure its peak memory against the
    budget's prediction, its seconds per step, and estimate a T4's."""
    import torch
    from peft import LoraConfig, get_peft_model

    from helpers import budget, console, recipe, runtime
    from programs import bench

    console.quiet_library_output()
    chosen, device, config = t4_recipe(recipe_name), runtime.pick_device(), tiny_llama_config(tiny)
    cuda, seq_len = device.type == "cuda", 32 if tiny else recipe.TRAINING["max_length"]
    cap, notes = cap_like_a_t4(device)
    compute = torch.float16 if cuda else torch.float32
    bench.warm_up_kernels(device, (torch.float32, compute))
    meter = bench.PeakMemory(device)
    model = get_peft_model(load_nf4(Path(work) / t4_folder_name(tiny), device, compute), LoraConfig(**chosen.lora))
    recipe.keep_adapter_in_fp32(model)
    trainable = [p for p in model.train().parameters() if p.requires_grad]
    batch = torch.randint(0, config.vocab_size, (chosen.batch_size, seq_len),
                          generator=torch.Generator().manual_seed(0)).to(device)
    optimizer = torch.optim.AdamW(trainable, lr=chosen.learning_rate, fused=True)
    warmup, timed = (1, 2) if tiny else (2, 4)
    meter.start()
    try:
        seconds, skipped, loss = train_steps(model, batch, optimizer, warmup + timed)
    except torch.OutOfMemoryError as error:
        write_details(details, {"recipe": chosen.name, "error": f"out of memory under the T4's 15 GiB cap: {error}",
                                "measured_bytes": meter.peak(), "memory_cap": cap})
        print(f"out of memory under the T4's 15 GiB cap: {error}", file=sys.stderr)
        return 1
    measured, name = meter.peak(), "float16" if cuda else "float32"
    setup = budget.TrainingSetup("qlora", chosen.batch_size, seq_len, compute_dtype=name, weight_dtype=name,
                                 r=chosen.lora["r"], target_modules=chosen.lora.get("target_modules"),
                                 lora_dropout=chosen.lora["lora_dropout"], device=device.type)
    roof = bench.measure_matmul_peak(seconds=1.0, dtype=torch.float16 if cuda else None)
    per_step = sum(seconds[warmup:]) / timed
    flops = bench.training_flops(chosen.batch_size * seq_len, config, sum(p.numel() for p in trainable))
    if skipped:
        notes.append(f"GradScaler skipped {skipped} of {warmup + timed} optimizer steps (inf/NaN gradients at its "
                     "starting scale), as the Trainer's fp16 path does")
    result = {
        "recipe": chosen.name, "model": f"TinyLlama-shaped, random weights, {config.num_hidden_layers} layers x "
        f"{config.hidden_size}" + (" (tiny)" if tiny else ""),
        "device": runtime.describe_machine(device), "batch_size": chosen.batch_size, "seq_len": seq_len,
        "measured_bytes": measured, "measured_how": meter.method,
        "predicted_bytes": budget.predict_peak_bytes(config, setup),
        "predicted_terms": budget.predict_training_memory(config, setup),
        "within_cap": measured <= T4_MEMORY_CAP, "memory_cap": cap, "compute_dtype": name,
        "precision": "fp16 mixed precision (autocast + GradScaler)" if cuda else "no mixed precision",
        "seconds_per_step": per_step, "final_loss": loss, "roof_dtype": roof["dtype"],
        "roof_flops": roof["flops_per_second"], "flops_per_step": flops,
        "t4_estimate_seconds_per_step": t4_seconds_per_step(per_step, roof["flops_per_second"]),
        "t4_floor_seconds_per_step": t4_floor_seconds(flops), "trainable_parameters": sum(p.numel() for p in trainable),
        "notes": notes,
    }
    write_details(details, result)
    print(json.dumps(result, indent=2))
    return 0


def step_launch(details: Path, work: Path, accelerate_config: str, tiny: bool = False, **_: Any) -> int:
    """``accelerate launch`` of the training script on ``configs/train/smoke_test.yaml`` with one process."""
    import torch
    from accelerate.commands.config.config_args import load_config_from_file

    from programs import train

    result: dict[str, Any] = {"config": accelerate_config}
    try:
        loaded = load_config_from_file(str(REPO_ROOT / accelerate_config))
        result.update(config_accepted=True, distributed_type=str(loaded.distributed_type))
    except Exception as error:  # accelerate's loader raises several kinds; the message is what matters
        result.update(config_accepted=False, config_error=f"{type(error).__name__}: {error}")
    fsdp = "fsdp" in accelerate_config
    if fsdp and not torch.cuda.is_available():
        result["skipped"] = NO_FSDP_ON_CPU
        write_details(details, result)
        return 0 if result["config_accepted"] else 1
    output_dir = Path(work) / "outputs" / f"launch-{Path(accelerate_config).stem}"
    options = ["--config", SMOKE_CONFIG, "--output_dir", str(output_dir),
               *(TINY_TRAIN_OPTIONS if tiny else []), *(FSDP_TRAIN_OPTIONS if fsdp and not tiny else [])]
    command = train.launch_command(accelerate_config, 1, options)
    launcher = [sys.executable, "-m", "accelerate.commands.launch", *command[2:]]  # as lesson 07 runs it
    print("$ " + " ".join(command), flush=True)
    returncode, output = run_echoing(launcher)
    result["started"] = "process 0 of 1 trains on" in output
    result["returncode"] = returncode
    metrics_file = output_dir / train.METRICS_FILE
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        result["metrics"] = {key: metrics.get(key) for key in ("device", "processes", "steps", "tokens",
                                                               "train_seconds", "validation_loss")}
    write_details(details, result)
    return 0 if returncode == 0 and result["config_accepted"] else 1


def run_echoing(command: list[str]) -> tuple[int, str]:
    """Run ``command`` in the repository, echoing its output as it comes (a hang still shows how far it got);
    return its exit code and its output."""
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    return process.wait(), "".join(lines)


STEP_BODIES = {"prepare": step_prepare, "lesson": step_lesson, "bench-report": step_bench_report,
               "t4-weights": step_t4_weights, "t4": step_t4, "launch": step_launch}


def main(argv: list[str] | None = None) -> int:
    """``python -m instructor.gpu_steps KIND ...``: run one step in this process (``gpu_check`` starts it)."""
    parser = argparse.ArgumentParser(prog="python -m instructor.gpu_steps", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=sorted(STEP_BODIES))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--details", type=Path, required=True)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--notebook")
    parser.add_argument("--as", dest="ran_as", default="auto")
    parser.add_argument("--out")
    parser.add_argument("--size")
    parser.add_argument("--recipe", dest="recipe_name")
    parser.add_argument("--accelerate-config")
    args = vars(parser.parse_args(argv))
    kind = args.pop("kind")
    return STEP_BODIES[kind](**{key: value for key, value in args.items() if value is not None})


if __name__ == "__main__":
    sys.exit(main())
