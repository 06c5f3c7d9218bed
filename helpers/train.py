"""Train the Corporate Translator adapter from a YAML config: lesson 04's recipe as a script.

    python -m helpers.train --config configs/train/corporate_translator.yaml
    python -m helpers.train --config configs/train/corporate_translator.yaml --set training.max_steps=5
    accelerate launch --config_file configs/accelerate/ddp.yaml -m helpers.train --config ...

The recipe itself (quantization, LoRA, SFTConfig values) comes from :mod:`helpers.recipe`, the same
code lesson 04 checks itself against; the config file only overrides values. Under ``accelerate
launch`` every process trains on its share of each batch and only the main process writes the
adapter and ``train_metrics.json``. Lesson 07.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from helpers import artifacts, data, evaluation, models, recipe, runtime

TOP_LEVEL_KEYS = {
    "model": "course model name: auto | smollm2 | tinyllama (as COURSE_MODEL)",
    "quantization": "nf4 (QLoRA, the course recipe) or none (LoRA on a full-precision base)",
    "output_dir": "folder for the adapter and train_metrics.json (an old one is moved to <name>.previous)",
    "data_dir": "folder with train/validation/test .jsonl files (default: the course dataset)",
    "eval_examples": "how many validation messages to answer and score after training (default all; 0 skips it)",
    "validation_examples": "how many validation pairs give the final validation loss (default all; 0 skips it)",
    "lora": "LoraConfig values that replace the recipe's",
    "training": "SFTConfig values that replace the recipe's",
}
QUANTIZATIONS = ("nf4", "none")
METRICS_FILE = "train_metrics.json"
CONFIG_COPY = "train_config.yaml"
POSITIVE_INTS = {"r", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "max_length"}


class ConfigError(ValueError):
    """A training config value is missing, unknown or of the wrong kind; the message names the key."""


@dataclasses.dataclass
class TrainConfig:
    """A validated training config: the recipe's values plus the overrides the file and CLI gave."""

    model: str = "auto"
    quantization: str = "nf4"
    output_dir: str = str(artifacts.adapter_dir())
    data_dir: str | None = None
    eval_examples: int | None = None
    validation_examples: int | None = None
    lora: dict[str, Any] = dataclasses.field(default_factory=dict)
    training: dict[str, Any] = dataclasses.field(default_factory=dict)

    def lora_values(self) -> dict[str, Any]:
        return {**recipe.LORA, **self.lora}

    def training_values(self) -> dict[str, Any]:
        return {**recipe.TRAINING, **self.training}


def _field_names(config_class: Any) -> set[str]:
    return {f.name for f in dataclasses.fields(config_class)}


