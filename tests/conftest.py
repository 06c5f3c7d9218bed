"""Shared fixtures: a tiny random Llama built from a config (no download, milliseconds to build).

Also the selection of tests marked ``slow`` (fresh environments, large downloads): deselected unless the ``-m``
expression names them (``pytest -m slow``), whatever else ``-m`` says (``make check`` gives ``-m "not heavy"``).
"""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM


@pytest.fixture
def tiny_llama_config() -> LlamaConfig:
    return LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=False,
    )


@pytest.fixture
def tiny_llama(tiny_llama_config) -> LlamaForCausalLM:
    torch.manual_seed(0)
    return LlamaForCausalLM(tiny_llama_config).eval()


def pytest_collection_modifyitems(config, items):
    """Deselect the tests marked ``slow`` unless ``-m`` mentions ``slow``."""
    if "slow" in (config.option.markexpr or ""):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]
