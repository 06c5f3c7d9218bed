"""The recipe sweep hands each candidate to the training script as ordinary options, which the script accepts."""

import json
import subprocess

import pytest

from programs import sweep, train


def test_options_are_the_scripts_flags():
    assert sweep.assignments({"max_steps": 56, "lora_target_modules": ["q_proj", "v_proj"]}) == [
        "--max_steps", "56", "--lora_target_modules", "q_proj", "v_proj"]
    options = sweep.assignments({"learning_rate": 1e-3, "neftune_noise_alpha": None, "activation_checkpointing": True})
    assert options == ["--learning_rate", "0.001", "--neftune_noise_alpha", "none",
                       "--activation_checkpointing", "true"]
    assert sweep.assignments({}) == []


@pytest.mark.parametrize("candidate", sweep.load_sweep()["recipes"], ids=lambda r: r["name"])
def test_every_candidate_is_a_valid_training_run_with_its_values(candidate):
    args = train.parse_arguments(["--config", str(sweep.BASE_CONFIG), *sweep.assignments(candidate.get("set", {}))])
    values = train.trained_values(*args)
    for key, value in candidate.get("set", {}).items():
        assert values[key] == value, f"{candidate['name']}: {key} = {value!r} became {values[key]!r}"


def test_a_candidate_with_an_unknown_key_is_refused_by_the_script():
    with pytest.raises(train.ConfigError, match=r"unknown key 'lora\.r'"):
        train.parse_arguments(["--config", str(sweep.BASE_CONFIG), *sweep.assignments({"lora.r": 8})])


def test_duplicate_candidate_names_are_refused(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("budget_seconds: 1\nrecipes:\n  - {name: a}\n  - {name: a}\n")
    with pytest.raises(ValueError, match="recipe names must be unique"):
        sweep.load_sweep(path)


def test_a_candidate_runs_the_script_in_a_fresh_process(tmp_path, monkeypatch):
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        (tmp_path / "r8").mkdir()
        (tmp_path / "r8" / train.METRICS_FILE).write_text(json.dumps({"validation_chrf": 30.0}))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(sweep.subprocess, "run", fake_run)
    result = sweep.run_candidate({"name": "r8", "set": {"lora_r": 8}}, tmp_path)
    assert result["validation_chrf"] == 30.0 and result["set"] == {"lora_r": 8} and result["name"] == "r8"
    [command] = commands
    assert command[1:3] == ["-m", "programs.train"]
    script_args, training_args, model_args = train.parse_arguments(command[3:])
    assert training_args.output_dir == str(tmp_path / "r8") and model_args.lora_r == 8
    assert script_args.eval_examples is None, "a candidate is scored on the whole validation split"
