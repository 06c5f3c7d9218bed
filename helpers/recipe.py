"""The Corporate Translator training recipe, written once for lesson 04 and ``python -m programs.train``.

Lesson 04 spells the same ``BitsAndBytesConfig``, ``LoraConfig`` and ``SFTConfig`` out in full (that
is what it teaches); ``tests/test_lesson_04_recipe.py`` compares their literal values with this
module, so the notebook and the script cannot drift apart. Lesson 06 compares this recipe with the
chapter's own (:data:`CHAPTER_LORA`, :data:`CHAPTER_TRAINING`).
"""

from __future__ import annotations

from typing import Any

import torch

from helpers.runtime import pick_compute_dtype, sft_precision_flags

QUANTIZATION: dict[str, Any] = {
    "load_in_4bit": True,
    "bnb_4bit_quant_type": "nf4",
    "bnb_4bit_use_double_quant": True,
}
"""NF4 with double quantization; the compute dtype follows the hardware (lesson 01)."""

LORA: dict[str, Any] = {
    "r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.0,
    "bias": "none",
    "task_type": "CAUSAL_LM",
    "target_modules": "all-linear",
}
"""Rank-16 notes on every linear layer of each block, without dropout (lesson 04; lesson 06 measures why)."""

TRAINING: dict[str, Any] = {
    "max_steps": 75,
    "per_device_train_batch_size": 2,
    "gradient_accumulation_steps": 4,
    "learning_rate": 1e-3,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 6,
    "max_length": 128,
    "per_device_eval_batch_size": 2,
    "activation_checkpointing": False,
    "logging_steps": 10,
    "seed": 0,
}
"""The ``SFTConfig`` values lesson 04 uses; precision flags come from the hardware.

Chosen by ``python -m programs.sweep`` on the validation split within lesson 04's five-minute CPU budget,
leaving headroom for a slow day (candidate ``lr1e-3-75x8``; ``benchmarks/README.md`` tells how, with the rule; the
measurements are in ``benchmarks/recipe-sweep-*.json``). The effective batch of 8 runs as micro-batches of 2
with 4 gradient-accumulation steps: the same update for a quarter of the activation memory (Binder gives a
notebook little memory), at some cost in time per step. Evaluation goes in batches of 2 as well: larger ones
were no faster on the course CPU and held more memory (the trainer's validation loss moves slightly with the
batch size, because it averages per-batch means). ``make course`` records lesson 04's peak memory and time."""

CHAPTER_LORA: dict[str, Any] = {
    "r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "bias": "none",
    "task_type": "CAUSAL_LM",
}
"""The chapter's ``LoraConfig``: no ``target_modules``, so peft adapts q_proj and v_proj (lesson 02)."""

CHAPTER_TRAINING: dict[str, Any] = {
    "per_device_train_batch_size": 4,
    "max_steps": 100,
    "learning_rate": 2e-4,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0,
    "activation_checkpointing": False,
}
"""The chapter's ``TrainingArguments`` with their own defaults where it is silent (linear decay, no warm-up, no
activation checkpointing — unlike ``SFTConfig``'s defaults). Its ``fp16=True`` is the T4 path: precision follows
the hardware, as for the course recipe."""


def describe(lora: dict[str, Any] | None = None, training: dict[str, Any] | None = None) -> str:
    """The recipe in one line, e.g. ``r=16 on all-linear, lr 0.001 cosine, 56 steps x 8`` (for records and tables)."""
    lora, training = {**LORA, **(lora or {})}, {**TRAINING, **(training or {})}
    targets = lora["target_modules"]
    targets = targets if isinstance(targets, str) else "+".join(targets)
    batch = training["per_device_train_batch_size"] * training["gradient_accumulation_steps"]
    return (f"r={lora['r']} on {targets}, lr {training['learning_rate']:g} {training['lr_scheduler_type']}, "
            f"{training['max_steps']} steps x {batch}")


def bnb_config(device: torch.device, **overrides: Any) -> Any:
    """The recipe's 4-bit ``BitsAndBytesConfig``, computing in :func:`~helpers.runtime.pick_compute_dtype`."""
    from transformers import BitsAndBytesConfig

    values = {**QUANTIZATION, "bnb_4bit_compute_dtype": pick_compute_dtype(device), **overrides}
    return BitsAndBytesConfig(**values)


def lora_config(**overrides: Any) -> Any:
    """The recipe's ``LoraConfig`` (``overrides`` replace single values, e.g. ``r=8``)."""
    from peft import LoraConfig

    return LoraConfig(**{**LORA, **overrides})


def sft_values(output_dir: str, device: torch.device) -> dict[str, Any]:
    """Every ``SFTConfig`` value of the recipe: :data:`TRAINING`, precision for ``device``, no checkpoints or reports.

    On a CPU it also sets ``use_cpu=True``, which is what lets ``accelerate launch`` run several CPU
    processes over gloo (the script in lesson 07, whose defaults these are).
    """
    return {
        **TRAINING,
        **sft_precision_flags(device),
        "output_dir": str(output_dir),
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": device.type == "cpu",
        "ddp_find_unused_parameters": False,  # every LoRA weight is used in every step
    }


def sft_config(output_dir: str, device: torch.device, **overrides: Any) -> Any:
    """The recipe's ``SFTConfig`` (:func:`sft_values`; ``overrides`` replace single values)."""
    from trl import SFTConfig

    return SFTConfig(**{**sft_values(output_dir, device), **overrides})


def keep_adapter_in_fp32(model: torch.nn.Module) -> int:
    """Cast the trainable (LoRA) weights back to float32 after ``SFTTrainer`` made them bf16; return how many.

    fp16 mixed precision (a T4) cannot unscale bf16 gradients, and on a CPU fp32 steps are faster.
    The adapter is tiny, so fp32 costs almost nothing. Lesson 04.
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    for parameter in trainable:
        parameter.data = parameter.data.float()
    return len(trainable)
