import os
import subprocess
import sys
import time

import pytest
import torch

from helpers import memory


def test_count_parameters(tiny_llama):
    total = sum(p.numel() for p in tiny_llama.parameters())
    assert memory.count_parameters(tiny_llama) == (total, total)
    tiny_llama.requires_grad_(False)
    assert memory.count_parameters(tiny_llama) == (0, total)


def test_four_bit_parameters_count_their_logical_shape():
    import bitsandbytes as bnb

    layer = bnb.nn.Linear4bit(64, 32, bias=False, quant_type="nf4", compute_dtype=torch.float32)
    layer.load_state_dict({"weight": torch.randn(32, 64)})
    layer = layer.to("cpu")  # quantizes
    raw = layer.weight.numel()
    assert raw == 32 * 64 // 2, "two 4-bit values are packed per byte"
    assert memory.logical_numel(layer.weight) == 32 * 64
    assert memory.count_parameters(layer, logical=False)[1] == raw


@pytest.mark.parametrize(("double_quant", "scales"), [(False, 32 * 4), (True, 32 + 4 + 4)])
def test_quant_state_bytes(double_quant, scales):
    import bitsandbytes as bnb

    layer = bnb.nn.Linear4bit(
        64, 32, bias=False, quant_type="nf4", compress_statistics=double_quant, compute_dtype=torch.float32
    )
    layer.load_state_dict({"weight": torch.randn(32, 64)})
    layer = layer.to("cpu")
    # 2048 weights = 32 blocks of 64: one absmax each (fp32, or uint8 + one nested fp32 scale + an fp32 offset)
    sizes = memory.quant_state_bytes(layer)
    assert sizes["scales"] == scales
    assert sizes["code_books"] == 16 * 4 + (256 * 4 if double_quant else 0)


def test_bytes_by_dtype_counts_each_tensor_once():
    layer = torch.nn.Linear(10, 5).to(torch.float16)  # 50 + 5 weights of 2 bytes
    layer.register_buffer("steps", torch.zeros(3, dtype=torch.int64))  # 3 x 8 bytes
    shared = torch.nn.Sequential(layer, layer)  # the same layer twice: its tensors are still counted once
    assert memory.bytes_by_dtype(shared) == {"float16": 110, "int64": 24}


def test_file_sizes_and_folder_size(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"x" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(b"x" * 5)
    assert memory.file_sizes(tmp_path) == {"a.bin": 10}
    assert memory.folder_size(tmp_path) == 15
    with pytest.raises(FileNotFoundError):
        memory.file_sizes(tmp_path / "missing")


@pytest.mark.parametrize(("n", "text"), [(999, "999 B"), (1_234_567, "1.2 MB"), (5.4e9, "5.4 GB")])
def test_human_bytes(n, text):
    assert memory.human_bytes(n) == text


# --- what a process holds (helpers.memory.process_memory) ---------------------------------------------------

HOLD = "import sys; b = bytearray({n}); print('ready', flush=True); sys.stdin.read()"
INTERPRETER = 60_000_000
"""Tolerance: a bare Python child holds its interpreter besides the buffer (about 10 MB; allowed up to 60)."""


def hold(n_bytes: int) -> subprocess.Popen:
    """A child that holds ``n_bytes`` of written memory (bytearray zero-fills it) until its stdin closes."""
    child = subprocess.Popen([sys.executable, "-c", HOLD.format(n=n_bytes)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    return child


def test_process_memory_of_a_process_and_of_its_tree():
    before = memory.process_memory(os.getpid(), children=True)
    child = hold(300_000_000)
    try:
        held = memory.process_memory(child.pid)
        assert 300_000_000 <= held.anonymous <= held.resident < 300_000_000 + INTERPRETER
        after = memory.process_memory(os.getpid(), children=True)
        assert 300_000_000 <= after.anonymous - before.anonymous < 300_000_000 + INTERPRETER
    finally:
        child.communicate("")
    assert memory.process_memory(child.pid) is None


def test_the_sampler_keeps_the_peak_of_the_step_that_reached_it():
    with memory.PeakSampler(os.getpid(), interval=0.01) as sampler:
        sampler.mark(0)
        time.sleep(0.05)
        sampler.mark(1)
        child = hold(250_000_000)  # a child started during step 1 counts: lesson 07's launch is such a child
        time.sleep(0.1)
        child.communicate("")
        sampler.mark(2)
        time.sleep(0.05)
    assert max(sampler.peak_by_step, key=sampler.peak_by_step.get) == 1
    assert 250_000_000 <= sampler.peak - sampler.peak_by_step[0] < 250_000_000 + INTERPRETER
    assert 250_000_000 <= sampler.peak - sampler.peak_by_step[2] < 250_000_000 + INTERPRETER
