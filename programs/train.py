"""Train the Corporate Translator adapter: lesson 04's recipe as a script, the way trl's ``examples/scripts/sft.py`` is.

    python -m programs.train --config configs/train/smoke_test.yaml --max_steps 5 --lora_target_modules q_proj v_proj
    accelerate launch --config_file configs/accelerate/ddp.yaml -m programs.train --config ...

Options (and ``--config`` YAML keys) are trl's ``SFTConfig`` and ``ModelConfig`` and :class:`ScriptArguments`,
starting from the recipe in :mod:`helpers.recipe`. Lessons 05, 07 and ``programs.bench`` run it (:func:`run_training`).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import sys
import time
from argparse import ArgumentError
from pathlib import Path
from typing import Any

import torch
import yaml

from helpers import artifacts, console, data, evaluation, models, recipe, run_size, runtime

METRICS_FILE = "train_metrics.json"
CONFIG_COPY = "train_config.yaml"
OPTION_NAMES = {"r": "lora_r", "target_modules": "lora_target_modules", "task_type": "lora_task_type",
                "bnb_4bit_use_double_quant": "use_bnb_nested_quant"}
"""The recipe's names that ``ModelConfig`` spells otherwise (its ``bias`` is always "none", as the recipe's is)."""
CHECKS = {**dict.fromkeys(("max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "lora_r",
                           "lora_alpha"), ("at least 1", lambda v: v >= 1)),
          **dict.fromkeys(("eval_examples", "validation_examples"), ("0 or more", lambda v: v is None or v >= 0)),
          "model": (f"one of {list(models.CHOICES)}", lambda v: v in models.CHOICES),
          "lora_dropout": ("in [0, 1)", lambda v: 0 <= v < 1), "learning_rate": ("positive", lambda v: v > 0),
          "dtype": ("float32, bfloat16 or float16", lambda v: v in ("float32", "bfloat16", "float16")),
          "model_name_or_path": ("left out (--model picks the course's model)", lambda v: v is None)}


class ConfigError(ValueError):
    """A training option is unknown or has a bad value; the message names the key and what to do."""


def count_or_none(text: str) -> int | None:  # --eval_examples 12; none (or all): every example
    return None if text.lower() in ("none", "all") else int(text)


def _option(default: Any, text: str) -> Any:
    return dataclasses.field(default=default, metadata={"help": text})


@dataclasses.dataclass
class ScriptArguments:
    """What this script adds to trl's options: which model, which data, how much to score."""

    model: str = _option("auto", f"one of {list(models.CHOICES)}; auto: $COURSE_MODEL, else the hardware decides")
    data_dir: str | None = _option(None, "folder of train/validation .jsonl files (default: the course data)")
    eval_examples: int | None = _option(None, "validation messages answered and scored at the end (none: all; 0: skip)")
    validation_examples: int | None = _option(None, "validation pairs giving the validation loss (none: all; 0: none)")


def recipe_defaults(device: torch.device) -> dict[str, Any]:
    """The parser's starting values: the recipe's LoRA, 4-bit and ``SFTConfig`` values under the options' names,
    precision for ``device``; the adapter goes where lesson 05 looks (``$COURSE_OUTPUT_DIR`` honoured)."""
    model = {OPTION_NAMES.get(k, k): v for k, v in (recipe.LORA | recipe.QUANTIZATION).items() if k != "bias"}
    dtype = str(runtime.pick_compute_dtype(device)).removeprefix("torch.")  # also the 4-bit compute dtype
    return {**model, "use_peft": True, "dtype": dtype, **recipe.sft_values(str(artifacts.adapter_dir()), device)}


def _as_text(value: Any) -> Any:  # a YAML value as the command line would give it (lists item by item)
    if isinstance(value, list):
        return [_as_text(item) for item in value]
    return str(value).lower() if isinstance(value, bool) else str(value) if isinstance(value, int | float) else value


def build_parser(device: torch.device | None = None) -> Any:
    """trl's ``TrlParser`` over ``(ScriptArguments, SFTConfig, ModelConfig)``, starting from :func:`recipe_defaults`."""
    from trl import ModelConfig, SFTConfig, TrlParser

    class Parser(TrlParser):  # a config file's values as text: argparse converts and checks them like options
        def set_defaults_with_config(self, **values: Any) -> list[str]:
            return super().set_defaults_with_config(**{key: _as_text(value) for key, value in values.items()})

    parser = Parser((ScriptArguments, SFTConfig, ModelConfig), prog="python -m programs.train", allow_abbrev=False,
                    description=__doc__.split("\n\n")[0], epilog="--config FILE: keys in YAML", exit_on_error=False)
    parser.set_defaults(**recipe_defaults(device or runtime.pick_device()))
    for action in (a for a in parser._actions if a.dest in ("eval_examples", "validation_examples")):
        action.type = count_or_none
    return parser


