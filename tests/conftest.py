"""Shared fixtures: a tiny random Llama built from a config (no download, milliseconds to build).

Also the selection of tests marked ``slow`` (fresh environments, large downloads): deselected unless the ``-m``
expression names them (``pytest -m slow``), whatever else ``-m`` says (``make check`` gives ``-m "not heavy"``).
And, under ``make test``'s workers (pytest-xdist), each worker's share of the CPU cores.
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


# On pytest-xdist workers (`make test`: --dist loadscope --no-loadscope-reorder) the longest units of work go
# first, so they start at once: the lessons that pass outputs on, lesson 05 opened alone, then the other lessons.
FIRST_ON_WORKERS = ("tests/test_lessons.py::TestLessonsThatShareOutputs::",
                    "tests/test_lessons.py::TestLesson05OpenedAlone::", "tests/test_lessons.py::test_")


def pytest_collection_modifyitems(config, items):
    """Deselect the tests marked ``slow`` unless ``-m`` mentions ``slow``; on a worker, the longest units first."""
    if "slow" not in (config.option.markexpr or ""):
        slow = [item for item in items if item.get_closest_marker("slow")]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if not item.get_closest_marker("slow")]
    if os.environ.get("PYTEST_XDIST_WORKER"):
        def rank(item) -> int:
            return next((i for i, prefix in enumerate(FIRST_ON_WORKERS) if item.nodeid.startswith(prefix)),
                        len(FIRST_ON_WORKERS))

        items.sort(key=rank)  # stable: each group keeps its order


def pytest_configure(config):
    """On a pytest-xdist worker, compute on this worker's share of the cores (and so do the kernels and scripts it
    starts, through ``OMP_NUM_THREADS``): two workers of two threads each on two cores wait on each other."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)
