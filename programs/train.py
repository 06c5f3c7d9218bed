"""Train the Corporate Translator adapter: lesson 04's recipe as a script, configured the way trl's scripts are.

    python -m programs.train --config configs/train/corporate_translator.yaml
    python -m programs.train --config configs/train/smoke_test.yaml --max_steps 5 --lora_target_modules q_proj v_proj
    accelerate launch --config_file configs/accelerate/ddp.yaml -m programs.train --config ...

Like trl's own ``examples/scripts/sft.py``, a ``TrlParser`` turns dataclasses into options: this
script's :class:`ScriptArguments` (model, data, scoring), :class:`LoraArguments` (trl's ``lora_*``
names), :class:`QuantizationArguments` (``BitsAndBytesConfig``'s names) and trl's ``SFTConfig``
itself. A YAML file (``--config``, flat keys) sets values and ordinary ``--flag value`` options
override it. Every default is the recipe in :mod:`helpers.recipe` — which a test keeps equal to
lesson 04's configs — so a config file holds only what differs. Unlike a plain ``TrlParser``, a wrong key or
value stops the script before any model loads, naming the key (exit code 2).

A program, not a lesson helper: lesson 07 runs it; lesson 05 runs it when lesson 04's adapter is
missing. Under ``accelerate launch`` every process trains on its share of each batch and only the
main process writes the adapter, ``train_metrics.json`` and ``train_config.yaml`` (every value it
trained with, itself a valid ``--config`` file).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import json
import os
import sys
import time
import types
import typing
from pathlib import Path
from typing import Any, Literal

import torch
import yaml

from helpers import artifacts, console, data, evaluation, models, recipe, runtime

METRICS_FILE = "train_metrics.json"
CONFIG_COPY = "train_config.yaml"
LORA_FLAGS = {"r": "lora_r", "lora_alpha": "lora_alpha", "lora_dropout": "lora_dropout", "bias": "lora_bias",
              "task_type": "lora_task_type", "target_modules": "lora_target_modules", "use_rslora": "use_rslora",
              "use_dora": "use_dora"}
"""``LoraConfig`` field -> option (the names of trl's ``ModelConfig``: ``--lora_r``, ``--lora_target_modules``)."""
AT_LEAST_ONE = ("max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "max_length", "lora_r")


class ConfigError(ValueError):
    """A training option is unknown or has a value of the wrong kind; the message names the key."""


@dataclasses.dataclass
class ScriptArguments:
    """What this script adds to trl's options: which model, which data, how much to score."""

    model: str = dataclasses.field(
        default="auto", metadata={"help": "auto | smollm2 | tinyllama; auto defers to COURSE_MODEL, then the hardware"})
    data_dir: str | None = dataclasses.field(
        default=None, metadata={"help": "folder with train/validation/test .jsonl files (default: the course data)"})
    eval_examples: int | None = dataclasses.field(
        default=None, metadata={"help": "validation messages answered and scored after training (none: all; 0: skip)"})
    validation_examples: int | None = dataclasses.field(
        default=None, metadata={"help": "validation pairs that give the validation loss (none: all; 0: skip)"})

    def __post_init__(self) -> None:
        for key in ("eval_examples", "validation_examples"):
            if getattr(self, key) is not None and getattr(self, key) < 0:
                raise ConfigError(f"{key} must be 0 or more (or none for all), got {getattr(self, key)}")


@dataclasses.dataclass
class LoraArguments:
    """The sticky notes: ``LoraConfig`` values under trl's ``--lora_*`` names (lesson 02)."""

    lora_r: int = dataclasses.field(default=recipe.LORA["r"], metadata={"help": "rank r of A and B"})
    lora_alpha: int = dataclasses.field(default=recipe.LORA["lora_alpha"], metadata={"help": "scaling = alpha / r"})
    lora_dropout: float = dataclasses.field(default=recipe.LORA["lora_dropout"], metadata={"help": "in [0, 1)"})
    lora_bias: Literal["none", "all", "lora_only"] = recipe.LORA["bias"]
    lora_task_type: str = recipe.LORA["task_type"]
    lora_target_modules: list[str] | None = dataclasses.field(
        default=recipe.LORA["target_modules"],
        metadata={"help": "all-linear, or module names (q_proj v_proj: the chapter's targets)"})
    use_rslora: bool = recipe.LORA.get("use_rslora", False)
    use_dora: bool = recipe.LORA.get("use_dora", False)

    def __post_init__(self) -> None:
        if isinstance(self.lora_target_modules, list) and len(self.lora_target_modules) == 1:
            self.lora_target_modules = self.lora_target_modules[0]  # "all-linear" is a keyword, not a module name
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.lora_alpha <= 0:
            raise ConfigError(f"lora_alpha must be positive, got {self.lora_alpha}")

    def lora_config_values(self) -> dict[str, Any]:
        """Keyword arguments for ``LoraConfig``."""
        return {key: getattr(self, flag) for key, flag in LORA_FLAGS.items()}


@dataclasses.dataclass
class QuantizationArguments:
    """The frozen book in 4 bits: ``BitsAndBytesConfig`` values (lesson 01); ``--load_in_4bit false`` is plain LoRA."""

    load_in_4bit: bool = recipe.QUANTIZATION["load_in_4bit"]
    bnb_4bit_quant_type: Literal["nf4", "fp4"] = recipe.QUANTIZATION["bnb_4bit_quant_type"]
    bnb_4bit_use_double_quant: bool = recipe.QUANTIZATION["bnb_4bit_use_double_quant"]


@dataclasses.dataclass
class TrainConfig:
    """One run's configuration: the parsed options and the model, resolved once."""

    script: ScriptArguments
    lora: LoraArguments
    quantization: QuantizationArguments
    training: Any  # trl.SFTConfig
    model: models.ModelSpec
    explicit: set[str] = dataclasses.field(default_factory=set)  # keys the config file or command line set

    def values(self) -> dict[str, Any]:
        """Every value the run trains with, as flat keys: a valid ``--config`` file (``train_config.yaml``)."""
        sft = self.training.to_dict()
        sft_keys = [key for key in sft if key in recipe.sft_values("", torch.device("cpu")) or key in self.explicit]
        return {**dataclasses.asdict(self.script), "model": self.model.key, **dataclasses.asdict(self.lora),
                **dataclasses.asdict(self.quantization), **{key: sft[key] for key in sft_keys}}


# --- parsing ------------------------------------------------------------------------------------------------


def _kind(hint: Any) -> tuple[Any, bool]:
    """``(kind, accepts None)`` of a dataclass field: bool/int/float/str, ``(list, item kind)``, or None (leave
    it to the library: choices, unions, dicts)."""
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        optional = len(members) < len(typing.get_args(hint))
        if len(members) != 1:
            return None, optional
        hint = members[0]
    if typing.get_origin(hint) is list and typing.get_args(hint)[0] in (bool, int, float, str):
        return (list, typing.get_args(hint)[0]), optional
    return (hint if hint in (bool, int, float, str) else None), optional


def _converter(key: str, kind: type, optional: bool):
    """A strict ``type`` for option ``key``: accepts the kind itself or its text; the error names the key."""
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}

    def convert(value: Any) -> Any:
        if optional and (value is None or (kind is not str and str(value).lower() in ("none", "null"))):
            return None
        if isinstance(value, bool) != (kind is bool) and not isinstance(value, str):
            raise argparse.ArgumentTypeError(f"{key} must be {words[kind]}, got {value!r}")
        if kind is bool and isinstance(value, str):
            if value.lower() in ("true", "yes", "t", "y", "1"):
                return True
            if value.lower() in ("false", "no", "f", "n", "0"):
                return False
            raise argparse.ArgumentTypeError(f"{key} must be {words[kind]}, got {value!r}")
        if kind is str and not isinstance(value, str):
            raise argparse.ArgumentTypeError(f"{key} must be {words[kind]}, got {value!r}")
        if kind is int and isinstance(value, float):
            raise argparse.ArgumentTypeError(f"{key} must be {words[kind]}, got {value!r}")
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{key} must be {words[kind]}, got {value!r}") from None

    convert.__name__ = key
    return convert


@functools.cache
def _parser_class() -> type:
    """The parser class, defined on first use: importing trl takes seconds, and ``--help`` or a typo should not wait."""
    from trl import TrlParser

    class TrainParser(TrlParser):
        """trl's ``TrlParser`` with named errors: unknown keys (with a did-you-mean) and values of the wrong kind
        raise :class:`ConfigError`, from the YAML file and from the command line alike."""

        def __init__(self, dataclass_types: list[type], **kwargs: Any) -> None:
            super().__init__(dataclass_types, allow_abbrev=False, **kwargs)
            self.kinds: dict[str, tuple[Any, bool]] = {}
            for dtype in dataclass_types:
                hints = typing.get_type_hints(dtype)
                self.kinds |= {f.name: _kind(hints[f.name]) for f in dataclasses.fields(dtype) if f.init}
            for action in self._actions:
                kind, optional = self.kinds.get(action.dest, (None, False))
                if kind is not None and action.nargs != 0:  # not the store_false twin of a bool (--no_x)
                    action.type = _converter(action.dest, kind[1] if isinstance(kind, tuple) else kind, optional)
            self.explicit: set[str] = set()

        def error(self, message: str) -> typing.NoReturn:
            where, _, what = message.partition(": ")
            if where.startswith("argument ") and what.split(" ", 1)[0] in self.kinds:
                raise ConfigError(what)  # our converters' messages already name the key
            raise ConfigError(message.replace("argument ", "option ", 1))

        def unknown_key(self, key: str, where: str) -> ConfigError:
            close = difflib.get_close_matches(key, self.kinds, n=3, cutoff=0.75)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            return ConfigError(f"unknown key {key!r} {where}{hint} (`python -m programs.train --help` lists them)")

        def check_value(self, key: str, value: Any) -> Any:
            """A YAML value as the command line would have read it (``TrlParser`` itself does not check them)."""
            action = next(a for a in self._actions if a.dest == key and a.nargs != 0)
            kind, optional = self.kinds[key]
            try:
                if value is None:
                    if not optional:
                        raise argparse.ArgumentTypeError(f"{key} needs a value, got null")
                elif isinstance(kind, tuple):  # a list option also takes one item
                    value = [action.type(v) for v in value] if isinstance(value, list) else action.type(value)
                elif kind is not None:
                    value = action.type(value)
            except argparse.ArgumentTypeError as error:
                raise ConfigError(str(error)) from None
            if action.choices is not None and value is not None and value not in action.choices:
                raise ConfigError(f"{key} must be one of {list(action.choices)}, got {value!r}")
            return value

        def set_defaults_with_config(self, **values: Any) -> list[str]:
            for key in values:
                if key not in self.kinds:
                    raise self.unknown_key(key, f"in {self.source}")
            checked = {key: self.check_value(key, value) for key, value in values.items()}
            self.explicit |= set(checked)
            return super().set_defaults_with_config(**checked)

        def parse_args_and_config(self, args: list[str] | None = None, **_: Any) -> tuple[Any, ...]:
            args = list(sys.argv[1:] if args is None else args)
            self.source = "the command line"
            if "--config" in args:
                where = args.index("--config") + 1
                self.source = _check_config_file(args[where] if where < len(args) else None)
            try:
                *parsed, _, leftover = super().parse_args_and_config(
                    args, return_remaining_strings=True, separate_remaining_strings=True)
            except ConfigError:
                raise
            except ValueError as error:  # a library's own check, e.g. SFTConfig(bf16=True) on a CPU
                raise ConfigError(str(error)) from None
            for token in leftover:
                if token.startswith("-"):
                    raise self.unknown_key(token.lstrip("-").split("=")[0].replace("-", "_"), "on the command line")
            if leftover:
                raise ConfigError(f"unexpected value(s) {leftover} on the command line (options take one --key each)")
            self.explicit |= self._flags_in(args)
            return tuple(parsed)

        def _flags_in(self, args: list[str]) -> set[str]:
            names = {token[2:].split("=")[0].replace("-", "_") for token in args if token.startswith("--")}
            return {name.removeprefix("no_") if name not in self.kinds else name for name in names} & set(self.kinds)

    return TrainParser


def _check_config_file(path: str | None) -> str:
    """The ``--config`` file must exist and hold a YAML mapping; say so by name before trl reads it."""
    if path is None:
        raise ConfigError("--config needs a file name (examples are in configs/train/)")
    if not Path(path).is_file():
        raise ConfigError(f"config file {path} does not exist (examples are in configs/train/)")
    try:
        values = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as error:  # its own message names "<unicode string>": say which file, which line
        mark = getattr(error, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{where} is not valid YAML ({problem}); each line should read `key: value`") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path} must hold a mapping of keys to values (e.g. `max_steps: 40`), got {values!r}")
    return str(path)


def recipe_defaults(device: torch.device) -> dict[str, Any]:
    """The parser's starting values: the recipe's ``LoraConfig``, 4-bit and ``SFTConfig`` values, as options.

    The output folder is where lesson 05 looks (``$COURSE_OUTPUT_DIR`` honoured)."""
    lora = {LORA_FLAGS[key]: value for key, value in recipe.LORA.items()}  # a new recipe key must get an option
    return {**lora, **recipe.QUANTIZATION, **recipe.sft_values(str(artifacts.adapter_dir()), device)}


def build_parser(device: torch.device | None = None) -> Any:
    """The script's ``TrlParser``, starting from :func:`recipe_defaults` for ``device`` (default: this machine's)."""
    from trl import SFTConfig

    parser = _parser_class()([ScriptArguments, LoraArguments, QuantizationArguments, SFTConfig],
                             prog="python -m programs.train", description=__doc__.split("\n\n")[0])
    parser.set_defaults(**recipe_defaults(device or runtime.pick_device()))
    return parser


def parse_arguments(argv: list[str] | None = None) -> TrainConfig:
    """Options (``--config file.yaml`` and ``--key value``) -> a checked :class:`TrainConfig`; errors raise
    :class:`ConfigError`, naming the key, before anything is loaded."""
    parser = build_parser()
    script, lora, quantization, training = parser.parse_args_and_config(argv)
    for key in AT_LEAST_ONE:
        value = getattr(training, key, None) if hasattr(training, key) else getattr(lora, key)
        if value is not None and value < 1:
            raise ConfigError(f"{key} must be at least 1, got {value}")
    if training.learning_rate <= 0:
        raise ConfigError(f"learning_rate must be positive, got {training.learning_rate}")
    try:
        spec = models.resolve_model(script.model)
    except models.UnknownModelError as error:
        raise ConfigError(f"model: {error}") from None
    return TrainConfig(script, lora, quantization, training, spec, parser.explicit)


def as_options(values: dict[str, Any]) -> list[str]:
    """``{key: value}`` as command-line options: ``--key value``; a list gives several values, None gives ``none``."""
    options: list[str] = []
    for key, value in values.items():
        items = value if isinstance(value, list) else [value]
        options += [f"--{key}", *("none" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                                   for v in items)]
    return options


def launch_command(accelerate_config: str | Path, processes: int, options: list[str]) -> list[str]:
    """``accelerate launch`` of this script with ``processes`` processes (one per GPU, or CPU processes over gloo)."""
    return ["accelerate", "launch", "--config_file", str(accelerate_config), "--num_processes", str(processes),
            "-m", "programs.train", *options]


# --- training -----------------------------------------------------------------------------------------------


def _launch_device() -> torch.device:
    """This process's device: its own GPU under a multi-GPU launch, else the best one available."""
    device = runtime.pick_device()
    if device.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def _uses_fsdp() -> bool:
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("1", "true")


def load_model_for_training(config: TrainConfig, device: torch.device) -> Any:
    """The frozen base: 4-bit (quant storage in the compute dtype under FSDP, which only shards floats) or full."""
    compute_dtype = runtime.pick_compute_dtype(device)
    if not config.quantization.load_in_4bit:
        return models.load_base_model(config.model, dtype=torch.float32, device=device)
    values = dataclasses.asdict(config.quantization)
    if _uses_fsdp():
        quantization = recipe.bnb_config(device, **values, bnb_4bit_quant_storage=compute_dtype)
        return models.load_base_model(config.model, quantization_config=quantization, dtype=compute_dtype, place=False)
    return models.load_base_model(
        config.model, quantization_config=recipe.bnb_config(device, **values), dtype=compute_dtype, device=device
    )


def train(config: TrainConfig) -> dict[str, Any]:
    """Train the adapter described by ``config``; the main process saves it and returns the metrics."""
    from trl import SFTTrainer

    start = time.perf_counter()
    device = _launch_device()
    script, args = config.script, config.training
    folder = Path(script.data_dir) if script.data_dir else None
    train_pairs, validation_pairs = data.load_split("train", folder), data.load_split("validation", folder)
    if script.validation_examples is not None:
        validation_pairs = validation_pairs.select(range(min(script.validation_examples, len(validation_pairs))))
    main = args.process_index == 0
    print(f"process {args.process_index} of {args.world_size} trains on {device}", flush=True)
    if main:
        artifacts.fresh_output_dir(Path(args.output_dir))
    tokenizer = models.load_tokenizer(config.model)
    model = load_model_for_training(config, device)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=data.as_prompt_completion(train_pairs),
        eval_dataset=data.as_prompt_completion(validation_pairs) if len(validation_pairs) else None,
        processing_class=tokenizer,
        peft_config=recipe.lora_config(**config.lora.lora_config_values()),
    )
    if not _uses_fsdp():
        recipe.keep_adapter_in_fp32(trainer.model)
    train_start, cpu_start = time.perf_counter(), time.process_time()
    result = trainer.train()
    train_seconds, cpu_seconds = time.perf_counter() - train_start, time.process_time() - cpu_start
    eval_loss = trainer.evaluate()["eval_loss"] if len(validation_pairs) else None
    if trainer.is_fsdp_enabled:
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(args.output_dir)  # writes on the main process only
    if not main:
        return {}

    history = trainer.state.log_history
    tokens = max((h["num_tokens"] for h in history if "num_tokens" in h), default=0)
    losses = [h["loss"] for h in history if "loss" in h]
    trainable, total = trainer.model.get_nb_trainable_parameters()
    metrics: dict[str, Any] = {
        "model": config.model.key,
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
    if script.eval_examples != 0:  # recipes are chosen on validation; only lesson 04 reports the test split
        rows = list(data.load_split("validation", folder))[: script.eval_examples]
        trainer.model.eval()
        score_start = time.perf_counter()
        replies = evaluation.generate_replies(trainer.model, tokenizer, [r["casual"] for r in rows], progress=False)
        metrics["validation_examples_scored"] = len(rows)
        metrics["validation_scores"] = {k: round(v, 4) for k, v in evaluation.lens_scores(replies, rows).items()}
        metrics["validation_chrf"] = round(metrics["validation_scores"]["chrf"], 2)
        metrics["score_seconds"] = round(time.perf_counter() - score_start, 2)
    metrics["total_seconds"] = round(time.perf_counter() - start, 2)
    output = Path(args.output_dir)
    (output / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    (output / CONFIG_COPY).write_text(yaml.safe_dump(config.values(), sort_keys=False))
    return metrics


def main(argv: list[str] | None = None) -> int:
    console.quiet_library_output()  # before trl and bitsandbytes load: their chatter would bury a config error
    try:
        config = parse_arguments(argv)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    metrics = train(config)
    if metrics:
        print(json.dumps(metrics, indent=2))
        print(f"adapter, {METRICS_FILE} and {CONFIG_COPY} saved in {config.training.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
