"""Shared fixtures: a tiny random Llama built from a config (no download, milliseconds to build).

Also the switch for tests marked ``slow``: they run only with COURSE_SLOW_TESTS=1.
"""

import os

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


SLOW_TESTS_ENV = "COURSE_SLOW_TESTS"


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``slow`` (fresh environments, large downloads) unless COURSE_SLOW_TESTS=1."""
    if os.environ.get(SLOW_TESTS_ENV) == "1":
        return
    skip = pytest.mark.skip(reason=f"slow: set {SLOW_TESTS_ENV}=1 to run")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)
