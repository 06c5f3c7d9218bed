"""The training script: its options (trl's TrlParser, starting from the recipe, with named errors), the DDP
plumbing (cheap: lesson 07 runs the real two-process job once per `make test`) and one real run (heavy)."""

import json
import os
import subprocess
import sys

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


def test_recipe_defaults_build_library_configs():
    lora = recipe.lora_config()
    assert lora.r == 16 and lora.target_modules == "all-linear"
    args = recipe.sft_config("unused", torch.device("cpu"))
    assert args.learning_rate == recipe.TRAINING["learning_rate"] and args.max_steps == recipe.TRAINING["max_steps"]
    assert not args.bf16 and not args.fp16 and args.use_cpu and args.save_strategy == "no"


def test_without_options_the_script_trains_the_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv(artifacts.OUTPUT_ENV, str(tmp_path))
    config = train.parse_arguments([])
    assert config.lora.lora_config_values() == {**recipe.LORA, "use_rslora": False, "use_dora": False}
    assert train.dataclasses.asdict(config.quantization) == recipe.QUANTIZATION
    expected = recipe.sft_values(str(tmp_path / artifacts.ADAPTER_NAME), torch.device("cpu"))
    got = config.training.to_dict()
    assert {key: got[key] for key in expected} == {**expected, "report_to": [], "save_strategy": "no"}
    assert config.training.output_dir == str(artifacts.adapter_dir()), "COURSE_OUTPUT_DIR decides, like lesson 05"
    assert config.script == train.ScriptArguments()


def test_every_recipe_value_has_an_option():
    defaults = train.recipe_defaults(torch.device("cpu"))
    assert {train.LORA_FLAGS[key] for key in recipe.LORA} <= set(defaults)
    assert set(recipe.QUANTIZATION) | set(recipe.TRAINING) <= set(defaults)


def test_options_override_the_file_and_lists_take_several_values(tmp_path):
    path = write_config(tmp_path, "max_steps: 7\nlearning_rate: 2e-4\nlora_target_modules: all-linear\n")
    config = train.parse_arguments(["--config", path, "--max_steps", "9", "--lora_target_modules", "q_proj", "v_proj",
                                    "--eval_examples", "0"])
    assert config.training.max_steps == 9, "the command line wins over the file"
    assert config.training.learning_rate == pytest.approx(2e-4), "YAML reads 2e-4 (no dot) as text: still a number"
    assert config.lora.lora_target_modules == ["q_proj", "v_proj"]
    assert recipe.lora_config(**config.lora.lora_config_values()).target_modules == {"q_proj", "v_proj"}
    assert config.script.eval_examples == 0
    assert config.explicit == {"max_steps", "learning_rate", "lora_target_modules", "eval_examples"}
    assert train.parse_arguments(["--lora_target_modules", "all-linear"]).lora.lora_target_modules == "all-linear"
    assert train.parse_arguments(["--eval_examples", "none"]).script.eval_examples is None


