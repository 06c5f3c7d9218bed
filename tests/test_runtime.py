import sys

import pytest
import torch

from helpers import console, launch, runtime


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


# --- how many processes lesson 07 launches ----------------------------------------------------------------------


@pytest.mark.parametrize(("gpus", "processes", "config"), [(1, 1, "single_gpu.yaml"), (2, 2, "ddp.yaml"),
                                                           (8, 8, "ddp.yaml")])
def test_one_process_per_gpu(fake_cuda, monkeypatch, gpus, processes, config):
    fake_cuda(False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    assert launch.training_processes() == processes
    assert launch.accelerate_config_file() == f"configs/accelerate/{config}"


def test_without_cuda_two_cpu_processes_over_gloo(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(launch, "memory_limit_bytes", lambda: 16_000_000_000)
    assert launch.training_processes() == 2
    assert launch.accelerate_config_file() == "configs/accelerate/ddp.yaml"
    assert launch.accelerate_config_file(1) == "configs/accelerate/ddp.yaml"


@pytest.mark.parametrize(("limit", "processes"), [(2_000_000_000, 1), (3_900_000_000, 1), (4_000_000_000, 2),
                                                   (None, 2)])
def test_without_cuda_a_small_memory_limit_gets_one_process(monkeypatch, limit, processes):
    """Binder's 2 GB cannot hold two training processes next to the kernel (3.3 GB measured together)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(launch, "memory_limit_bytes", lambda: limit)
    assert launch.training_processes() == processes
    assert launch.room_for_two_cpu_processes() == (processes == 2)  # lesson 07's exercise ★★ asks the same


def test_memory_limit_is_the_smaller_of_ram_and_the_container_limit(monkeypatch, tmp_path):
    real_path = runtime.Path
    files = {"/sys/fs/cgroup/memory.max": tmp_path / "v2",
             "/sys/fs/cgroup/memory/memory.limit_in_bytes": tmp_path / "v1"}
    monkeypatch.setattr(launch, "Path", lambda name: real_path(files.get(str(name), name)))
    monkeypatch.setattr(launch.os, "sysconf", lambda name: {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 2_000_000}[name])
    assert launch.memory_limit_bytes() == 8_192_000_000  # no cgroup files: the RAM
    (tmp_path / "v2").write_text("max\n")
    assert launch.memory_limit_bytes() == 8_192_000_000  # "max": no limit
    (tmp_path / "v2").write_text("2147483648\n")
    assert launch.memory_limit_bytes() == 2_147_483_648  # Binder-like
    (tmp_path / "v2").unlink()
    (tmp_path / "v1").write_text("9223372036854771712\n")
    assert launch.memory_limit_bytes() == 8_192_000_000  # cgroup v1's "no limit"


def test_launch_configs_exist_and_are_refused_for_no_process():
    from helpers.paths import REPO_ROOT

    for processes, cuda in ((1, True), (2, True)):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(torch.cuda, "is_available", lambda cuda=cuda: cuda)
            assert (REPO_ROOT / launch.accelerate_config_file(processes)).is_file()
    with pytest.raises(ValueError, match="at least 1"):
        launch.accelerate_config_file(0)


# --- quiet, but with progress bars --------------------------------------------------------------------------------


@pytest.fixture
def restored_logging():
    """quiet_library_output changes process-wide settings: put them back after the test."""
    import logging
    import warnings

    import datasets
    from transformers.utils import logging as hf_logging

    names = ("transformers", "transformers.training_args", "bitsandbytes")
    levels = {name: logging.getLogger(name).level for name in names}
    bars = hf_logging.is_progress_bar_enabled(), datasets.is_progress_bar_enabled()
    with warnings.catch_warnings():
        yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    if bars[0]:
        hf_logging.enable_progress_bar()
    if bars[1]:
        datasets.enable_progress_bars()


def tiny_trainer(model, tmp_path, **overrides):
    from transformers import Trainer, TrainingArguments

    torch.manual_seed(0)
    examples = [{"input_ids": ids, "labels": ids} for ids in torch.randint(0, 64, (4, 8))]
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=2, logging_steps=1, per_device_train_batch_size=2,
                             use_cpu=True, report_to="none", save_strategy="no", **overrides)
    return Trainer(model=model, args=args, train_dataset=examples, eval_dataset=examples)


def test_quiet_output_keeps_the_trainers_progress_bar(restored_logging, tiny_llama, tmp_path):
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    console.quiet_library_output()
    from transformers.utils import logging as hf_logging

    assert hf_logging.get_verbosity() == hf_logging.ERROR, "library chatter stays quiet"
    trainer = tiny_trainer(tiny_llama, tmp_path)
    assert trainer.args.disable_tqdm is False
    kinds = {type(callback) for callback in trainer.callback_handler.callbacks}
    assert PrinterCallback not in kinds
    assert ProgressCallback in kinds  # NotebookProgressCallback in Jupyter: see the next test
    assert tiny_trainer(tiny_llama, tmp_path, disable_tqdm=True).args.disable_tqdm is True  # explicit still wins


def test_in_a_notebook_training_and_evaluation_show_a_bar_not_dicts(restored_logging, tiny_llama, tmp_path,
                                                                    monkeypatch, capsys):
    """What a lesson shows: the Trainer's notebook bar (HTML with a loss table), and no printed log dicts."""
    import transformers.trainer
    from transformers.utils import notebook

    shown = []

    class Handle:
        def update(self, html):
            shown.append(html.data)

    def display(html, display_id=False):
        shown.append(html.data)
        return Handle()

    monkeypatch.setattr(notebook.disp, "display", display)
    monkeypatch.setattr(transformers.trainer, "DEFAULT_PROGRESS_CALLBACK", notebook.NotebookProgressCallback)
    console.quiet_library_output()
    trainer = tiny_trainer(tiny_llama, tmp_path, eval_strategy="steps", eval_steps=2, per_device_eval_batch_size=2)
    trainer.evaluate()
    trainer.train()
    printed = capsys.readouterr().out
    assert "{'loss'" not in printed and "{'eval_loss'" not in printed, printed
    assert any("<progress" in html for html in shown), "evaluate() showed no bar"
    assert "Training Loss" in shown[-1] and "Validation Loss" in shown[-1] and "<progress" in shown[-1]


def test_a_scripts_progress_bars_are_shown_and_its_output_kept(tmp_path):
    import io

    child = tmp_path / "child.py"
    child.write_text(
        "import sys, time\nfrom tqdm import tqdm\n"
        "print('process 0 of 1 trains on cpu', flush=True)\n"
        "print('a warning nobody needs', file=sys.stderr, flush=True)\n"
        "for _ in tqdm(range(3), mininterval=0):\n    time.sleep(0.01)\n"
        "for _ in tqdm(range(2), mininterval=0):\n    pass\n"
        "print('adapter saved')\nsys.exit(3)\n"
    )
    stream = io.StringIO()
    run = launch.run_showing_progress([sys.executable, str(child)], stream=stream)
    assert run.returncode == 3
    assert run.stdout.splitlines() == ["process 0 of 1 trains on cpu", "adapter saved"]
    assert "a warning nobody needs" in run.stderr and "3/3" in run.stderr
    shown = stream.getvalue()
    assert "warning" not in shown
    assert "\r100%|" in shown and " 3/3 " in shown and " 2/2 " in shown
    assert shown.endswith("\n") and shown.count("\n") == 2  # one finished line per bar


def test_machine_description_names_the_gpu_or_the_cpu(fake_cuda, monkeypatch):
    fake_cuda(False)
    assert runtime.describe_machine() == "cuda (Tesla T4)"
    monkeypatch.setattr(runtime, "cpu_model", lambda: "Some CPU")
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(runtime.platform, "machine", lambda: "x86_64")
    assert runtime.describe_machine(torch.device("cpu")) == "cpu (Some CPU, 2 cores, x86_64)"


def test_cpu_model_is_a_name():
    name = runtime.cpu_model()
    assert name and "\n" not in name and not name.startswith(":")


def test_progress_bar_is_text_on_stdout_ending_at_its_last_frame(capsys):
    from tqdm.std import tqdm

    bar = console.progress_bar(range(3), desc="generating", mininterval=0)
    assert type(bar) is tqdm  # not tqdm.notebook's widget, whatever the front end
    assert list(bar) == [0, 1, 2]
    captured = capsys.readouterr()
    assert captured.err == "" and "\rgenerating: 100%|" in captured.out and " 3/3 " in captured.out
