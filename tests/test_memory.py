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


def test_bytes_by_dtype(tiny_llama):
    sizes = memory.bytes_by_dtype(tiny_llama)
    assert sizes["float32"] >= 4 * sum(p.numel() for p in tiny_llama.parameters())


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
