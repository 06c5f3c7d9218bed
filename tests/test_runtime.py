import pytest
import torch

from helpers import runtime


@pytest.fixture
def fake_cuda(monkeypatch):
    """Pretend a CUDA GPU is present; the test sets whether it has native bf16."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")

    def set_bf16(native: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: native)

    return set_bf16


def test_cpu_uses_float32_and_no_mixed_precision(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    device = runtime.pick_device()
    assert device.type == "cpu"
    assert runtime.pick_compute_dtype(device) == torch.float32
    assert runtime.sft_precision_flags(device) == {"bf16": False, "fp16": False}
    assert "float32" in runtime.explain_compute_dtype(device)


def test_t4_without_native_bf16_uses_float16(fake_cuda):
    fake_cuda(False)
    device = runtime.pick_device()
    assert device.type == "cuda"
    assert runtime.pick_compute_dtype(device) == torch.float16
    assert runtime.sft_precision_flags(device) == {"bf16": False, "fp16": True}
    assert "Tesla T4" in runtime.explain_compute_dtype(device)


def test_ampere_with_native_bf16_uses_bfloat16(fake_cuda):
    fake_cuda(True)
    device = runtime.pick_device()
    assert runtime.pick_compute_dtype(device) == torch.bfloat16
    assert runtime.sft_precision_flags(device) == {"bf16": True, "fp16": False}


def test_emulated_bf16_does_not_count(monkeypatch, fake_cuda):
    calls = []
    monkeypatch.setattr(
        torch.cuda, "is_bf16_supported", lambda including_emulation=True: calls.append(including_emulation) or False
    )
    assert runtime.pick_compute_dtype(torch.device("cuda")) == torch.float16
    assert calls == [False]


def test_mps_is_picked_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert runtime.pick_device().type == "mps"
    assert runtime.pick_compute_dtype(torch.device("mps")) == torch.float32


def test_colab_detection(monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert not runtime.in_colab()
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20261101")
    assert runtime.in_colab()


def test_environment_report_names_versions_device_and_model():
    report = runtime.environment_report("smollm2")
    for name in ("torch", "transformers", "peft", "trl", "bitsandbytes", "datasets"):
        assert name in report
    assert runtime.package_versions()["torch"] in report
    assert "device" in report and "compute dtype" in report
    assert report.rstrip().endswith("smollm2")


def test_missing_package_is_reported_not_raised():
    assert runtime.package_versions(("surely-not-installed-pkg",)) == {"surely-not-installed-pkg": "not installed"}