def _check_kind(key: str, value: Any, default: Any) -> Any:
    """Coerce/check ``value`` against the kind of the recipe's ``default``; errors name ``key``."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be a whole number, got {value!r}")
    elif isinstance(default, float):
        if isinstance(value, str):  # YAML reads 5e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key} must be a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        value = float(value)
    elif isinstance(default, str) and not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r}")
    return value


def _check_section(section: str, values: Any, known: set[str], defaults: dict[str, Any], reserved: set[str]) -> dict:
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"{section} must be a mapping of keys to values, got {values!r}")
    checked = {}
    for key, value in values.items():
        name = f"{section}.{key}"
        if key in reserved:
            raise ConfigError(f"{name} is set by the script; use the top-level key instead ({', '.join(reserved)})")
        if key not in known:
            close = sorted(k for k in known if k.startswith(str(key)[:3]))[:5]
            hint = f"; did you mean one of {close}?" if close else ""
            raise ConfigError(f"unknown key {name!r}{hint}")
        if key == "target_modules" and isinstance(value, list):  # peft takes a name, or a list of names
            if not value or not all(isinstance(module, str) for module in value):
                raise ConfigError(f"{name} must be a module name or a list of names, got {value!r}")
        elif key in defaults and defaults[key] is not None:
            value = _check_kind(name, value, defaults[key])
        if key in POSITIVE_INTS and isinstance(value, int) and value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value!r}")
        if key == "learning_rate" and value <= 0:
            raise ConfigError(f"{name} must be positive, got {value!r}")
        if key == "lora_dropout" and not 0 <= value < 1:
            raise ConfigError(f"{name} must be in [0, 1), got {value!r}")
        checked[key] = value
    return checked


def parse_config(values: Any, source: str = "config") -> TrainConfig:
    """Validate a config mapping (from YAML) into a :class:`TrainConfig`; bad keys raise :class:`ConfigError`."""
    from peft import LoraConfig
    from trl import SFTConfig

    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{source} must hold a mapping of keys (e.g. `training: {{max_steps: 40}}`), got {values!r}")
    unknown = sorted(set(values) - set(TOP_LEVEL_KEYS))
    if unknown:
        valid = "\n".join(f"  {key}: {meaning}" for key, meaning in TOP_LEVEL_KEYS.items())
        raise ConfigError(f"unknown key {unknown[0]!r} in {source}; valid top-level keys:\n{valid}")
    config = TrainConfig()
    if "model" in values:
        try:
            config.model = models.resolve_model(str(values["model"])).key
        except models.UnknownModelError as error:
            raise ConfigError(f"model: {error}") from None
    if "quantization" in values:
        if values["quantization"] not in QUANTIZATIONS:
            raise ConfigError(f"quantization must be one of {QUANTIZATIONS}, got {values['quantization']!r}")
        config.quantization = values["quantization"]
    for key in ("output_dir", "data_dir"):
        if values.get(key) is not None:
            setattr(config, key, str(values[key]))
    if values.get("eval_examples") is not None:
        config.eval_examples = _check_kind("eval_examples", values["eval_examples"], 0)
        if config.eval_examples < 0:
            raise ConfigError(f"eval_examples must be 0 or more, got {config.eval_examples}")
    if values.get("validation_examples") is not None:
        config.validation_examples = _check_kind("validation_examples", values["validation_examples"], 0)
        if config.validation_examples < 0:
            raise ConfigError(f"validation_examples must be 0 or more, got {config.validation_examples}")
    config.lora = _check_section("lora", values.get("lora"), _field_names(LoraConfig), recipe.LORA, set())
    sft_defaults = {f.name: f.default for f in dataclasses.fields(SFTConfig) if f.default is not dataclasses.MISSING}
    config.training = _check_section(
        "training", values.get("training"), _field_names(SFTConfig), {**sft_defaults, **recipe.TRAINING},
        {"output_dir"},
    )
    return config


def _set_value(values: dict, assignment: str) -> None:
    """Apply one ``--set section.key=value`` (the value is read as YAML: 3, 5.0e-4, true, all-linear)."""
    if "=" not in assignment:
        raise ConfigError(f"--set needs key=value (e.g. training.max_steps=5), got {assignment!r}")
    dotted, raw = assignment.split("=", 1)
    *sections, key = dotted.strip().split(".")
    target = values
    for section in sections:
        target = target.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"--set {dotted}: {section} is not a section")
    target[key] = yaml.safe_load(raw)


def load_config(path: str | Path | None, assignments: list[str] | None = None) -> TrainConfig:
    """Read a YAML config file (or none: the recipe as is) and apply ``--set`` overrides."""
    values: dict = {}
    source = "the command line"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist (examples are in configs/train/)")
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is not valid YAML: {error}") from None
        source = str(path)
    for assignment in assignments or []:
        if not isinstance(values, dict):
            break
        _set_value(values, assignment)
    return parse_config(values, source)


def _launch_device() -> torch.device:
    """This process's device: its own GPU under a multi-GPU launch, else the best one available."""
    device = runtime.pick_device()
    if device.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def _uses_fsdp() -> bool:
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("1", "true")


def load_model_for_training(config: TrainConfig, device: torch.device) -> Any:
    """The frozen base: NF4 (quant storage in the compute dtype under FSDP, which only shards floats) or full."""
    compute_dtype = runtime.pick_compute_dtype(device)
    if config.quantization == "none":
        return models.load_base_model(config.model, dtype=torch.float32, device=device)
    if _uses_fsdp():
        quantization = recipe.bnb_config(device, bnb_4bit_quant_storage=compute_dtype)
        return models.load_base_model(config.model, quantization_config=quantization, dtype=compute_dtype, place=False)
    return models.load_base_model(
        config.model, quantization_config=recipe.bnb_config(device), dtype=compute_dtype, device=device
    )


