import os
import subprocess
import sys
from pathlib import Path

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


@pytest.mark.heavy  # loads and quantizes the real model (~10 s)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_a_4bit_model_on_cpu_does_not_keep_the_fp32_weights_file_mapped():
    """Its embeddings used to be views into the mapped file, which kept all fp32 weights resident (lesson 06)."""
    import gc

    from transformers import BitsAndBytesConfig

    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                      bnb_4bit_compute_dtype=torch.float32)
    model = models.load_base_model("smollm2", quantization_config=quantization, device=torch.device("cpu"))
    gc.collect()
    maps = Path("/proc/self/maps").read_text().splitlines()
    mapped = [line for line in maps if line.rstrip().endswith("model.safetensors")]
    assert not mapped, "the safetensors file is still mapped"
    assert model.lm_head.weight is model.model.embed_tokens.weight, "copying must keep the tied weights tied"


@pytest.mark.parametrize("name", [None, "auto", "AUTO "])
def test_auto_defers_to_the_environment_variable_even_on_a_gpu(monkeypatch, name):
    """A config's `model: auto` must not overrule COURSE_MODEL (the script used to load TinyLlama here)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv(models.MODEL_ENV, "smollm2")
    assert models.resolve_model(name).key == "smollm2"
    monkeypatch.setenv(models.MODEL_ENV, "auto")
    assert models.resolve_model(name).key == "tinyllama"
    monkeypatch.delenv(models.MODEL_ENV)
    assert models.resolve_model(name).key == "tinyllama"


def test_an_explicit_name_wins_over_the_environment_variable(monkeypatch):
    monkeypatch.setenv(models.MODEL_ENV, "tinyllama")
    assert models.resolve_model("smollm2").key == "smollm2"