def _unknown(tokens: list[str], known: set[str], where: str) -> ConfigError:
    keys = [token.lstrip("-").split("=")[0] for token in tokens if token.startswith("-")]
    if not keys:
        return ConfigError(f"unexpected value(s) {tokens} {where} (options take one --key each)")
    close = difflib.get_close_matches(keys[0], list(known), n=2, cutoff=0.75)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
    return ConfigError(f"unknown key {keys[0]!r} {where}{hint} (`python -m programs.train --help` lists them)")


def parse_arguments(argv: list[str] | None = None) -> tuple[ScriptArguments, Any, Any]:
    """``--config FILE`` and ``--key value`` options -> checked ``(script_args, training_args, model_args)`` (the
    model key resolved), or :class:`ConfigError` naming what is wrong and where, before anything loads."""
    argv, parser = list(sys.argv[1:] if argv is None else argv), build_parser()
    if argv[-1:] == ["--config"]:
        raise ConfigError("--config needs a file name (examples are in configs/train/)")
    try:
        *parsed, in_file, left = parser.parse_args_and_config(argv, return_remaining_strings=True,
                                                              separate_remaining_strings=True)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{mark.name}:{mark.line + 1}:{mark.column + 1}" if mark else "--config"
        raise ConfigError(f"{where}: not valid YAML ({getattr(error, 'problem', error)}); write `key: value`") from None
    except (ArgumentError, ValueError, OSError) as error:  # argparse's, a library's own check, a missing file
        raise ConfigError(str(error).replace("argument ", "", 1)) from None
    for tokens, where in ((in_file, "in the --config file"), (left, "on the command line")):
        if tokens:
            raise _unknown(tokens, {a.dest for a in parser._actions}, where)
    for key, (words, ok) in CHECKS.items():
        value = getattr(next(a for a in parsed if hasattr(a, key)), key)
        try:
            fine = ok(value)
        except TypeError:  # None (YAML's null) where a number belongs
            fine = False
        if not fine:
            raise ConfigError(f"{key} must be {words}, got {value!r}")
    parsed[0].model = models.resolve_model(parsed[0].model).key  # auto: $COURSE_MODEL, else the hardware decides
    return tuple(parsed)


def launch_command(accelerate_config: str | Path, processes: int, options: list[str]) -> list[str]:
    """``accelerate launch`` of this script with ``processes`` processes (one per GPU, or CPU processes over gloo)."""
    return ["accelerate", "launch", "--config_file", str(accelerate_config), "--num_processes", str(processes),
            "-m", "programs.train", *options]


def _launch_device() -> torch.device:  # this process's own GPU under a multi-GPU launch, else the best device
    device = runtime.pick_device()
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if device.type == "cuda" else device


def load_model_for_training(model_args: Any, spec: models.ModelSpec, device: torch.device, fsdp: bool) -> Any:
    """The frozen base from ``get_quantization_config(model_args)``: 4-bit, or full in ``model_args.dtype``. Under
    FSDP, which only shards floats, 4-bit weights are stored in the compute dtype and placement is left to it."""
    from trl import get_quantization_config

    if fsdp and model_args.bnb_4bit_quant_storage is None:
        model_args.bnb_4bit_quant_storage = model_args.dtype
    quantization = get_quantization_config(model_args)
    return models.load_base_model(spec, quantization_config=quantization, dtype=getattr(torch, model_args.dtype),
                                  device=device, place=not (fsdp and quantization is not None))


def trained_values(script_args: ScriptArguments, training_args: Any, model_args: Any) -> dict[str, Any]:
    """Every value trained with, as a valid ``--config`` file (of ``SFTConfig``: the recipe's keys and any other
    that differs from a plain ``SFTConfig`` on this device)."""
    from trl import SFTConfig

    sft = training_args.to_dict()
    same = ("output_dir", "use_cpu", "bf16", "fp16", "activation_checkpointing")
    plain = SFTConfig(**{k: sft[k] for k in same}).to_dict()
    keep = set(recipe.sft_values("", torch.device("cpu"))) | {k for k in sft if sft[k] != plain[k]}
    return dataclasses.asdict(script_args) | {k: sft[k] for k in sft if k in keep} | dataclasses.asdict(model_args)


