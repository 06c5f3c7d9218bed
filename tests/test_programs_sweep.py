"""The recipe sweep hands each candidate to the training script as ordinary options, which the script accepts."""

import json
import subprocess

import pytest

from programs import sweep, train


def test_options_from_flat_and_sectioned_keys():
    assert sweep.assignments({"max_steps": 56, "lora_target_modules": ["q_proj", "v_proj"]}) == [
        "--max_steps", "56", "--lora_target_modules", "q_proj", "v_proj"]
    assert sweep.assignments({"training.learning_rate": 1e-3, "lora.r": 8, "lora.lora_alpha": 16}) == [
        "--learning_rate", "0.001", "--lora_r", "8", "--lora_alpha", "16"]
    assert sweep.assignments({"neftune_noise_alpha": None, "activation_checkpointing": True}) == [
        "--neftune_noise_alpha", "none", "--activation_checkpointing", "true"]


@pytest.mark.parametrize("candidate", sweep.load_sweep()["recipes"], ids=lambda r: r["name"])
def test_every_candidate_is_a_valid_training_run(candidate):
    config = train.parse_arguments(["--config", str(sweep.BASE_CONFIG), *sweep.assignments(candidate.get("set", {}))])
    for key, value in candidate.get("set", {}).items():
        section, _, name = key.rpartition(".")
        option = train.LORA_FLAGS.get(name, name) if section == "lora" else name
        got = config.values()[option]
        assert got == value or [got] == value, f"{candidate['name']}: {key} = {value!r} became {got!r}"


def test_a_candidate_runs_the_script_in_a_fresh_process(tmp_path, monkeypatch):
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        output = tmp_path / "r8"
        output.mkdir()
        (output / train.METRICS_FILE).write_text(json.dumps({"validation_chrf": 30.0}))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(sweep.subprocess, "run", fake_run)
    result = sweep.run_candidate({"name": "r8", "set": {"lora.r": 8}}, tmp_path)
    assert result["validation_chrf"] == 30.0 and result["set"] == {"lora.r": 8}
    [command] = commands
    assert command[1:3] == ["-m", "programs.train"]
    config = train.parse_arguments(command[3:])
    assert config.training.output_dir == str(tmp_path / "r8") and config.lora.lora_r == 8
    assert config.script.eval_examples is None, "a candidate is scored on the whole validation split"
