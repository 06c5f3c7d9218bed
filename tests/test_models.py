import os
import subprocess
import sys

import pytest
import torch

from helpers import models


def test_explicit_names(monkeypatch):
    assert models.resolve_model("smollm2").embedded
    assert models.resolve_model("TinyLlama").repo_id == "TinyLlama/TinyLlama-1.1B-Chat-v1.0"


def test_environment_variable_wins_over_default(monkeypatch):
    monkeypatch.setenv(models.MODEL_ENV, "tinyllama")
    assert models.resolve_model().key == "tinyllama"


@pytest.mark.parametrize(("cuda", "expected"), [(True, "tinyllama"), (False, "smollm2")])
def test_auto_picks_by_hardware(monkeypatch, cuda, expected):
    monkeypatch.setenv(models.MODEL_ENV, "auto")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert models.resolve_model().key == expected


def test_unknown_model_lists_valid_names(monkeypatch):
    monkeypatch.setenv(models.MODEL_ENV, "nope")
    with pytest.raises(models.UnknownModelError) as error:
        models.resolve_model()
    for name in ("auto", "smollm2", "tinyllama", "'nope'"):
        assert name in str(error.value)


def run_python(code: str, tmp_path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)


def test_command_line_unknown_model_message(tmp_path):
    result = run_python("import helpers.models as m; m.resolve_model()", tmp_path, COURSE_MODEL="nope")
    assert result.returncode != 0
    assert "unknown model 'nope'" in result.stderr and "'smollm2'" in result.stderr


def test_tinyllama_without_hub_names_the_embedded_model(tmp_path):
    result = run_python("import helpers.models as m; m.load_tokenizer()", tmp_path, COURSE_MODEL="tinyllama")
    assert result.returncode != 0
    assert "HubUnavailableError" in result.stderr
    assert "COURSE_MODEL=smollm2" in result.stderr


def test_model_config_of_tinyllama_is_shipped():
    config = models.load_model_config("tinyllama")
    assert (config.hidden_size, config.num_hidden_layers, config.vocab_size) == (2048, 22, 32000)