def run_training(script_args: ScriptArguments, training_args: Any, model_args: Any,
                 callbacks: tuple[Any, ...] = ()) -> dict[str, Any]:
    """Train the adapter; the main process saves it with its metrics and config and returns the metrics ({} on
    the others). ``callbacks`` go to the trainer (``programs.bench`` measures memory with one)."""
    from trl import SFTTrainer, get_peft_config

    start, device, spec = time.perf_counter(), _launch_device(), models.resolve_model(script_args.model)
    fsdp = os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("1", "true")  # FSDP-QLoRA (lesson 07)
    folder = Path(script_args.data_dir) if script_args.data_dir else None
    validation, wanted = data.load_split("validation", folder), script_args.validation_examples
    validation = validation.select(range(len(validation) if wanted is None else min(wanted, len(validation))))
    validation = run_size.rows(validation, short=4)  # the test suite's shortened run: 4 (helpers/run_size.py)
    main, output = training_args.process_index == 0, Path(training_args.output_dir)
    print(f"process {training_args.process_index} of {training_args.world_size} trains on {device}", flush=True)
    if main:
        artifacts.fresh_output_dir(output)
    tokenizer = models.load_tokenizer(spec)
    trainer = SFTTrainer(model=load_model_for_training(model_args, spec, device, fsdp), args=training_args,
                         train_dataset=data.as_prompt_completion(data.load_split("train", folder)),
                         eval_dataset=data.as_prompt_completion(validation) if len(validation) else None,
                         processing_class=tokenizer, peft_config=get_peft_config(model_args), callbacks=[*callbacks])
    if not fsdp:
        recipe.keep_adapter_in_fp32(trainer.model)
    train_start, cpu_start = time.perf_counter(), time.process_time()
    result = trainer.train()
    seconds = (time.perf_counter() - train_start, time.process_time() - cpu_start)
    history = list(trainer.state.log_history)
    curve = [[h["step"], h["eval_loss"]] for h in history if "eval_loss" in h]
    if len(validation) and (not curve or curve[-1][0] != result.global_step):
        curve.append([result.global_step, trainer.evaluate()["eval_loss"]])  # every process takes part
    if trainer.is_fsdp_enabled:
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(training_args.output_dir)  # writes on the main process only
    if not main:
        return {}
    metrics = {"model": spec.key, "device": str(device), **_metrics(trainer, result, history, curve, seconds)}
    if script_args.eval_examples != 0:  # recipes are chosen on validation; only lesson 04 reports the test split
        scored = list(data.load_split("validation", folder))[:script_args.eval_examples]
        metrics |= _score(trainer, tokenizer, run_size.rows(scored, short=4))  # 4 in a shortened run
    metrics["total_seconds"] = round(time.perf_counter() - start, 2)
    (output / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    values = trained_values(script_args, training_args, model_args)
    (output / CONFIG_COPY).write_text(yaml.safe_dump(values, sort_keys=False))
    return metrics


def _metrics(trainer: Any, result: Any, history: list[dict], curve: list, seconds: tuple[float, float]) -> dict:
    args, lora = trainer.args, trainer.model.peft_config["default"]
    seconds, cpu = seconds[0] - sum(h.get("eval_runtime", 0) for h in history), seconds[1]  # evaluations out
    tokens = max((h["num_tokens"] for h in history if "num_tokens" in h), default=0)
    losses = [h["loss"] for h in history if "loss" in h] or [None]
    trainable, total = trainer.model.get_nb_trainable_parameters()
    return {"processes": args.world_size, "steps": result.global_step, "effective_batch_size":
            args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size,
            "tokens": int(tokens), "train_seconds": round(seconds, 2), "train_cpu_seconds": round(cpu, 2),
            "tokens_per_second": round(tokens / seconds, 1), "first_train_loss": losses[0],
            "last_train_loss": losses[-1], "mean_train_loss": result.training_loss,
            "validation_loss": curve[-1][1] if curve else None, "validation_curve": curve,
            "trainable_parameters": trainable, "total_parameters": total, "lora_dropout": lora.lora_dropout,
            "target_modules": sorted(lora.target_modules)}


def _score(trainer: Any, tokenizer: Any, rows: list[dict[str, str]]) -> dict[str, Any]:  # every lens of lesson 04
    trainer.model.eval()
    start = time.perf_counter()
    replies = evaluation.generate_replies(trainer.model, tokenizer, [r["casual"] for r in rows], progress=False)
    scores = {key: round(value, 4) for key, value in evaluation.lens_scores(replies, rows).items()}
    return {"validation_examples_scored": len(rows), "validation_scores": scores,
            "validation_chrf": round(scores["chrf"], 2), "score_seconds": round(time.perf_counter() - start, 2)}


def main(argv: list[str] | None = None) -> int:
    console.quiet_library_output()  # before trl and bitsandbytes load: their chatter would bury a config error
    try:
        args = parse_arguments(argv)
    except (ConfigError, models.UnknownModelError) as error:  # the latter from $COURSE_MODEL
        print(f"config error: {error}", file=sys.stderr)
        return 2
    if metrics := run_training(*args):
        print(json.dumps(metrics, indent=2))
        print(f"adapter, {METRICS_FILE} and {CONFIG_COPY} saved in {args[1].output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
