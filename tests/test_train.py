"""The training script: config validation (fast) and real runs on the embedded model, one process and DDP."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from helpers import artifacts, models, recipe, train

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "train" / "smoke_test.yaml"


def test_recipe_defaults_build_library_configs():
    lora = recipe.lora_config()
    assert lora.r == 16 and lora.target_modules == "all-linear"
    args = recipe.sft_config("unused", torch.device("cpu"))
    assert args.learning_rate == 5e-4 and args.max_steps == 40 and not args.bf16 and not args.fp16
    assert args.use_cpu and args.save_strategy == "no"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"lorra": {"r": 8}}, "unknown key 'lorra'"),
        ({"lora": {"rank": 8}}, "unknown key 'lora.rank'"),
        ({"training": {"max_step": 3}}, "unknown key 'training.max_step'; did you mean"),
        ({"training": {"max_steps": "many"}}, "training.max_steps must be a whole number"),
        ({"training": {"max_steps": 0}}, "training.max_steps must be at least 1"),
        ({"training": {"learning_rate": "fast"}}, "training.learning_rate must be a number"),
        ({"training": {"learning_rate": -1.0}}, "training.learning_rate must be positive"),
        ({"training": {"activation_checkpointing": "yes"}}, "training.activation_checkpointing must be true or false"),
        ({"training": {"output_dir": "x"}}, "training.output_dir is set by the script"),
        ({"lora": {"lora_dropout": 1.5}}, "lora.lora_dropout must be in [0, 1)"),
        ({"lora": {"r": 2.5}}, "lora.r must be a whole number"),
        ({"lora": [1, 2]}, "lora must be a mapping"),
        ({"model": "gpt5"}, "model: unknown model 'gpt5'"),
        ({"quantization": "int3"}, "quantization must be one of"),
        ({"eval_examples": -1}, "eval_examples must be 0 or more"),
        ({"validation_examples": "all"}, "validation_examples must be a whole number"),
        ([1, 2], "must hold a mapping"),
    ],
)
def test_bad_config_values_name_the_key(values, message):
    with pytest.raises(train.ConfigError, match=None) as error:
        train.parse_config(values)
    assert message in str(error.value)


def test_yaml_numbers_without_a_dot_still_count_as_numbers():
    config = train.parse_config(yaml.safe_load("training:\n  learning_rate: 2e-4\n"))
    assert config.training["learning_rate"] == pytest.approx(2e-4)
    assert config.training_values()["max_steps"] == recipe.TRAINING["max_steps"]


def test_set_overrides_and_file_errors(tmp_path):
    config = train.load_config(SMOKE, ["training.max_steps=7", "lora.r=4", "eval_examples=0"])
    assert config.training["max_steps"] == 7 and config.lora["r"] == 4 and config.eval_examples == 0
    with pytest.raises(train.ConfigError, match="does not exist"):
        train.load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("training: [unclosed\n")
    with pytest.raises(train.ConfigError, match="not valid YAML"):
        train.load_config(broken)
    with pytest.raises(train.ConfigError, match="key=value"):
        train.load_config(SMOKE, ["training.max_steps"])


def test_cli_reports_a_bad_key_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  learnin_rate: 1.0e-4\n")
    assert train.main(["--config", str(bad)]) == 2
    assert "config error: unknown key 'training.learnin_rate'" in capsys.readouterr().err


def test_shipped_configs_are_valid():
    for path in sorted((REPO / "configs" / "train").glob("*.yaml")):
        train.load_config(path)


def test_accelerate_configs_load_and_fsdp_qlora_has_what_it_needs():
    from accelerate.commands.config.config_args import load_config_from_file

    folder = REPO / "configs" / "accelerate"
    loaded = {path.stem: load_config_from_file(str(path)) for path in sorted(folder.glob("*.yaml"))}
    assert set(loaded) == {"single_gpu", "ddp", "fsdp_qlora"}
    assert loaded["ddp"].distributed_type == "MULTI_GPU" and loaded["ddp"].num_processes == 2
    fsdp = loaded["fsdp_qlora"]
    assert fsdp.distributed_type == "FSDP"
    assert fsdp.fsdp_config["fsdp_use_orig_params"] is False
    assert fsdp.fsdp_config["fsdp_cpu_ram_efficient_loading"] is True


def _run(command: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COURSE_OUTPUT_DIR": str(tmp_path), "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_script_trains_and_lesson_05_merges_its_adapter(tmp_path):
    from peft import AutoPeftModelForCausalLM

    out = tmp_path / "adapter"
    _run([sys.executable, "-m", "helpers.train", "--config", str(SMOKE), "--set", f"output_dir={out}"], tmp_path)
    metrics = json.loads((out / train.METRICS_FILE).read_text())
    assert metrics["processes"] == 1 and metrics["steps"] == 3 and metrics["tokens"] > 0
    assert metrics["trainable_parameters"] == 4_884_480 and 0 <= metrics["test_chrf"] <= 100
    saved = train.load_config(out / train.CONFIG_COPY)  # the copy is itself a valid config, with every value
    assert saved.training["max_steps"] == 3 and saved.training["learning_rate"] == recipe.TRAINING["learning_rate"]
    assert saved.lora["r"] == recipe.LORA["r"]

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


def test_two_cpu_processes_train_one_adapter_with_accelerate(tmp_path):
    out = tmp_path / "ddp-adapter"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
              str(REPO / "configs" / "accelerate" / "ddp.yaml"), "--num_processes", "2",
              "-m", "helpers.train", "--config", str(SMOKE), "--set", f"output_dir={out}", "--set", "eval_examples=0"]
    result = _run(launch, tmp_path)
    assert "process 0 of 2 trains on cpu" in result.stdout
    assert "process 1 of 2 trains on cpu" in result.stdout
    metrics = json.loads((out / train.METRICS_FILE).read_text())
    assert metrics["processes"] == 2 and metrics["effective_batch_size"] == 2 * 2
    assert (out / "adapter_model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp-adapter"], "exactly one output folder"
