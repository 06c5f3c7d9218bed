"""The training script: its options (trl's TrlParser over ScriptArguments/SFTConfig/ModelConfig, starting from the
recipe), one named error per way an option can be wrong, the saved config, the metrics, the DDP plumbing (cheap:
lesson 07 runs the real two-process job). The script's real run, with the course's config, is the one lesson 05
makes when it is opened alone (tests/test_lessons.py checks what that run saved)."""

import dataclasses
from types import SimpleNamespace

import pytest
import torch
import yaml

from helpers import artifacts, models, recipe
from helpers.paths import REPO_ROOT
from programs import train

SMOKE = REPO_ROOT / "configs" / "train" / "smoke_test.yaml"
SHIPPED = sorted((REPO_ROOT / "configs" / "train").glob("*.yaml"))


def write_config(tmp_path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_without_options_trl_builds_the_recipes_configs(tmp_path, monkeypatch):
    from trl import get_peft_config, get_quantization_config

    monkeypatch.setenv(artifacts.OUTPUT_ENV, str(tmp_path))
    script_args, training_args, model_args = train.parse_arguments([])
    lora, expected = get_peft_config(model_args), recipe.lora_config()
    for key in recipe.LORA:
        assert getattr(lora, key) == getattr(expected, key), f"LoraConfig.{key}"
    quantization, expected = get_quantization_config(model_args), recipe.bnb_config(torch.device("cpu"))
    for key in [*recipe.QUANTIZATION, "bnb_4bit_compute_dtype"]:
        assert getattr(quantization, key) == getattr(expected, key), f"BitsAndBytesConfig.{key}"
    got = training_args.to_dict()
    sft = recipe.sft_values(str(tmp_path / artifacts.ADAPTER_NAME), torch.device("cpu"))
    assert {key: got[key] for key in sft} == {**sft, "report_to": []}
    assert script_args == train.ScriptArguments(model="smollm2"), "auto resolves to the embedded model on a CPU"


def test_every_recipe_value_has_an_option_and_trl_keeps_the_recipes_bias():
    parser = train.build_parser(torch.device("cpu"))
    options = {action.dest for action in parser._actions}
    names = [train.OPTION_NAMES.get(key, key) for key in [*recipe.LORA, *recipe.QUANTIZATION] if key != "bias"]
    assert set(names) | set(recipe.TRAINING) <= options
    assert recipe.LORA["bias"] == "none", "trl's get_peft_config always trains bias='none'"


def test_the_file_sets_values_and_the_command_line_wins(tmp_path):
    path = write_config(tmp_path, "max_steps: 7\nlearning_rate: 2e-4\nlora_target_modules: all-linear\n"
                                  "load_in_4bit: false\neval_examples: null\n")
    script_args, training_args, model_args = train.parse_arguments(
        ["--config", path, "--max_steps", "9", "--lora_target_modules", "q_proj", "v_proj"])
    assert training_args.max_steps == 9, "the command line wins over the file"
    assert training_args.learning_rate == pytest.approx(2e-4), "YAML reads 2e-4 (no dot) as text: still a number"
    assert model_args.lora_target_modules == ["q_proj", "v_proj"] and model_args.load_in_4bit is False
    assert script_args.eval_examples is None
    assert train.parse_arguments(["--lora_target_modules", "all-linear"])[2].lora_target_modules == "all-linear"
    assert train.parse_arguments(["--eval_examples", "none"])[0].eval_examples is None
    assert train.parse_arguments(["--validation_examples", "0"])[0].validation_examples == 0


BAD_OPTIONS = [  # one per way an option on the command line can be wrong
    (["--learnin_rate", "1e-4"], "unknown key 'learnin_rate' on the command line; did you mean 'learning_rate'?"),
    (["--max_step", "3"], "unknown key 'max_step' on the command line; did you mean 'max_steps'?"),  # no abbreviations
    (["--rank", "8"], "unknown key 'rank' on the command line (`python -m programs.train --help` lists them)"),
    (["--max_steps", "3", "4"], "unexpected value(s) ['4'] on the command line"),
    (["--max_steps", "many"], "--max_steps/--max-steps: invalid int value: 'many'"),
    (["--lora_r", "2.5"], "--lora_r/--lora-r: invalid int value: '2.5'"),
    (["--learning_rate", "fast"], "--learning_rate/--learning-rate: invalid float value: 'fast'"),
    (["--activation_checkpointing", "maybe"], "Truthy value expected: got maybe"),
    (["--lr_scheduler_type", "cosin"], "invalid choice: 'cosin'"),
    (["--max_steps", "0"], "max_steps must be at least 1, got 0"),
    (["--per_device_train_batch_size", "0"], "per_device_train_batch_size must be at least 1, got 0"),
    (["--learning_rate", "-1"], "learning_rate must be positive, got -1.0"),
    (["--lora_dropout", "1.5"], "lora_dropout must be in [0, 1), got 1.5"),
    (["--eval_examples", "-1"], "eval_examples must be 0 or more, got -1"),
    (["--validation_examples", "all", "--eval_examples", "few"], "invalid count_or_none value: 'few'"),
    (["--model", "gpt5"], "model must be one of ['auto', 'smollm2', 'tinyllama', 'tinyllama-shaped'], got 'gpt5'"),
    (["--model_name_or_path", "gpt2"], "model_name_or_path must be left out (--model picks the course's model)"),
    (["--dtype", "auto"], "dtype must be float32, bfloat16 or float16, got 'auto'"),
    (["--config"], "--config needs a file name"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_OPTIONS, ids=lambda x: " ".join(x) if isinstance(x, list) else "")
def test_bad_options_name_the_key(argv, message):
    with pytest.raises(train.ConfigError) as error:
        train.parse_arguments(argv)
    assert message in str(error.value)


BAD_FILES = [  # one per way a config file can be wrong
    ("learnin_rate: 1.0e-4\n", "unknown key 'learnin_rate' in the --config file; did you mean 'learning_rate'?"),
    ("lorra_r: 8\n", "did you mean 'lora_r'?"),
    ("training:\n  max_steps: 3\n", "unknown key 'training' in the --config file"),  # the old nested layout
    ("max_steps: many\n", "--max_steps/--max-steps: invalid int value: 'many'"),
    ("max_steps: 2.5\n", "--max_steps/--max-steps: invalid int value: '2.5'"),
    ("max_steps: null\n", "max_steps must be at least 1, got None"),
    ("learning_rate: fast\n", "invalid float value: 'fast'"),
    ("load_in_4bit: 3\n", "--load_in_4bit/--load-in-4bit: Truthy value expected: got 3"),
    ("lr_scheduler_type: cosin\n", "cosin is not a valid SchedulerType"),
    ("lora_dropout: 1.5\n", "lora_dropout must be in [0, 1), got 1.5"),
    ("- 1\n- 2\n", "must contain a YAML mapping"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES, ids=[text.split(":")[0] for text, _ in BAD_FILES])
def test_bad_config_files_name_the_key(tmp_path, text, message):
    path = write_config(tmp_path, text)
    with pytest.raises(train.ConfigError) as error:
        train.parse_arguments(["--config", path])
    assert message in str(error.value)


def test_malformed_yaml_names_file_line_and_column(tmp_path):
    path = write_config(tmp_path, "max_steps: 3\nlearning_rate: [2e-4\n")
    with pytest.raises(train.ConfigError) as error:
        train.parse_arguments(["--config", path])
    assert str(error.value).startswith(f"{path}:3:1: not valid YAML (expected ',' or ']'")


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(train.ConfigError, match=r"No such file or directory: .*missing\.yaml"):
        train.parse_arguments(["--config", str(tmp_path / "missing.yaml")])


def test_cli_reports_a_bad_key_and_exits_2_before_loading_anything(tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("nothing may load before the options are checked")

    monkeypatch.setattr(train, "run_training", refuse)
    monkeypatch.setattr(models, "load_base_model", refuse)
    monkeypatch.setattr(train.console, "quiet_library_output", lambda: None)  # no global settings in the test run
    assert train.main(["--config", write_config(tmp_path, "learnin_rate: 1.0e-4\n")]) == 2
    assert "config error: unknown key 'learnin_rate'" in capsys.readouterr().err
    assert train.main(["--max_steps", "many"]) == 2
    assert "config error: --max_steps/--max-steps: invalid int value: 'many'" in capsys.readouterr().err


def test_model_auto_defers_to_course_model(monkeypatch):
    """On a GPU, `model: auto` used to mean TinyLlama even with COURSE_MODEL=smollm2 (and no Hub access)."""
    monkeypatch.setattr(models, "pick_device", lambda: torch.device("cuda"))
    monkeypatch.setenv(models.MODEL_ENV, "smollm2")
    assert train.parse_arguments(["--model", "auto"])[0].model == "smollm2"
    monkeypatch.delenv(models.MODEL_ENV)
    assert train.parse_arguments([])[0].model == "tinyllama"
    assert train.parse_arguments(["--model", "smollm2"])[0].model == "smollm2"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_are_valid_and_hold_only_what_differs_from_the_recipe(path):
    values = yaml.safe_load(path.read_text())
    parser = train.build_parser(torch.device("cpu"))
    train.parse_arguments(["--config", str(path)])
    repeated = {key: value for key, value in values.items() if parser.get_default(key) == value}
    assert not repeated, f"{path.name} repeats the recipe's (or the script's default) values {repeated}: delete them"


def test_the_saved_config_is_a_config_with_every_value(tmp_path):
    """train_config.yaml (written after training) reads back into the same run."""
    from trl import ModelConfig

    args = train.parse_arguments(["--config", str(SMOKE), "--lora_target_modules", "q_proj", "v_proj",
                                  "--neftune_noise_alpha", "5", "--output_dir", str(tmp_path / "out")])
    values = train.trained_values(*args)
    assert values["model"] == "smollm2" and values["max_steps"] == 3 and values["neftune_noise_alpha"] == 5.0
    assert values["learning_rate"] == recipe.TRAINING["learning_rate"] and values["lora_r"] == recipe.LORA["r"]
    assert {f.name for f in dataclasses.fields(ModelConfig)} <= set(values) and "gradient_checkpointing" not in values
    copy = write_config(tmp_path, yaml.safe_dump(values, sort_keys=False))
    assert train.trained_values(*train.parse_arguments(["--config", copy])) == values


def test_metrics_count_training_time_without_the_evaluations():
    lora = SimpleNamespace(lora_dropout=0.05, target_modules={"v_proj", "q_proj"})
    model = SimpleNamespace(peft_config={"default": lora}, get_nb_trainable_parameters=lambda: (10, 1000))
    args = SimpleNamespace(world_size=2, per_device_train_batch_size=2, gradient_accumulation_steps=4)
    history = [{"loss": 2.0, "num_tokens": 100, "step": 1}, {"eval_loss": 1.9, "eval_runtime": 3.0, "step": 2},
               {"loss": 1.5, "num_tokens": 400, "step": 2}, {"train_runtime": 12.0, "step": 2}]
    metrics = train._metrics(SimpleNamespace(args=args, model=model), SimpleNamespace(global_step=2, training_loss=1.7),
                             history, [[2, 1.9]], (13.0, 20.0))
    assert metrics["train_seconds"] == 10.0 and metrics["tokens_per_second"] == 40.0, "13 s minus 3 s evaluating"
    assert metrics["effective_batch_size"] == 16 and metrics["tokens"] == 400 and metrics["steps"] == 2
    assert (metrics["first_train_loss"], metrics["last_train_loss"], metrics["validation_loss"]) == (2.0, 1.5, 1.9)
    assert metrics["target_modules"] == ["q_proj", "v_proj"] and metrics["trainable_parameters"] == 10


def test_accelerate_configs_load_and_fsdp_qlora_has_what_it_needs():
    from accelerate.commands.config.config_args import load_config_from_file

    folder = REPO_ROOT / "configs" / "accelerate"
    loaded = {path.stem: load_config_from_file(str(path)) for path in sorted(folder.glob("*.yaml"))}
    assert set(loaded) == {"single_gpu", "ddp", "fsdp_qlora"}
    assert loaded["ddp"].distributed_type == "MULTI_GPU" and loaded["ddp"].num_processes == 2
    fsdp = loaded["fsdp_qlora"]
    assert fsdp.distributed_type == "FSDP"
    assert fsdp.fsdp_config["fsdp_use_orig_params"] is False
    assert fsdp.fsdp_config["fsdp_cpu_ram_efficient_loading"] is True


def test_ddp_launch_starts_two_processes_of_this_script():
    """What `accelerate launch` makes of lesson 07's command, short of starting it (lesson 07 runs it for real)."""
    import torch.distributed.run as distributed_run
    from accelerate.commands.launch import _filter_args, _validate_launch_command, launch_command_parser
    from accelerate.utils import prepare_multi_gpu_env

    options = ["--config", "configs/train/smoke_test.yaml", "--output_dir", "outputs/ddp"]
    command = train.launch_command("configs/accelerate/ddp.yaml", 2, options)
    assert command[:2] == ["accelerate", "launch"]
    args, _, _ = _validate_launch_command(launch_command_parser().parse_args(command[2:]))
    assert args.multi_gpu and args.num_processes == 2 and args.mixed_precision == "no"
    environment = prepare_multi_gpu_env(args)  # the steps of accelerate's multi_gpu_launcher, up to torchrun
    assert environment["ACCELERATE_MIXED_PRECISION"] == "no", "the script sets precision in SFTConfig"
    script = ["--training_script", args.training_script, "--training_script_args", args.training_script_args]
    torchrun = _filter_args(args, distributed_run.get_args_parser(), script)
    assert torchrun.nproc_per_node == "2" and torchrun.module and torchrun.training_script == "programs.train"
    _, training_args, _ = train.parse_arguments(torchrun.training_script_args)  # what each process parses
    assert training_args.use_cpu == (not torch.cuda.is_available()), "on a CPU the processes talk over gloo"
    assert training_args.ddp_find_unused_parameters is False


def test_each_process_trains_on_its_own_gpu(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(train.runtime, "pick_device", lambda: torch.device("cuda"))
    assert train._launch_device() == torch.device("cuda", 1)
    monkeypatch.setattr(train.runtime, "pick_device", lambda: torch.device("cpu"))
    assert train._launch_device() == torch.device("cpu")
