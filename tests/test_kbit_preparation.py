"""Lesson 04 skips peft's ``prepare_model_for_kbit_training`` and loses nothing on a CPU.

Lesson 02 shows what the helper does to a 4-bit book whose other layers were loaded in 16 bits: it upcasts them to
fp32. Lesson 04 loads those layers in the compute dtype from the start (fp32 on a CPU), lets ``get_peft_model``
freeze the book and keeps activation checkpointing off. Then the helper has nothing left to do: it upcasts no
tensor, adds no byte, and a fresh adapter's gradients are bit for bit the same with it and without it.
"""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

from helpers import models


@pytest.fixture
def tiny_llama_folder(tiny_llama, tmp_path):
    tiny_llama.save_pretrained(tmp_path)
    return tmp_path


def load_4bit(folder, dtype: torch.dtype):
    """The frozen book as lesson 04 loads it on a CPU (fp32 compute), the other layers in ``dtype``."""
    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                      bnb_4bit_compute_dtype=torch.float32)
    model = AutoModelForCausalLM.from_pretrained(folder, quantization_config=quantization, dtype=dtype,
                                                 device_map="cpu")
    layers = models.keep_4bit_layout_for_training(model)  # what helpers.models.load_base_model does on a CPU
    assert layers == 2 * 7, "every linear layer of both blocks should be a 4-bit Linear4bit"
    return model


def adapter_gradients(folder, *, prepare: bool) -> dict[str, torch.Tensor]:
    """Gradients of a fresh adapter (non-zero B, so that A's gradients are not zero too) after one backward pass."""
    book = load_4bit(folder, torch.float32)
    if prepare:
        book = prepare_model_for_kbit_training(book, use_gradient_checkpointing=False)
    torch.manual_seed(0)
    noted = get_peft_model(book, LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM")).train()
    with torch.no_grad():
        for name, parameter in noted.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.1)
    tokens = torch.arange(1, 17).unsqueeze(0)
    noted(input_ids=tokens, labels=tokens).loss.backward()
    return {name: p.grad.clone() for name, p in noted.named_parameters() if p.requires_grad}


def test_prepare_upcasts_nothing_when_the_book_is_loaded_in_fp32(tiny_llama_folder):
    book = load_4bit(tiny_llama_folder, torch.float32)
    dtypes, size = {n: p.dtype for n, p in book.named_parameters()}, book.get_memory_footprint()
    book = prepare_model_for_kbit_training(book, use_gradient_checkpointing=False)
    assert [n for n, p in book.named_parameters() if p.dtype != dtypes[n]] == []
    assert book.get_memory_footprint() == size
    assert not any(p.requires_grad for p in book.parameters())


def test_prepare_upcasts_a_book_loaded_in_16_bits(tiny_llama_folder):
    """The contrast lesson 02 shows: embeddings, norms and head go from fp16 to fp32."""
    book = load_4bit(tiny_llama_folder, torch.float16)
    size = book.get_memory_footprint()
    book = prepare_model_for_kbit_training(book, use_gradient_checkpointing=False)
    assert book.model.embed_tokens.weight.dtype == torch.float32
    assert book.get_memory_footprint() > size


def test_prepare_leaves_the_adapters_gradients_unchanged_in_fp32(tiny_llama_folder):
    plain = adapter_gradients(tiny_llama_folder, prepare=False)
    prepared = adapter_gradients(tiny_llama_folder, prepare=True)
    assert plain.keys() == prepared.keys() and len(plain) == 2 * 7 * 2  # A and B, 7 layers, 2 blocks
    assert all(plain[name].abs().sum() > 0 for name in plain), "every adapter tensor should get a gradient"
    for name in plain:
        torch.testing.assert_close(plain[name], prepared[name], rtol=0, atol=0, msg=name)