def train(config: TrainConfig) -> dict[str, Any]:
    """Train the adapter described by ``config``; the main process saves it and returns the metrics."""
    from trl import SFTTrainer

    start = time.perf_counter()
    device = _launch_device()
    folder = Path(config.data_dir) if config.data_dir else None
    train_pairs, validation_pairs = data.load_split("train", folder), data.load_split("validation", folder)
    if config.validation_examples is not None:
        validation_pairs = validation_pairs.select(range(min(config.validation_examples, len(validation_pairs))))
    args = recipe.sft_config(config.output_dir, device, **config.training)  # also sets up the processes
    main = args.process_index == 0
    print(f"process {args.process_index} of {args.world_size} trains on {device}", flush=True)
    if main:
        artifacts.fresh_output_dir(Path(config.output_dir))
    tokenizer = models.load_tokenizer(config.model)
    model = load_model_for_training(config, device)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=data.as_prompt_completion(train_pairs),
        eval_dataset=data.as_prompt_completion(validation_pairs) if len(validation_pairs) else None,
        processing_class=tokenizer,
        peft_config=recipe.lora_config(**config.lora),
    )
    if not _uses_fsdp():
        recipe.keep_adapter_in_fp32(trainer.model)
    train_start, cpu_start = time.perf_counter(), time.process_time()
    result = trainer.train()
    train_seconds, cpu_seconds = time.perf_counter() - train_start, time.process_time() - cpu_start
    eval_loss = trainer.evaluate()["eval_loss"] if len(validation_pairs) else None
    if trainer.is_fsdp_enabled:
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(config.output_dir)  # writes on the main process only
    if not main:
        return {}

    history = trainer.state.log_history
    tokens = max((h["num_tokens"] for h in history if "num_tokens" in h), default=0)
    losses = [h["loss"] for h in history if "loss" in h]
    trainable, total = trainer.model.get_nb_trainable_parameters()
    metrics: dict[str, Any] = {
        "model": config.model,
        "device": str(device),
        "processes": args.world_size,
        "effective_batch_size": args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size,
        "steps": result.global_step,
        "tokens": int(tokens),
        "train_seconds": round(train_seconds, 2),
        "train_cpu_seconds": round(cpu_seconds, 2),
        "tokens_per_second": round(tokens / train_seconds, 1) if train_seconds else None,
        "first_train_loss": losses[0] if losses else None,
        "last_train_loss": losses[-1] if losses else None,
        "mean_train_loss": result.training_loss,
        "validation_loss": eval_loss,
        "trainable_parameters": trainable,
        "total_parameters": total,
    }
    if config.eval_examples != 0:  # recipes are chosen on validation; only lesson 04 reports the test split
        rows = list(data.load_split("validation", folder))[: config.eval_examples]
        trainer.model.eval()
        score_start = time.perf_counter()
        replies = evaluation.generate_replies(trainer.model, tokenizer, [r["casual"] for r in rows], progress=False)
        metrics["validation_examples_scored"] = len(rows)
        metrics["validation_scores"] = {k: round(v, 4) for k, v in evaluation.lens_scores(replies, rows).items()}
        metrics["validation_chrf"] = round(metrics["validation_scores"]["chrf"], 2)
        metrics["score_seconds"] = round(time.perf_counter() - score_start, 2)
    metrics["total_seconds"] = round(time.perf_counter() - start, 2)
    output = Path(config.output_dir)
    (output / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    resolved = {**dataclasses.asdict(config), "lora": config.lora_values(), "training": config.training_values()}
    (output / CONFIG_COPY).write_text(yaml.safe_dump(resolved, sort_keys=False))  # every value it trained with
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="YAML file (see configs/train/); without it the recipe runs as is")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one value, e.g. --set training.max_steps=5 (repeatable)")
    options = parser.parse_args(argv)
    try:
        config = load_config(options.config, options.set)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    runtime.quiet_library_output()
    metrics = train(config)
    if metrics:
        print(json.dumps(metrics, indent=2))
        print(f"adapter and {METRICS_FILE} saved in {config.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