BAD_OPTIONS = [
    (["--learnin_rate", "1e-4"], "unknown key 'learnin_rate' on the command line; did you mean 'learning_rate'?"),
    (["--max_step", "3"], "unknown key 'max_step' on the command line; did you mean 'max_steps'?"),
    (["--rank", "8"], "unknown key 'rank'"),
    (["--max_steps", "many"], "max_steps must be a whole number, got 'many'"),
    (["--max_steps", "0"], "max_steps must be at least 1"),
    (["--per_device_train_batch_size", "0"], "per_device_train_batch_size must be at least 1"),
    (["--learning_rate", "fast"], "learning_rate must be a number"),
    (["--learning_rate", "-1"], "learning_rate must be positive"),
    (["--activation_checkpointing", "maybe"], "activation_checkpointing must be true or false"),
    (["--lora_dropout", "1.5"], "lora_dropout must be in [0, 1)"),
    (["--lora_r", "2.5"], "lora_r must be a whole number"),
    (["--lora_r", "0"], "lora_r must be at least 1"),
    (["--lora_bias", "some"], "invalid choice: 'some'"),
    (["--model", "gpt5"], "model: unknown model 'gpt5'"),
    (["--eval_examples", "-1"], "eval_examples must be 0 or more"),
    (["--validation_examples", "all"], "validation_examples must be a whole number"),
    (["--max_steps", "3", "4"], "unexpected value(s) ['4']"),
    (["--config"], "--config needs a file name"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_OPTIONS, ids=lambda x: " ".join(x) if isinstance(x, list) else "")
def test_bad_options_name_the_key(argv, message):
    with pytest.raises(train.ConfigError) as error:
        train.parse_arguments(argv)
    assert message in str(error.value)


BAD_FILES = [
    ("learnin_rate: 1.0e-4\n", "unknown key 'learnin_rate' in {path}; did you mean 'learning_rate'?"),
    ("lorra_r: 8\n", "did you mean 'lora_r'?"),
    ("training:\n  max_steps: 3\n", "unknown key 'training'"),  # the old nested layout is refused, not ignored
    ("max_steps: many\n", "max_steps must be a whole number, got 'many'"),
    ("max_steps: 2.5\n", "max_steps must be a whole number, got 2.5"),
    ("max_steps: null\n", "max_steps needs a value"),
    ("learning_rate: fast\n", "learning_rate must be a number"),
    ("activation_checkpointing: maybe\n", "activation_checkpointing must be true or false"),
    ("load_in_4bit: 3\n", "load_in_4bit must be true or false, got 3"),
    ("lora_target_modules: [1, 2]\n", "lora_target_modules must be text, got 1"),
    ("lora_bias: some\n", "lora_bias must be one of ['none', 'all', 'lora_only'], got 'some'"),
    ("lr_scheduler_type: cosin\n", "lr_scheduler_type must be one of"),
    ("lora_dropout: 1.5\n", "lora_dropout must be in [0, 1)"),
    ("model: gpt5\n", "model: unknown model 'gpt5'"),
    ("- 1\n- 2\n", "must hold a mapping"),
    ("max_steps: [unclosed\n", "is not valid YAML"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES, ids=[text.split(":")[0] for text, _ in BAD_FILES])
def test_bad_config_files_name_the_key(tmp_path, text, message):
    path = write_config(tmp_path, text)
    with pytest.raises(train.ConfigError) as error:
        train.parse_arguments(["--config", path])
    assert message.format(path=path) in str(error.value)


def test_malformed_yaml_names_the_file_and_the_line(tmp_path):
    path = write_config(tmp_path, "max_steps: 3\nlearning_rate: [2e-4\n")
    with pytest.raises(train.ConfigError) as error:
        train.parse_arguments(["--config", path])
    assert f"{path}, line 3" in str(error.value) and "<unicode string>" not in str(error.value)


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(train.ConfigError, match="does not exist"):
        train.parse_arguments(["--config", str(tmp_path / "missing.yaml")])


def test_cli_reports_a_bad_key_and_exits_2_before_loading_anything(tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("nothing may load before the options are checked")

    monkeypatch.setattr(train, "train", refuse)
    monkeypatch.setattr(models, "load_base_model", refuse)
    monkeypatch.setattr(train.console, "quiet_library_output", lambda: None)  # no global settings in the test run
    bad = write_config(tmp_path, "learnin_rate: 1.0e-4\n")
    assert train.main(["--config", bad]) == 2
    assert "config error: unknown key 'learnin_rate'" in capsys.readouterr().err
    assert train.main(["--max_steps", "many"]) == 2
    assert "max_steps must be a whole number" in capsys.readouterr().err


def test_model_auto_defers_to_course_model(monkeypatch):
    """On a GPU, `model: auto` used to mean TinyLlama even with COURSE_MODEL=smollm2 (and no Hub access)."""
    monkeypatch.setattr(models, "pick_device", lambda: torch.device("cuda"))
    monkeypatch.setenv(models.MODEL_ENV, "smollm2")
    assert train.parse_arguments(["--model", "auto"]).model.key == "smollm2"
    assert train.parse_arguments([]).model.key == "smollm2"
    monkeypatch.delenv(models.MODEL_ENV)
    assert train.parse_arguments([]).model.key == "tinyllama"
    assert train.parse_arguments(["--model", "smollm2"]).model.key == "smollm2"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_are_valid_and_hold_only_what_differs_from_the_recipe(path):
    values = yaml.safe_load(path.read_text())
    parser = train.build_parser(torch.device("cpu"))
    train.parse_arguments(["--config", str(path)])
    repeated = {key: value for key, value in values.items() if parser.get_default(key) == value}
    assert not repeated, f"{path.name} repeats the recipe's (or the script's default) values {repeated}: delete them"


def test_the_saved_config_is_a_config_with_every_value(tmp_path):
    """train_config.yaml (written after training) reads back into the same run."""
    config = train.parse_arguments(["--config", str(SMOKE), "--lora_target_modules", "q_proj", "v_proj",
                                    "--neftune_noise_alpha", "5", "--output_dir", str(tmp_path / "out")])
    values = config.values()
    assert values["model"] == "smollm2" and values["max_steps"] == 3 and values["neftune_noise_alpha"] == 5.0
    assert values["learning_rate"] == recipe.TRAINING["learning_rate"] and values["lora_r"] == recipe.LORA["r"]
    copy = write_config(tmp_path, yaml.safe_dump(values, sort_keys=False))
    assert train.parse_arguments(["--config", copy]).values() == values


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
    config = train.parse_arguments(torchrun.training_script_args)  # what each process parses
    assert config.training.use_cpu == (not torch.cuda.is_available()), "on a CPU the processes talk over gloo"
    assert config.training.ddp_find_unused_parameters is False


def test_each_process_trains_on_its_own_gpu(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(train.runtime, "pick_device", lambda: torch.device("cuda"))
    assert train._launch_device() == torch.device("cuda", 1)
    monkeypatch.setattr(train.runtime, "pick_device", lambda: torch.device("cpu"))
    assert train._launch_device() == torch.device("cpu")


@pytest.mark.heavy
def test_script_trains_and_lesson_05_merges_its_adapter(tmp_path):
    from peft import AutoPeftModelForCausalLM

    out = tmp_path / "adapter"
    env = {**os.environ, "COURSE_OUTPUT_DIR": str(tmp_path), "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run([sys.executable, "-m", "programs.train", "--config", str(SMOKE), "--output_dir", str(out)],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = json.loads((out / train.METRICS_FILE).read_text())
    assert metrics["processes"] == 1 and metrics["steps"] == 3 and metrics["tokens"] > 0
    assert metrics["trainable_parameters"] == 4_884_480 and metrics["train_cpu_seconds"] > 0
    assert metrics["validation_examples_scored"] == 4 and 0 <= metrics["validation_chrf"] <= 100
    assert metrics["validation_scores"]["chrf"] == pytest.approx(metrics["validation_chrf"], abs=0.01)
    saved = train.parse_arguments(["--config", str(out / train.CONFIG_COPY)])  # itself a valid config
    assert saved.training.max_steps == 3 and saved.training.learning_rate == recipe.TRAINING["learning_rate"]
    assert saved.lora.lora_r == recipe.LORA["r"] and saved.training.output_dir == str(out)

    # Lesson 05's merge path, on the script's adapter.
    spec = models.resolve_model("smollm2")
    artifacts.require_adapter(out, base=models.model_source(spec))
    peft_model = AutoPeftModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    inputs = models.load_tokenizer(spec)(["Yo, I ain't doing that."], return_tensors="pt")
    with torch.inference_mode():
        before = peft_model(**inputs).logits
        merged = peft_model.merge_and_unload()
        after = merged(**inputs).logits
    assert (before - after).abs().max().item() <= 1e-4
